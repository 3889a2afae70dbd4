"""buka_nb: send and analyse BUKA SMS, email and intelligent-voice campaigns from pandas.

``import buka_nb`` stays light: it never imports matplotlib or ipywidgets (see ``buka_nb.charts``
and ``buka_nb.widgets``), and heavier modules load on first use.
"""

from __future__ import annotations

from .catalog import catalog, lookup
from .credentials import Credentials
from .errors import (AccountError, ApiError, AuthError, BukaError, ClockSkewError, ConfigError,
                     InputError, NotSentError, OutcomeUnknownError, PlatformError, RateLimitedError,
                     TransportError)
from .schema import RESULT_COLUMNS, RESULT_SCHEMA
from .signing import sign

__version__ = "0.1.0"

__all__ = [
    "AccountError", "ApiError", "AuthError", "BukaError", "ClockSkewError", "ConfigError",
    "Credentials", "InputError", "NotSentError", "OutcomeUnknownError", "PlatformError",
    "RESULT_COLUMNS", "RESULT_SCHEMA", "RateLimitedError", "TransportError", "catalog", "lookup",
    "sign",
]
