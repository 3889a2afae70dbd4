"""Pure, vectorised phone-number clean-up for whole columns: what Excel and humans do to numbers.

Turns ``+44 7911 123456``, ``0044-7911-123456``, ``447911123456.0`` and an exact
``4.47911123456E+11`` into ``447911123456`` (digits, country code first, no ``+``: BUKA's format),
and explains every number it cannot repair. Country calling codes come from the ``phonenumbers``
library's metadata; ``strict=True`` also runs its full per-number validity check on unique numbers.

>>> import pandas as pd
>>> r = normalise_numbers(pd.Series(["+44 7911 123456", "0044-7911-123456", 447911123456.0, "12", None]))
>>> list(r.number)
['447911123456', '447911123456', '447911123456', <NA>, <NA>]
>>> list(r.code)
[0, 0, 0, -9, -8]
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import pandas as pd

MIN_DIGITS, MAX_DIGITS = 7, 15
_SCI = r"^[+-]?\d+(?:[.,]\d+)?[eE][+]?\d+$"
#: What Python's ``\s`` matches (str.isspace()), spelled out as literal characters: pandas sends a
#: pattern with ``\s`` or ``\u`` escapes through Python's re one element at a time, this one to
#: pyarrow's vectorised RE2.
_SPACES = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
           "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_SEPARATORS = "[" + _SPACES + "\\-().\u00a0\u200b\u202f/'\"]"


class NormalisedNumbers(NamedTuple):
    """Aligned to the input: ``number`` (string or NA), ``code`` (0 ok, -8 empty, -9 abnormal), ``detail``."""

    number: pd.Series
    code: pd.Series
    detail: pd.Series


@lru_cache(maxsize=1)
def country_codes() -> frozenset[str]:
    """Every ITU country calling code, from ``phonenumbers``' metadata."""
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    return frozenset(str(c) for c, regions in COUNTRY_CODE_TO_REGION_CODE.items() if regions != ("001",) or c > 800)


@lru_cache(maxsize=1)
def _calling_code_prefix() -> str:
    """A regex matching text that starts with a country calling code: one RE2 pass instead of 3 slices and 3 isin."""
    return "^(?:" + "|".join(sorted(country_codes(), key=lambda c: (-len(c), c))) + ")"


def _sci_to_digits(text: str) -> str | None:
    """Expand ``4.47911123456E+11`` when no digit was lost; None when Excel rounded it away."""
    mantissa = text.split("e")[0].split("E")[0].replace(",", ".").lstrip("+")
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation:
        return None
    if not value.is_finite() or value.adjusted() > 20 or value != value.to_integral_value():
        return None  # no phone number has more than 15 digits
    digits = str(int(value))
    significant = mantissa.replace(".", "").lstrip("0")
    return digits if len(significant) >= len(digits.rstrip("0")) and len(significant) >= len(digits) else None


class CleanNumbers(NamedTuple):
    """:func:`clean_numbers`' positional arrays, aligned to the input.

    ``number``: the digits as a pyarrow string array, null where refused; ``value``: the same
    number as int64 (0 where refused: 15 digits always fit), for fast de-duplication; ``code``: 0
    ok, -8 empty, -9 abnormal; ``detail``: object array, None where the number is fine.
    """

    number: Any
    value: Any
    code: Any
    detail: Any


def normalise_numbers(values: pd.Series, *, column: str = "phone", strict: bool = False) -> NormalisedNumbers:
    """Clean a whole column of phone numbers; never raises for a bad row, explains it instead."""
    import pandas as pd

    clean = clean_numbers(values, column=column, strict=strict)
    index = values.index
    return NormalisedNumbers(pd.Series(pd.arrays.ArrowStringArray(clean.number), index=index).astype("string"),
                             pd.Series(clean.code, index=index, dtype="int64"),
                             pd.Series(clean.detail, index=index, dtype="string").fillna(""))


@lru_cache(maxsize=1)
def _calling_code_table() -> Any:
    """By a number's first 3 digits (100-999): does it start with a calling code? (codes are prefix-free)."""
    import numpy as np

    table = np.zeros(1000, dtype=bool)
    for code in country_codes():  # a code of k digits begins 10^(3-k) of the 3-digit prefixes
        span = 10 ** (3 - len(code))
        table[int(code) * span:(int(code) + 1) * span] = True
    return table


@lru_cache(maxsize=1)
def _powers_of_ten() -> Any:
    """10^k as int64 for k = 0..18: a lookup, cheaper than ``np.power``."""
    import numpy as np

    return 10 ** np.arange(19, dtype=np.int64)


