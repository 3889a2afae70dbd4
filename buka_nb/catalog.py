"""BUKA status-code catalogs for SMS, email and intelligent voice, shipped as package data.

Every code and reason comes from the platform's own tables (``shared/seeds``); each code also has a
category, whether a retry can help, and a suggested action.

>>> lookup("sms", -10).category
'account'
>>> lookup("email", -2).reason
'Repetitive submission'
"""

from __future__ import annotations

import csv
import pkgutil
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

CHANNELS = ("sms", "email", "voice")

#: Categories whose errors repeat for every later request, so a bulk send stops early on them.
FATAL_CATEGORIES = frozenset({"auth", "account", "config"})

#: The code each channel's API gives a recipient that appears twice (used for local de-duplication).
DUPLICATE_CODE = {"sms": -20, "email": -2, "voice": -53}

#: The code each channel uses for an expired Timestamp header.
CLOCK_SKEW_CODE = {"sms": -16, "email": -6, "voice": -4}

#: The code each channel uses for "query/send too frequently" (only SMS documents one).
RATE_LIMIT_CODE = {"sms": -15}


@dataclass(frozen=True)
class CodeInfo:
    """One status code of one channel."""

    channel: str
    code: int
    reason: str
    category: str
    retryable: bool
    action: str

    @property
    def ok(self) -> bool:
        return self.code == 0

    @property
    def fatal(self) -> bool:
        """True when every later request would fail the same way (stop the campaign)."""
        return self.category in FATAL_CATEGORIES and not self.retryable


@lru_cache(maxsize=1)
def _table() -> dict[tuple[str, int], CodeInfo]:
    # pkgutil reads it through the package's loader in ~0.05 ms; importlib.resources' first files()
    # call takes ~1.4 ms, importing its readers (a first campaign's cost)
    data = pkgutil.get_data("buka_nb", "data/codes.csv")
    if data is None:
        raise RuntimeError("buka_nb's status-code catalog (data/codes.csv) is missing from the install")
    text = data.decode("utf-8")
    table: dict[tuple[str, int], CodeInfo] = {}
    for row in csv.DictReader(text.splitlines()):
        info = CodeInfo(row["channel"], int(row["code"]), row["reason"], row["category"],
                        row["retryable"] == "true", row["action"])
        table[(info.channel, info.code)] = info
    return table


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    return channel


def lookup(channel: str, code: int | str) -> CodeInfo:
    """The catalog entry for *code* on *channel*; unknown codes get a generic ``unknown`` entry."""
    _check_channel(channel)
    code = int(code)
    info = _table().get((channel, code))
    if info is None:
        info = CodeInfo(channel, code, f"Unknown {channel} status {code}", "unknown", False,
                        "Look the code up with BUKA support; buka_nb does not know it.")
    return info


def is_known(channel: str, code: int | str) -> bool:
    """Whether *code* is in *channel*'s status-code table (``lookup`` falls back to a generic entry otherwise)."""
    return (_check_channel(channel), int(code)) in _table()


def codes(channel: str) -> list[CodeInfo]:
    """All entries of one channel, success first then descending."""
    _check_channel(channel)
    return sorted((i for (c, _), i in _table().items() if c == channel), key=lambda i: -i.code)


def catalog(channel: str | None = None) -> pd.DataFrame:
    """The catalog of one channel (or all three) as a DataFrame.

    >>> catalog("sms").loc[lambda d: d.code == -9, "reason"].item()
    'Numbers are abnormal'
    """
    import pandas as pd

    channels = CHANNELS if channel is None else (_check_channel(channel),)
    rows = [i.__dict__ | {"fatal": i.fatal} for ch in channels for i in codes(ch)]
    frame = pd.DataFrame(rows, columns=["channel", "code", "reason", "category", "retryable", "fatal", "action"])
    return frame.astype({"code": "int64", "retryable": "bool", "fatal": "bool"})
