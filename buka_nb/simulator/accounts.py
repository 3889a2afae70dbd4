"""Simulated accounts and money: credentials, per-channel app ids, balance, prices and limits.

Money is kept in integer micro-units so 10^6 charges of 0.01 add up exactly; :func:`money` writes
it the way BUKA does (``"1000.000000"``).
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..credentials import DEMO, ENV

MICROS = 1_000_000


@dataclass
class Account:
    """One simulated BUKA account: credentials, per-channel app ids, money, prices and limits."""

    api_key: str
    api_secret: str
    sms_app_id: str = ""
    email_app_id: str = ""
    voice_app_id: str = ""
    balance: float = 1000.0
    gift: float = 0.0
    credit: float = 0.0
    locked: bool = False
    sms_price: float = 0.01      # per billed segment
    email_price: float = 0.001   # per accepted address
    voice_price: float = 0.05    # per started minute of an answered AI call
    currency: str = "EUR"
    max_robots: int = 10
    senders: tuple[str, ...] = ("noreply@demo.buka.test",)
    balance_micros: int = field(default=0, repr=False)
    gift_micros: int = field(default=0, repr=False)
    credit_micros: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        self.senders = tuple(s.lower() for s in self.senders)
        self.set_money(self.balance, self.gift, self.credit)

    @classmethod
    def coerce(cls, value: Account | dict) -> Account:
        if isinstance(value, Account):
            return copy.deepcopy(value)
        data = {k: v for k, v in dict(value).items() if not k.endswith("_micros")}
        if "senders" in data:
            data["senders"] = tuple(data["senders"])
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if not k.endswith("_micros")}
        data.update(balance=self.balance_micros / MICROS, gift=self.gift_micros / MICROS,
                    credit=self.credit_micros / MICROS, senders=list(self.senders))
        return data

    def set_money(self, balance: float | None = None, gift: float | None = None,
                  credit: float | None = None) -> None:
        if balance is not None:
            self.balance_micros = round(float(balance) * MICROS)
        if gift is not None:
            self.gift_micros = round(float(gift) * MICROS)
        if credit is not None:
            self.credit_micros = round(float(credit) * MICROS)

    def spendable(self) -> int:
        return self.balance_micros + self.gift_micros + self.credit_micros

    def charge(self, micros: int) -> bool:
        """Take *micros* (gift first, then balance down to -credit); False and nothing taken if short."""
        if micros > self.spendable():
            return False
        from_gift = min(self.gift_micros, micros)
        self.gift_micros -= from_gift
        self.balance_micros -= micros - from_gift
        return True

    def app_id(self, channel: str) -> str:
        return getattr(self, f"{channel}_app_id")


def default_accounts(environ: dict[str, str] | None = None) -> tuple[list[Account], str]:
    """Accounts from the client's environment variables if key and secret are set, else the demo one.

    Returns the accounts and their source (``environment`` or ``demo``).
    """
    env = os.environ if environ is None else environ
    if env.get(ENV["api_key"]) and env.get(ENV["api_secret"]):
        ids = {name: env.get(ENV[name]) or DEMO[name] for name in ("sms_app_id", "email_app_id", "voice_app_id")}
        return [Account(env[ENV["api_key"]], env[ENV["api_secret"]], **ids)], "environment"
    return [Account(**DEMO)], "demo"


def money(micros: int) -> str:
    """BUKA money text with six decimals, e.g. ``"1000.000000"``."""
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(micros), MICROS)
    return f"{sign}{whole}.{frac:06d}"
