"""Pure normalisation of BUKA's three response envelopes, and the one mapper from a code to an error.

Style A ``{"status","reason",...fields}``, style B ``{"status","reason","data"}`` and style C
``{"code","msg","data"}``; ``status`` may be a string or a number and ``reason`` may carry stray
spaces (buka-api.md §1.3, §8 rows 1-3).

>>> env = normalise({"status": 0, "reason": " success", "balance": "9.5"})
>>> env.ok, env.code, env.reason, env.field("balance")
(True, 0, 'success', '9.5')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import errors
from .catalog import CLOCK_SKEW_CODE, RATE_LIMIT_CODE, lookup


@dataclass(frozen=True)
class Envelope:
    """A normalised response: ``ok``, integer ``code``, ``reason`` text, ``data`` and the raw body."""

    ok: bool
    code: int
    reason: str
    data: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    attempts: int = 1

    def field(self, name: str, default: Any = None) -> Any:
        """A style-A top-level field, falling back to the same key under ``data``."""
        if name in self.raw:
            return self.raw[name]
        if isinstance(self.data, dict):
            return self.data.get(name, default)
        return default

    def count(self, name: str) -> int:
        """A counter documented as a string (``"2"``) read as an int; missing → 0."""
        value = self.field(name)
        try:
            return int(value)
        except (TypeError, ValueError):
            return 0

    def items(self, name: str = "array") -> list[dict[str, Any]]:
        """A list of records from the top level or from ``data`` (SMS puts ``array`` at the top)."""
        value = self.field(name)
        if value is None and isinstance(self.data, list):
            value = self.data
        return list(value) if isinstance(value, list) else []


def normalise(body: Any) -> Envelope:
    """Normalise a decoded JSON body into an :class:`Envelope`. Non-dict bodies are code -18."""
    if not isinstance(body, dict):
        return Envelope(False, -18, "response body is not a JSON object", None, {"body": body})
    raw_code = body.get("status", body.get("code"))
    try:
        code = int(str(raw_code).strip())
    except (TypeError, ValueError):
        code = -18
    reason = str(body.get("reason", body.get("msg", "")) or "").strip()
    return Envelope(code == 0, code, reason, body.get("data"), body)


def error_for(channel: str, code: int, reason: str = "", *, path: str = "") -> errors.ApiError:
    """The typed :class:`~buka_nb.errors.ApiError` for a failure code of *channel*.

    >>> type(error_for("sms", -10)).__name__, type(error_for("email", -6)).__name__
    ('AccountError', 'ClockSkewError')
    """
    info = lookup(channel, code)
    reason = reason or info.reason
    if code == CLOCK_SKEW_CODE.get(channel):
        cls = errors.ClockSkewError
    elif code == RATE_LIMIT_CODE.get(channel):
        cls = errors.RateLimitedError
    elif info.category == "auth":
        cls = errors.AuthError
    elif info.category == "account":
        cls = errors.AccountError
    elif info.category == "platform":
        cls = errors.PlatformError
    else:
        cls = errors.ApiError
    return cls(code, reason, channel=channel, path=path, category=info.category, retryable=info.retryable)
