"""Pure simulator configuration: faults, scenarios and the delivery model, with their text specs.

Nothing here does I/O; the server asks :class:`FaultPlan` which faults fire for a request and the
state asks :class:`DeliveryModel` what happens to a message.

Fault spec (``--fault SPEC``, or a dict in ``POST /_sim/config {"faults": [...]}``)::

    KIND[=VALUE][,endpoint=GLOB][,p=PROBABILITY][,n=N[+N...]]

=================  =========================================================================
KIND               effect
=================  =========================================================================
``http500``        answer HTTP 500 (also ``http502``, ``http503``, or ``http=504``), nothing done
``reset_before``   close the connection with a TCP reset before reading the body: nothing done
``reset_after``    process the request (it is in the ledger), then reset without answering
``latency=S``      answer S seconds after the request arrives (default 0.15); combines with other faults
``slow=S``         process, then wait S seconds (default 30) before answering: a client timeout
``throttle``       answer the channel's "too frequent" code (SMS -15, email -22, AI voice -47)
``skew``           answer the channel's clock-skew code (SMS -16, email -6, AI voice -4)
``platform``       answer the channel's platform failure (SMS -18, email -23, AI voice -5)
``code=C``         answer business status C (e.g. ``code=-12``) in the endpoint's envelope
``rate=R``         more than R requests per wall-clock second on matching endpoints → throttle
=================  =========================================================================

``endpoint`` is a case-insensitive glob on the path after ``/v3/`` (``sendSms``, ``email/*``,
``AiVoice/taskAdd``; default ``*``). ``n`` lists 1-based request numbers counted per fault over the
requests its endpoint matches ("the 3rd sendSms call" is ``endpoint=sendSms,n=3``); ``p`` fires with
that probability, decided by a hash of (seed, fault index, request number) so runs are reproducible.
Without ``n`` or ``p`` the fault fires on every matching request.

Scenario spec (``--scenario SPEC`` or dicts under ``"scenarios"``)::

    REGEX=ACTION[:ARG][@CHANNEL]

ACTION is ``code:C`` (the whole request fails with C when any recipient matches), ``reject`` (that
recipient is refused individually), ``fail:REASON`` (accepted, delivery fails with REASON),
``deliver`` (accepted and delivered), ``pending`` (never final). In dict form, ``field="content"``
matches the message text instead of the recipient.

>>> Fault.parse("http500,endpoint=sendSms,n=3+5")
Fault(kind='http', endpoint='sendSms', probability=0.0, requests=(3, 5), value=500)
>>> Scenario.parse("^9199=fail:UNDELIV@sms")
Scenario(match='^9199', action='fail', code=None, reason='UNDELIV', channel='sms', field='recipient', delay=None)
"""

from __future__ import annotations

import fnmatch
import re
import zlib
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

#: Fault kinds that end a request (at most one fires); latency is additive and slow delays the answer.
TERMINAL = ("http", "reset_before", "throttle", "skew", "platform", "code", "rate")
KINDS = TERMINAL + ("reset_after", "latency", "slow")
DEFAULT_VALUE = {"latency": 0.15, "slow": 30.0, "http": 500}

#: Per-channel status codes for the named business faults (seed status tables).
CHANNEL_CODES = {
    "throttle": {"sms": -15, "email": -22, "voice": -47},
    "skew": {"sms": -16, "email": -6, "voice": -4},
    "platform": {"sms": -18, "email": -23, "voice": -5},
}


