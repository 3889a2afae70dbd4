"""The one exception hierarchy of buka_nb; every error a caller can catch is drawn here.

    BukaError                      root: catch this to catch anything buka_nb raises
    ├── ConfigError                missing or malformed credentials / settings
    ├── InputError                 a DataFrame or CSV that cannot be sent at all (names row, column, fix)
    ├── TransportError             the HTTP exchange itself failed
    │   ├── NotSentError           failed before the request went out: always safe to retry
    │   └── OutcomeUnknownError    the request went out but no answer came back: never resent blindly
    └── ApiError                   BUKA answered with a non-zero status code
        ├── AuthError              -1 / -2 / bad headers: every later request would fail the same way
        ├── AccountError           locked account, balance exhausted, unverified account
        ├── RateLimitedError       -15: back off and retry
        ├── ClockSkewError         -16 / -6 / -4 (per channel): re-sign with a fresh timestamp
        └── PlatformError          platform-side failures (-12, -18, ...)

Per-row outcomes of bulk sends are data in the result frame, not exceptions; only errors that
would make every later request fail the same way are raised out of a bulk send.
Messages never contain the API secret or a Sign value.
"""

from __future__ import annotations


class BukaError(Exception):
    """Root of every buka_nb error."""


class ConfigError(BukaError):
    """Credentials or settings are missing or malformed."""


class InputError(BukaError, ValueError):
    """Input that cannot be sent at all: an empty file, a missing column, an unreadable CSV."""


class TransportError(BukaError):
    """The HTTP exchange failed; ``path`` names the endpoint."""

    def __init__(self, message: str, *, path: str = "") -> None:
        super().__init__(message)
        self.path = path


class NotSentError(TransportError):
    """The request never left this machine (connect error, pool timeout): safe to retry."""


class OutcomeUnknownError(TransportError):
    """The request was sent but no answer arrived: BUKA may or may not have acted on it."""


class ApiError(BukaError):
    """BUKA answered with a failure status; carries the channel's code and reason."""

    def __init__(self, code: int, reason: str, *, channel: str = "sms", path: str = "",
                 category: str = "", retryable: bool = False) -> None:
        self.code = code
        self.reason = reason
        self.channel = channel
        self.path = path
        self.category = category
        self.retryable = retryable
        where = f" from {path}" if path else ""
        super().__init__(f"BUKA {channel} status {code}: {reason}{where}")


class AuthError(ApiError):
    """Authentication failed; every later request would fail the same way."""


class AccountError(ApiError):
    """The account cannot send: locked, out of balance or not verified."""


class RateLimitedError(ApiError):
    """The platform asked us to slow down (-15)."""


class ClockSkewError(ApiError):
    """The Timestamp header was outside the platform's 30-minute window."""


class PlatformError(ApiError):
    """A platform-side failure; retrying later may help."""
