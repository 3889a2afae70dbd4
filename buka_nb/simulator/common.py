"""Shared endpoint plumbing: the per-request :class:`Call`, envelope builders and parameter helpers.

Reasons come from :mod:`buka_nb.catalog` (the platform's own tables), so the simulator and the client
can never disagree about what a code means.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from ..catalog import lookup
from .accounts import Account
from .state import SimState, iso8


@dataclass
class Call:
    """One authenticated request, as the endpoint handlers see it."""

    state: SimState
    account: Account
    endpoint: str
    channel: str      # catalog channel: sms, email or voice (AI voice)
    method: str
    params: dict[str, Any]
    request_no: int


@dataclass(frozen=True)
class Route:
    """An endpoint: canonical name (path after /v3/), catalog channel, envelope style, handler."""

    name: str
    channel: str
    style: str        # "A" flat, "B" data
    handler: Callable[[Call], dict[str, Any]]
    methods: tuple[str, ...] = ("POST",)

    def error(self, code: int) -> dict[str, Any]:
        """The body for a failure *code* in this endpoint's envelope style."""
        return reply_b(self.channel, code) if self.style == "B" else reply(self.channel, code)


class RawJSON(str):
    """JSON text built by a handler for speed (sendSms's 1000-item array); spliced in verbatim."""


def encode(body: Any) -> bytes:
    """A response body as compact UTF-8 JSON, splicing in top-level :class:`RawJSON` values.

    >>> encode({"status": "0", "array": RawJSON('[{"a":1}]')})
    b'{"status":"0","array":[{"a":1}]}'
    """
    raw = {k: v for k, v in body.items() if isinstance(v, RawJSON)} if isinstance(body, dict) else {}
    if raw:  # a \x00 marks the slot: json writes it as \u0000, which no other value here contains
        body = {k: (f"\x00{k}" if k in raw else v) for k, v in body.items()}
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    for key, value in raw.items():
        text = text.replace(f'"\\u0000{key}"', value, 1)
    return text.encode("utf-8")


def reason_for(channel: str, code: int) -> str:
    return "success" if code == 0 else lookup(channel, code).reason


def reply(channel: str, code: int = 0, **fields: Any) -> dict[str, Any]:
    """Style A: ``{"status": "0", "reason": "success", <fields>}`` with a string status."""
    return {"status": str(code), "reason": reason_for(channel, code), **fields}


def reply_b(channel: str, code: int = 0, data: Any = None) -> dict[str, Any]:
    """Style B: ``{"status", "reason", "data"}``."""
    return {"status": str(code), "reason": reason_for(channel, code), "data": data}


#: The code each channel answers for a bad Api-Key/Sign, a stale Timestamp, a bad body, a crash.
AUTH_CODE = {"sms": -1, "email": -1, "voice": -1}
SKEW_CODE = {"sms": -16, "email": -6, "voice": -4}
PARAM_CODE = {"sms": -22, "email": -5, "voice": -27}
CRASH_CODE = {"sms": -18, "email": -23, "voice": -5}


def text(params: dict[str, Any], name: str) -> str | None:
    """A string parameter; scalars are coerced like a Java String field, containers are None (bad type)."""
    value = params.get(name)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def csv_list(value: str) -> list[str]:
    """Split a comma-separated BUKA list, stripping blanks around items (empty string → [])."""
    # The usual list has no blanks at all, and then needs no strip per item. split() finds blanks
    # in C with the same notion of whitespace as strip(): no blank iff it returns [value].
    if value.split(None, 1) == [value]:
        return value.split(",")
    if not value.strip():
        return []
    return [item.strip() for item in value.split(",")]


def integer(value: Any) -> int | None:
    """An int from an int or a digit string (Jackson-style coercion); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


def page(records: list[Any], current: Any, size: Any, default_size: int = 25) -> dict[str, Any]:
    """The BUKA page object ``{total, size, current, pages, records}``; sizes clamp to 1..100."""
    cur = integer(current) or 1
    size_ = integer(size) or default_size
    cur, size_ = max(cur, 1), min(max(size_, 1), 100)
    total = len(records)
    return {"total": total, "size": size_, "current": cur, "pages": -(-total // size_) if total else 0,
            "records": records[(cur - 1) * size_: cur * size_]}


def price_text(micros: int) -> str:
    """A price like BUKA writes it: at least two decimals, no trailing zeros beyond (``"0.02"``)."""
    whole, frac = divmod(abs(micros), 1_000_000)
    digits = f"{frac:06d}".rstrip("0")
    return f"{'-' if micros < 0 else ''}{whole}.{digits.ljust(2, '0')}"


def status_report(call: Call, channel: str, ids: list[str], id_key: str, recipient_key: str,
                  app_id: str | None = None) -> dict[str, Any]:
    """The getReport / getSendEmailRcd answer: per-id status ``0`` delivered, ``-1`` sending, ``1`` failed.

    Ids that are not this account's (or, with *app_id*, this app's) count as ``nofound``.
    """
    acct, state = call.account, call.state
    led = state.ledger.settle(channel)  # the delivery columns are read below
    now = state.now()
    counts = {"0": 0, "1": 0, "-1": 0}
    nofound = 0
    array = []
    for item_id in ids:
        row = state.ledger.find(channel, item_id)
        if row is None or led.api_key[row] != acct.api_key or (app_id is not None and led.app_id[row] != app_id):
            nofound += 1
            continue
        at = led.deliver_at[row]
        if at > now:
            status, received = "-1", ""
        else:
            status, received = ("0" if led.outcome[row] == "delivered" else "1"), iso8(at)
        counts[status] += 1
        array.append({id_key: item_id, recipient_key: led.recipient[row], "receiveTime": received, "status": status})
    return reply(channel, 0, success=str(counts["0"]), fail=str(counts["1"]), sending=str(counts["-1"]),
                 nofound=str(nofound), array=array)