@dataclass(frozen=True)
class Fault:
    """One injected fault; see the module docstring for the kinds."""

    kind: str
    endpoint: str = "*"
    probability: float = 0.0
    requests: tuple[int, ...] = ()
    value: float | int | None = None

    def __post_init__(self) -> None:
        kind = self.kind
        match = re.fullmatch(r"http(\d{3})", kind)
        if match:  # "http500" is shorthand for kind "http" with value 500
            object.__setattr__(self, "kind", "http")
            object.__setattr__(self, "value", int(match.group(1)))
        elif kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}: use one of {', '.join(KINDS)} or httpNNN")
        if self.value is None and self.kind in DEFAULT_VALUE:
            object.__setattr__(self, "value", DEFAULT_VALUE[self.kind])
        if self.kind in ("code", "rate") and self.value is None:
            raise ValueError(f"fault {self.kind!r} needs a value, e.g. {self.kind}=-12")
        object.__setattr__(self, "requests", tuple(int(n) for n in self.requests))
        if not 0.0 <= float(self.probability) <= 1.0:
            raise ValueError("fault probability must be within 0..1")

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """Parse ``KIND[=VALUE][,endpoint=GLOB][,p=P][,n=N+N]``; ``n=`` may also repeat."""
        head, *pairs = [part.strip() for part in spec.split(",") if part.strip()]
        kind, _, raw = head.partition("=")
        kwargs: dict[str, Any] = {"kind": kind.strip()}
        if raw:
            kwargs["value"] = _number(raw)
        requests: list[int] = []
        for pair in pairs:
            key, _, val = pair.partition("=")
            key = key.strip().lower()
            if key in ("endpoint", "path", "e"):
                kwargs["endpoint"] = val.strip()
            elif key in ("p", "probability"):
                kwargs["probability"] = float(val)
            elif key in ("n", "at", "requests"):
                requests += [int(x) for x in re.split(r"[+;/ ]", val) if x]
            else:
                raise ValueError(f"unknown fault option {key!r} in {spec!r}")
        kwargs["requests"] = tuple(requests)
        return cls(**kwargs)

    @classmethod
    def coerce(cls, value: Fault | str | dict) -> Fault:
        if isinstance(value, Fault):
            return value
        if isinstance(value, str):
            return cls.parse(value)
        data = dict(value)
        data["requests"] = tuple(data.get("requests") or ())
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"requests": list(self.requests)}

    def code_for(self, channel: str) -> int:
        """The business status code a code-style fault answers on *channel*."""
        if self.kind in CHANNEL_CODES:
            return CHANNEL_CODES[self.kind][channel]
        if self.kind == "rate":
            return CHANNEL_CODES["throttle"][channel]
        return int(self.value)  # kind "code"


class FaultPlan:
    """The active faults plus the per-fault request counters that make "the n-th call" exact."""

    def __init__(self, faults: list[Fault], seed: int = 0) -> None:
        self.faults = list(faults)
        self.seed = seed
        self._counts = [0] * len(self.faults)
        self._recent: list[deque[float]] = [deque() for _ in self.faults]

    def pick(self, endpoint: str, wall_now: float) -> list[Fault]:
        """Faults firing for this request, in configuration order. Call once per request, under a lock."""
        fired: list[Fault] = []
        for i, fault in enumerate(self.faults):
            if not _endpoint_matches(fault.endpoint, endpoint):
                continue
            self._counts[i] += 1
            n = self._counts[i]
            if fault.kind == "rate":
                # A one-second sliding window of accepted requests; refused ones do not count.
                window = self._recent[i]
                while window and wall_now - window[0] >= 1.0:
                    window.popleft()
                if len(window) >= float(fault.value):
                    fired.append(fault)
                else:
                    window.append(wall_now)
            elif fault.requests:
                if n in fault.requests:
                    fired.append(fault)
            elif fault.probability:
                if unit_hash(f"{self.seed}:{i}:{n}") < fault.probability:
                    fired.append(fault)
            else:
                fired.append(fault)
        return fired


def _endpoint_matches(pattern: str, endpoint: str) -> bool:
    pattern = pattern.strip().strip("/") or "*"
    return fnmatch.fnmatchcase(endpoint.lower(), pattern.lower())


def _number(text: str) -> float | int:
    text = text.strip()
    try:
        return int(text)
    except ValueError:
        return float(text)


def unit_hash(text: str) -> float:
    """A reproducible number in [0, 1) from *text* (CRC-32; Python's hash() is salted per process)."""
    return zlib.crc32(text.encode("utf-8")) / 4294967296.0


SCENARIO_ACTIONS = ("code", "reject", "fail", "deliver", "pending")