def _arrow_text(values: pd.Series) -> Any:
    """The column as a pyarrow string array, or None when it is not text (numbers from Excel, mixed types)."""
    import pandas as pd
    import pyarrow as pa

    if not (isinstance(values.dtype, pd.StringDtype) or values.dtype == object):
        return None
    try:
        arr = pa.array(values.array if isinstance(values.dtype, pd.StringDtype) else values.to_numpy(),
                       from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if pa.types.is_null(arr.type):
        arr = arr.cast(pa.large_string())
    return arr if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) else None


def _utf8_buffers(strings: Any) -> tuple[Any, Any]:
    """A pyarrow string array's offsets (int64, from 0) and its UTF-8 bytes (a uint8 view, not a copy)."""
    import numpy as np
    import pyarrow as pa

    _, offsets, data = strings.buffers()
    width = np.int64 if pa.types.is_large_string(strings.type) else np.int32
    offsets = np.frombuffer(offsets, dtype=width)[strings.offset:strings.offset + len(strings) + 1]
    offsets = offsets.astype(np.int64, copy=False)
    data = np.zeros(0, dtype=np.uint8) if data is None else np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]]
    return (offsets - offsets[0] if offsets[0] else offsets), data


def _may_need_trim(strings: Any) -> bool:
    """Whether some text starts or ends with a byte that could be whitespace (up to ASCII space, or not ASCII)."""
    import numpy as np

    offsets, data = _utf8_buffers(strings)
    if not len(data):
        return False
    # an empty row reads a neighbour's first or last byte, which is looked at anyway
    edges = np.concatenate([data.take(offsets[:-1], mode="clip"), data.take(offsets[1:] - 1, mode="clip")])
    return bool(((edges <= ord(" ")) | (edges >= 0x80)).any())


@lru_cache(maxsize=1)
def _popcounts() -> Any:
    """How many bits are set in each byte value."""
    import numpy as np

    return np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(axis=1, dtype=np.uint8)


@lru_cache(maxsize=1)
def _low_bits() -> Any:
    """For k = 0..7, the byte with its k lowest bits set."""
    import numpy as np

    return ((1 << np.arange(8)) - 1).astype(np.uint8)


def _strings(offsets: Any, data: Any, where: Any) -> Any:
    """A large_string array over numpy offsets and a pyarrow buffer of bytes, null outside ``where``."""
    import numpy as np
    import pyarrow as pa

    return pa.Array.from_buffers(pa.large_string(), len(where), [pa.py_buffer(np.packbits(where, bitorder="little")),
                                                                 pa.py_buffer(offsets), data])


