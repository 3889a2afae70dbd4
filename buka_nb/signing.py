"""Pure request signing: ``Sign = MD5(apiKey + apiSecret + timestamp)`` and the auth headers.

No I/O and no clock reads unless the caller omits the timestamp.

>>> sign("bDqJFiq9", "7bz1lzh9", 1630468800)
'05d7a50893e22a5c4bb3216ae3396c7c'
"""

from __future__ import annotations

import hashlib
import hmac
import time

CONTENT_TYPE = "application/json;charset=UTF-8"
MAX_SKEW_SECONDS = 30 * 60


def sign(api_key: str, api_secret: str, timestamp: int | str) -> str:
    """Return the 32-character lowercase hex MD5 of key + secret + timestamp (seconds)."""
    raw = f"{api_key}{api_secret}{int(timestamp)}".encode("utf-8")
    return hashlib.md5(raw).hexdigest()


def auth_headers(api_key: str, api_secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The four headers every BUKA request carries.

    >>> sorted(auth_headers("k", "s", 1)) == ["Api-Key", "Content-Type", "Sign", "Timestamp"]
    True
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "Content-Type": CONTENT_TYPE,
        "Api-Key": api_key,
        "Timestamp": str(ts),
        "Sign": sign(api_key, api_secret, ts),
    }


def verify(api_key: str, api_secret: str, timestamp: str, signature: str) -> bool:
    """Constant-time, case-insensitive check of a Sign header (what the server does)."""
    try:
        expected = sign(api_key, api_secret, int(timestamp))
    except (TypeError, ValueError):
        return False
    return hmac.compare_digest(expected, (signature or "").strip().lower())
