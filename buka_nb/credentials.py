"""Credentials: where the API key, secret and app ids come from, and how the secret stays hidden.

Sources, first match wins for each field: explicit arguments, environment variables, an optional
``.env`` file (read without touching ``os.environ``), and for the secret alone the system keyring
(service ``buka_nb``, user = the API key) when the ``keyring`` package is installed.

=====================  ===========================================
variable               meaning
=====================  ===========================================
``BUKA_API_KEY``       the account's API key (header ``Api-Key``)
``BUKA_API_SECRET``    the API secret (only ever used to sign)
``BUKA_SMS_APP_ID``    SMS application id
``BUKA_EMAIL_APP_ID``  email application id
``BUKA_VOICE_APP_ID``  intelligent-voice application id
``BUKA_BASE_URL``      API root, default ``https://api.onbuka.com/v3``
=====================  ===========================================
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError

DEFAULT_BASE_URL = "https://api.onbuka.com/v3"

ENV = {
    "api_key": "BUKA_API_KEY",
    "api_secret": "BUKA_API_SECRET",
    "sms_app_id": "BUKA_SMS_APP_ID",
    "email_app_id": "BUKA_EMAIL_APP_ID",
    "voice_app_id": "BUKA_VOICE_APP_ID",
    "base_url": "BUKA_BASE_URL",
}

#: The simulator's documented demo account, used when no credentials are configured.
DEMO = {
    "api_key": "demoKey1",
    "api_secret": "demoSecret1",
    "sms_app_id": "demoSms1",
    "email_app_id": "demoMail",
    "voice_app_id": "demoVoic",
}

_SECRETS: set[str] = set()
_SIGN_HEADER = re.compile(r"(?i)(['\"]?sign['\"]?\s*[:=]\s*['\"]?)[0-9a-f]{32}")
REDACTED = "********"


def register_secret(value: str) -> None:
    """Remember a secret so :func:`redact` and the log filter can scrub it everywhere."""
    if value and len(value) >= 4:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """Replace every known secret, and any ``Sign: <md5>`` pair, in *text*.

    >>> register_secret("s3cr3t-value")
    >>> redact("secret=s3cr3t-value Sign: 05d7a50893e22a5c4bb3216ae3396c7c")
    'secret=******** Sign: ********'
    """
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _SIGN_HEADER.sub(lambda m: m.group(1) + REDACTED, text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from the formatted message of every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def get_logger(name: str = "buka_nb") -> logging.Logger:
    """A buka_nb logger whose records are scrubbed of secrets before any handler sees them.

    (A filter on the parent ``buka_nb`` logger would not apply to records of its children.)
    """
    log = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in log.filters):
        log.addFilter(RedactingFilter())
    return log


logger = get_logger()
logger.addHandler(logging.NullHandler())


class Secret:
    """A string that never shows itself in a repr, str or format."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self):  # pickling would leak it into files
        raise TypeError("Secret values cannot be pickled")

    # copies stay in memory, and a Secret never changes: copy.copy / copy.deepcopy (and so
    # dataclasses.replace/asdict on credentials) share it rather than falling back on pickling
    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


@dataclass(frozen=True)
class Credentials:
    """An account's key, secret and per-channel app ids.

    >>> c = Credentials("bDqJFiq9", "7bz1lzh9", sms_app_id="4luaKsL2")
    >>> "7bz1lzh9" in repr(c)
    False
    """

    api_key: str
    api_secret: Secret
    sms_app_id: str = ""
    email_app_id: str = ""
    voice_app_id: str = ""
    base_url: str = DEFAULT_BASE_URL
    source: str = field(default="arguments", compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.api_secret, Secret):
            object.__setattr__(self, "api_secret", Secret(str(self.api_secret)))
        if not self.api_key:
            raise ConfigError(f"BUKA API key is empty: set {ENV['api_key']} or pass api_key=")
        if not self.api_secret.reveal():
            raise ConfigError(f"BUKA API secret is empty: set {ENV['api_secret']} or pass api_secret=")

    def __repr__(self) -> str:
        return (f"Credentials(api_key={self.api_key!r}, api_secret={self.api_secret!r}, "
                f"sms_app_id={self.sms_app_id!r}, email_app_id={self.email_app_id!r}, "
                f"voice_app_id={self.voice_app_id!r}, base_url={self.base_url!r}, source={self.source!r})")

    def app_id(self, channel: str) -> str:
        """The app id for ``sms``, ``email`` or ``voice``; a :class:`ConfigError` names the variable."""
        value = getattr(self, f"{channel}_app_id", "")
        if not value:
            raise ConfigError(f"No {channel} app id: set {ENV[channel + '_app_id']} or pass {channel}_app_id=")
        return value

    def with_base_url(self, base_url: str) -> Credentials:
        return replace(self, base_url=base_url.rstrip("/"))

    @classmethod
    def demo(cls, base_url: str = DEFAULT_BASE_URL) -> Credentials:
        """The simulator's demo account (see :data:`DEMO`)."""
        return cls(**DEMO, base_url=base_url, source="demo")

    @classmethod
    def from_env(cls, *, dotenv: str | Path | None = ".env", environ: dict[str, str] | None = None,
                 use_keyring: bool = True, **overrides: str) -> Credentials:
        """Build credentials from arguments, then the environment, then ``.env``, then the keyring.

        >>> c = Credentials.from_env(environ={"BUKA_API_KEY": "k1", "BUKA_API_SECRET": "s1xx"}, dotenv=None)
        >>> c.api_key, c.base_url
        ('k1', 'https://api.onbuka.com/v3')
        """
        env = dict(os.environ if environ is None else environ)
        file_values: dict[str, str] = {}
        if dotenv is not None and Path(dotenv).is_file():
            from dotenv import dotenv_values

            file_values = {k: v for k, v in dotenv_values(dotenv).items() if v is not None}
        values: dict[str, str] = {}
        sources: set[str] = set()
        for name, var in ENV.items():
            if overrides.get(name):
                values[name], _ = overrides[name], sources.add("arguments")
            elif env.get(var):
                values[name], _ = env[var], sources.add("environment")
            elif file_values.get(var):
                values[name], _ = file_values[var], sources.add(str(dotenv))
        if values.get("api_key") and not values.get("api_secret") and use_keyring:
            secret = _keyring_secret(values["api_key"])
            if secret:
                values["api_secret"] = secret
                sources.add("keyring")
        if not values.get("api_key") or not values.get("api_secret"):
            raise ConfigError(
                f"No BUKA credentials: set {ENV['api_key']} and {ENV['api_secret']} (environment or .env), "
                "store the secret with `keyring set buka_nb <api key>`, or use Credentials.demo() "
                "against the simulator")
        values.setdefault("base_url", DEFAULT_BASE_URL)
        values["base_url"] = values["base_url"].rstrip("/")
        return cls(**values, source="+".join(sorted(sources)))

    @classmethod
    def resolve(cls, credentials: Credentials | None = None, **kwargs) -> Credentials:
        """Return *credentials* when given, else :meth:`from_env`."""
        return credentials if credentials is not None else cls.from_env(**kwargs)


def _keyring_secret(api_key: str) -> str | None:
    try:
        import keyring
        return keyring.get_password("buka_nb", api_key)
    except Exception:  # no keyring package or no backend: the keyring is optional
        return None
