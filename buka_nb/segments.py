"""Pure SMS length rules: GSM-7 or UCS-2 encoding and how many billed segments a text needs.

>>> sms_segments("hello")
('GSM-7', 1)
>>> sms_segments("x" * 161)
('GSM-7', 2)
>>> sms_segments("héllo 😀")
('UCS-2', 1)
"""

from __future__ import annotations

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

#: BUKA's documented maximum content length, in characters.
MAX_CONTENT_CHARS = 1024


def encoding(text: str) -> str:
    """``GSM-7`` when every character is in the GSM 03.38 alphabet, else ``UCS-2``."""
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENDED for c in text) else "UCS-2"


def sms_segments(text: str) -> tuple[str, int]:
    """The encoding and the number of concatenated SMS segments for *text*."""
    enc = encoding(text)
    if enc == "GSM-7":
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single, multi = 160, 153
    else:
        # UTF-16 code units: characters outside the BMP (most emoji) take two.
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if units <= single:
        return enc, 1
    return enc, -(-units // multi)