@dataclass(frozen=True)
class Scenario:
    """Force an outcome for recipients (or contents) matching a regular expression."""

    match: str
    action: str
    code: int | None = None
    reason: str = ""
    channel: str = "*"
    field: str = "recipient"
    delay: float | None = None

    def __post_init__(self) -> None:
        if self.action not in SCENARIO_ACTIONS:
            raise ValueError(f"unknown scenario action {self.action!r}: use one of {', '.join(SCENARIO_ACTIONS)}")
        if self.action == "code" and self.code is None:
            raise ValueError("scenario action 'code' needs a code, e.g. 'code:-19'")
        if self.field not in ("recipient", "content"):
            raise ValueError("scenario field must be 'recipient' or 'content'")
        re.compile(self.match)

    @classmethod
    def parse(cls, spec: str) -> Scenario:
        """Parse ``REGEX=ACTION[:ARG][@CHANNEL]`` (split at the last ``=``)."""
        regex, sep, rest = spec.rpartition("=")
        if not sep:
            raise ValueError(f"scenario {spec!r} must look like REGEX=ACTION[:ARG][@CHANNEL]")
        rest, _, channel = rest.partition("@")
        action, _, arg = rest.partition(":")
        kwargs: dict[str, Any] = {"match": regex, "action": action.strip(), "channel": channel.strip() or "*"}
        if kwargs["action"] == "code":
            kwargs["code"] = int(arg)
        elif arg:
            kwargs["reason"] = arg
        return cls(**kwargs)

    @classmethod
    def coerce(cls, value: Scenario | str | dict) -> Scenario:
        if isinstance(value, Scenario):
            return value
        return cls.parse(value) if isinstance(value, str) else cls(**value)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def applies(self, channel: str) -> bool:
        return self.channel in ("*", channel)


@dataclass(frozen=True)
class DeliveryModel:
    """The seeded outcome mix. Shares are fractions of all accepted messages; slow ones are delivered late.

    ``fail_reasons`` maps each channel to (reason, weight) pairs for failed messages.
    """

    delivered: float = 0.90
    failed: float = 0.08
    slow: float = 0.02
    slow_factor: float = 5.0  # a slow message takes up to this many times the maximum report delay
    fail_reasons: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=lambda: {
        "sms": (("UNDELIV", 0.5), ("EXPIRED", 0.2), ("REJECTD", 0.2), ("UNKNOWN", 0.1)),
        "email": (("HARD_BOUNCE", 0.5), ("SOFT_BOUNCE", 0.2), ("SPAM_REJECTED", 0.2), ("MAILBOX_FULL", 0.1)),
    })

    @classmethod
    def coerce(cls, value: DeliveryModel | dict | None) -> DeliveryModel:
        if value is None:
            return cls()
        if isinstance(value, DeliveryModel):
            return value
        data = dict(value)
        if "fail_reasons" in data:
            data["fail_reasons"] = {ch: tuple(tuple(p) for p in pairs) for ch, pairs in data["fail_reasons"].items()}
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"fail_reasons": {ch: [list(p) for p in pairs]
                                                for ch, pairs in self.fail_reasons.items()}}

    def fail_thresholds(self, channel: str) -> tuple[tuple[float, str], ...]:
        """(cumulative share, reason) per failure reason of *channel*, for :meth:`fail_reason`."""
        pairs = self.fail_reasons.get(channel) or (("FAILED", 1.0),)
        total = sum(w for _, w in pairs)
        acc = 0.0
        out = []
        for reason, weight in pairs:
            acc += weight / total
            out.append((acc, reason))
        return tuple(out)

    def fail_reason(self, channel: str, u: float,
                    thresholds: tuple[tuple[float, str], ...] | None = None) -> str:
        """The failure reason for a uniform draw *u* in [0, 1).

        *thresholds* (:meth:`fail_thresholds`) may be passed in by a caller drawing many messages.
        """
        thresholds = thresholds or self.fail_thresholds(channel)
        for acc, reason in thresholds:
            if u < acc:
                return reason
        return thresholds[-1][1]