def _plain_digits(strings: Any) -> tuple[Any, Any, Any, Any]:
    """Read trimmed text the fast path can take, from its bytes: ``(fast, leading_zero, length, digits)``.

    ``fast``: valid text of ASCII digits and spaces with one optional leading ``+``, then 0, 1 or 2
    zeros before the first other digit (rarer shapes, like ``000`` or ``+ 44``, are left to the
    general path); ``leading_zero``: exactly one zero there (a national format); ``length``: how
    many digits are left once spaces, the ``+`` and a ``00`` are gone; ``digits(where)``: those
    digits as a large_string array, null outside ``where``.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(strings)
    offsets, data = _utf8_buffers(strings)
    if not len(data):
        nothing = np.zeros(n, dtype=bool)
        return nothing, nothing, np.zeros(n, dtype=np.int64), lambda where: pa.nulls(n, pa.large_string())
    # few, reused temporaries: a fresh array of this size costs its page faults on every call
    start = offsets[:-1]
    # each row's first 4 bytes, read as one uint32 where it starts (short and last rows byte by byte)
    tail = max(len(data) - 3, 0)
    head = np.zeros((n, 4), dtype=np.uint8)
    word = head.view("<u4")[:, 0]
    if tail:  # indexing, not take: take would first copy the strided view
        word[:] = np.ndarray(shape=(tail,), dtype="<u4", buffer=data, strides=(1,))[np.minimum(start, tail - 1)]
    short = np.flatnonzero((offsets[1:] - start < 4) | (start >= tail))
    for k in range(4):  # 0 past the end of the row
        at = start[short] + k
        head[short, k] = np.where(at < offsets[1:][short], data.take(at, mode="clip"), 0)
    plus = head[:, 0] == ord("+")
    with_plus = np.flatnonzero(plus)
    word[with_plus] >>= 8  # little-endian: the byte after the + comes first
    # what "^\+?(?:00)?" takes, and whether a 0 is left: a non-zero digit after 0, 1 or 2 zeros
    digit = head - ord("1") <= 8  # uint8 wraps below "1"
    zero = head == ord("0")
    one_zero = zero[:, 0] & digit[:, 1]
    two_zeros = zero[:, 0] & zero[:, 1] & digit[:, 2]
    fast = digit[:, 0] | one_zero | two_zeros
    if strings.null_count:
        fast &= strings.is_valid().to_numpy(zero_copy_only=False)
    # any byte but a digit, a space or that + leaves the row to the general path (few rows: few such bytes)
    space = data == ord(" ")
    odd = np.subtract(data, ord("0"))  # uint8 arithmetic: below "0" wraps round
    odd = np.greater(odd, 9, out=odd.view(bool))
    np.logical_xor(odd, space, out=odd)  # spaces are odd bytes too
    leading_plus = start[with_plus]
    odd[leading_plus] = False
    fast[np.searchsorted(offsets, np.flatnonzero(odd), side="right") - 1] = False
    # the digits: drop spaces, the + and the 00 of 00447911..., and copy the rest with Arrow's filter
    # (numpy's is slower on so irregular a mask); a row now starts after the bytes kept before it,
    # counted from the packed mask with a popcount table instead of a cumulative sum over every byte
    keep = np.logical_not(space, out=space)
    keep[leading_plus] = False
    at = np.flatnonzero(two_zeros)
    prefix = start[at] + plus[at]
    keep[prefix] = keep[prefix + 1] = False
    packed = np.packbits(keep, bitorder="little")
    bits = pa.Array.from_buffers(pa.bool_(), len(data), [None, pa.py_buffer(packed)])
    digits = pc.filter(pa.array(data), bits).buffers()[1]
    popcount = _popcounts()
    whole = np.zeros(len(packed) + 1, dtype=np.int64)
    np.cumsum(popcount[packed], out=whole[1:], dtype=np.int64)
    byte = offsets >> 3
    partial_byte = np.append(packed, 0)[byte]
    partial_byte &= _low_bits()[offsets & 7]
    shifted = whole[byte]
    shifted += popcount[partial_byte]  # uint8 into int64
    return fast, one_zero & fast, np.diff(shifted), partial(_strings, shifted, digits)


def clean_numbers(values: pd.Series, *, column: str = "phone", strict: bool = False) -> CleanNumbers:
    """:func:`normalise_numbers` as positional arrays, with a fast path for what most exports hold.

    Text that is digits once spaces and a leading ``+``/``00`` are gone (``+447911123456``,
    ``0044 7911 123456``) is read from the Arrow bytes with a few numpy passes (:func:`_plain_digits`)
    and checked with integer arithmetic; everything else (other separators, ``.0``, scientific
    notation, empties, numbers from Excel) takes every rule in :func:`_normalise_general`. Both give
    the same answer for the same text.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    code = np.zeros(n, dtype=np.int64)
    detail = np.full(n, None, dtype=object)
    value = np.zeros(n, dtype=np.int64)
    number = None
    text = _arrow_text(values)
    fast = np.zeros(n, dtype=bool)
    if text is not None:
        # trimming copies every string: skip it when no text can start or end with whitespace
        trimmed = pc.utf8_trim_whitespace(text) if _may_need_trim(text) else text
        fast, leading_zero, length, digits = _plain_digits(trimmed)
    if fast.any():
        sized = fast & (length >= MIN_DIGITS) & (length <= MAX_DIGITS)
        plain = sized & ~leading_zero
        parsed = pc.fill_null(pc.cast(digits(plain), pa.int64()), 0).to_numpy()  # null elsewhere: no overflow
        # the first 3 digits by integer division; a number of L digits is < 10^L
        first3 = parsed // _powers_of_ten()[np.where(plain, length, MIN_DIGITS) - 3]
        cc_ok = _calling_code_table()[first3]
        problems = [(fast & ~sized, "has the wrong length: BUKA needs "
                     f"{MIN_DIGITS}-{MAX_DIGITS} digits, country code first"),
                    (sized & leading_zero, "starts with 0 (a national format): write it with the country code, "
                     "e.g. 447911123456"),
                    (plain & ~cc_ok, "does not start with a known country calling code: put the country code first")]
        for mask, why in problems:  # exclusive masks, in the general path's order
            bad = np.flatnonzero(mask)
            if len(bad):
                code[bad] = -9
                detail[bad] = [f"column '{column}' value {t} {why}" for t in trimmed.take(pa.array(bad)).to_pylist()]
        good = plain & cc_ok
        value = np.where(good, parsed, 0)
        number = digits(good)
    slow = np.flatnonzero(~fast)
    if len(slow):
        gnum, gcode, gdetail = _normalise_general(values.iloc[slow], column)
        code[slow] = gcode
        detail[slow] = gdetail
        ok = slow[gcode == 0]
        if len(ok) or number is None:  # else the fast path's numbers are already null on these rows
            spread = np.full(n, len(slow), dtype=np.int64)
            spread[slow] = np.arange(len(slow))
            gfull = pa.concat_arrays([gnum, pa.nulls(1, pa.large_string())]).take(pa.array(spread))
            number = gfull if number is None else pc.if_else(pa.array(fast), number, gfull)
        if len(ok):
            value[ok] = pc.cast(gnum.filter(pa.array(gcode == 0)), pa.int64()).to_numpy()
    if number is None:
        number = pa.nulls(n, pa.large_string())
    if strict and (code == 0).any():
        ok = np.flatnonzero(code == 0)
        shown = number.take(pa.array(ok))
        invalid = _strictly_invalid(pd.Series(pd.arrays.ArrowStringArray(shown))).to_numpy()
        bad = ok[invalid]
        code[bad], value[bad] = -9, 0
        detail[bad] = [f"column '{column}' value {t} is not a valid number for its country (phonenumbers)"
                       for t in shown.filter(pa.array(invalid)).to_pylist()]
        number = pc.if_else(pa.array(code == 0), number, pa.scalar(None, pa.large_string()))
    return CleanNumbers(number, value, code, detail)


def _normalise_general(values: pd.Series, column: str) -> tuple[Any, Any, Any]:
    """Every rule, for any input (numbers from Excel, separators, scientific notation): (number, code, detail).

    Arrow compute throughout: these are usually the few odd rows of a column, where pandas' per-call
    overhead would cost more than the work.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    if pd.api.types.is_float_dtype(values.dtype) or pd.api.types.is_integer_dtype(values.dtype):
        numeric = pd.to_numeric(values, errors="coerce").set_axis(pd.RangeIndex(n))
        whole = numeric.notna() & np.isfinite(numeric) & (numeric == np.floor(numeric))
        as_text = pd.Series(pd.NA, index=numeric.index, dtype="string")
        as_text[whole] = numeric[whole].astype("int64").astype("string")
        as_text[numeric.notna() & ~whole] = numeric[numeric.notna() & ~whole].astype("string")
    else:
        as_text = values.astype("string")
    text = pa.array(as_text.array).cast(pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = pc.utf8_trim_whitespace(text)
    code = np.zeros(n, dtype=np.int64)
    detail = np.full(n, None, dtype=object)

    def mask(values: Any) -> Any:
        return pc.fill_null(values, False).to_numpy(zero_copy_only=False)

    empty = mask(pc.or_(pc.equal(text, ""), pc.is_in(pc.utf8_lower(text), pa.array(["nan", "none", "null", "#n/a"]))))
    empty |= mask(pc.is_null(text))
    code[empty] = -8
    detail[empty] = f"column '{column}' is empty: fill in the phone number or drop the row"

    # Python's re, as before: its \\d also takes other scripts' digits (refused later as abnormal anyway)
    maybe = np.flatnonzero(~empty & mask(pc.match_substring_regex(text, "[eE]")))
    sci_re = re.compile(_SCI)
    candidates = text.take(pa.array(maybe)).to_pylist()
    at = np.array([i for i, t in zip(maybe, candidates) if sci_re.match(t)], dtype=np.int64)
    if len(at):
        written = text.take(pa.array(at)).to_pylist()
        expanded = [_sci_to_digits(t) for t in written]
        for i, t, e in zip(at, written, expanded):
            if e is None:
                code[i] = -9
                detail[i] = (f"column '{column}' holds {t} in scientific notation and Excel dropped digits: "
                             "format the column as Text in the spreadsheet and export the CSV again")
        spread = np.arange(n)
        spread[at] = n + np.arange(len(at))
        text = pa.concat_arrays([text, pa.array(expanded, pa.large_string())]).take(pa.array(spread))

    # "+44 (0) 20 7946 0000", "+44 (020) 7946 0000": a 0 in brackets after the country code is the trunk
    # prefix international dialling drops, except where it does not (Italy keeps it): phonenumbers knows
    # each country's rule. Only brackets, separators and digits: it would also turn letters into digits.
    written = text  # for the details: what the row holds, not what it was read as
    bracketed = np.flatnonzero((code == 0) & mask(pc.match_substring_regex(text, _BRACKETED_INTERNATIONAL)))
    if len(bracketed):
        spread = np.arange(n)
        spread[bracketed] = n + np.arange(len(bracketed))
        dialled = [_dialled(t) for t in text.take(pa.array(bracketed)).to_pylist()]
        text = pa.concat_arrays([text, pa.array(dialled, pa.large_string())]).take(pa.array(spread))

    cleaned = pc.replace_substring_regex(text, r"\.0+$", "")
    decimal = mask(pc.match_substring_regex(cleaned, r"^\+?[0-9]+\.[0-9]+$"))  # 447911123456.5: a number, not a phone
    cleaned = pc.replace_substring_regex(cleaned, _SEPARATORS, "")
    cleaned = pc.replace_substring_regex(cleaned, r"^\+?(?:00)?", "")  # a leading +, then a leading 00
    todo = code == 0
    digits_only = mask(pc.match_substring_regex(cleaned, "^[0-9]+$"))  # ASCII: BUKA refuses other digits
    length = pc.fill_null(pc.utf8_length(cleaned), 0).to_numpy()
    leading_zero = mask(pc.starts_with(cleaned, "0"))
    cc_ok = mask(pc.match_substring_regex(cleaned, _calling_code_prefix()))
    problems = [
        (decimal, "is a decimal number, not a phone number: format the column as Text in the spreadsheet "
                  "and export the CSV again, or correct the number"),
        (~digits_only, "has characters other than digits: keep only digits, with an optional leading + or 00"),
        (digits_only & ((length < MIN_DIGITS) | (length > MAX_DIGITS)),
         f"has the wrong length: BUKA needs {MIN_DIGITS}-{MAX_DIGITS} digits, country code first"),
        (digits_only & leading_zero,
         "starts with 0 (a national format): write it with the country code, e.g. 447911123456"),
        (digits_only & ~leading_zero & ~cc_ok, "does not start with a known country calling code: put the country code first"),
    ]
    for problem, why in problems:  # the first matching problem wins
        bad = np.flatnonzero(problem & todo)
        if len(bad):
            code[bad] = -9
            detail[bad] = [f"column '{column}' value {t or ''} {why}" for t in written.take(pa.array(bad)).to_pylist()]
        todo &= ~problem
    number = pc.if_else(pa.array(code == 0), cleaned, pa.scalar(None, pa.large_string()))
    return number, code, detail


#: International text with brackets: a leading ``+``, ``00`` or digit, then only separators and digits.
_BRACKETED_INTERNATIONAL = r"^(?:\+|00|[1-9])[0-9 \-./]*\([0-9 \-./()]*$"


def _dialled(text: str) -> str:
    """*text* (international, with brackets) as E.164 digits by phonenumbers' rules, or unchanged.

    >>> _dialled("+44 (0) 7911 123456"), _dialled("+39 (06) 1234 5678"), _dialled("+1 (415) 555-2671")
    ('447911123456', '390612345678', '14155552671')
    """
    import phonenumbers

    written = "+" + text[2:] if text.startswith("00") else text if text.startswith("+") else "+" + text
    try:
        number = phonenumbers.parse(written, None)
    except phonenumbers.NumberParseException:
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def _strictly_invalid(numbers: pd.Series) -> pd.Series:
    import phonenumbers

    def invalid(n: str) -> bool:
        try:
            return not phonenumbers.is_valid_number(phonenumbers.parse("+" + n))
        except phonenumbers.NumberParseException:
            return True

    unique = {n: invalid(n) for n in numbers.unique()}
    return numbers.map(unique).astype(bool)


def region_of(numbers: pd.Series) -> pd.Series:
    """ISO region (``GB``, ``IN`` ...) of each normalised number from its calling code, vectorised.

    >>> import pandas as pd
    >>> list(region_of(pd.Series(["447911123456", "919876543210", "bad"])))
    ['GB', 'IN', <NA>]
    """
    import pandas as pd
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    out = pd.Series(pd.NA, index=numbers.index, dtype="string")
    text = numbers.astype("string")
    for width in (3, 2, 1):  # longest calling code first; codes are prefix-free
        prefix = text.str.slice(0, width)
        lookup = {p: COUNTRY_CODE_TO_REGION_CODE.get(int(p), (None,))[0]
                  for p in prefix.dropna().unique() if p.isdigit() and len(p) == width}
        found = prefix.map(lookup)
        fill = out.isna() & found.notna()
        out[fill] = found[fill]
    return out
