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
from functools import lru_cache
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
def _prefix_tables() -> tuple[Any, Any, Any]:
    """Boolean tables by 1-, 2- and 3-digit prefix: is it a calling code? (codes are prefix-free)."""
    import numpy as np

    tables = tuple(np.zeros(10 ** k, dtype=bool) for k in (1, 2, 3))
    for c in country_codes():
        tables[len(c) - 1][int(c)] = True
    return tables


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


def _lengths(strings: Any) -> Any:
    """Byte lengths of a pyarrow string array as int64 (0 for null): read off its offsets."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.binary_length(strings), 0).to_numpy().astype("int64", copy=False)


def clean_numbers(values: pd.Series, *, column: str = "phone", strict: bool = False) -> CleanNumbers:
    """:func:`normalise_numbers` as positional arrays, with a fast path for what most exports hold.

    Text that is digits once spaces and a leading ``+``/``00`` are gone (``+447911123456``,
    ``0044 7911 123456``) is checked with a few vectorised Arrow passes and integer arithmetic;
    everything else (other separators, ``.0``, scientific notation, empties, numbers from Excel)
    takes every rule in :func:`_normalise_general`. Both give the same answer for the same text.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(values)
    code = np.zeros(n, dtype=np.int64)
    detail = np.full(n, None, dtype=object)
    value = np.zeros(n, dtype=np.int64)
    text = _arrow_text(values)
    if text is None:
        fast = np.zeros(n, dtype=bool)
        digits = trimmed = pa.nulls(n, pa.large_string())
    else:
        trimmed = pc.utf8_trim_whitespace(text)
        spaced = pc.replace_substring(trimmed, " ", "")
        # "^\+?(?:00)?" without a regex: strip every leading + and 0, then count what went
        plus = pc.utf8_ltrim(spaced, "+")
        digits = pc.utf8_ltrim(plus, "0")
        pluses = _lengths(spaced) - _lengths(plus)
        zeros = _lengths(plus) - _lengths(digits)
        fast = pc.fill_null(pc.ascii_is_decimal(digits), False).to_numpy(zero_copy_only=False) & (pluses <= 1)
    if fast.any():
        # one leading 0 left over (0, 000, +0...) is a national format; exactly 00 is the prefix
        leading_zero = fast & ((zeros == 1) | (zeros > 2))
        length = np.where(fast, _lengths(digits) + np.where(zeros > 2, zeros - 2, zeros == 1), 0)
        sized = fast & (length >= MIN_DIGITS) & (length <= MAX_DIGITS)
        plain = sized & ~leading_zero
        value[plain] = pc.cast(pc.filter(digits, pa.array(plain)), pa.int64()).to_numpy()
        # the first 1, 2 and 3 digits by integer division; a number of L digits is < 10^L
        t1, t2, t3 = _prefix_tables()
        scale = np.power(10, np.where(plain, length, MIN_DIGITS) - 3, dtype=np.int64)
        cc_ok = t1[value // (scale * 100)] | t2[value // (scale * 10)] | t3[value // scale]
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
        value[code != 0] = 0
    slow = np.flatnonzero(~fast)
    number = pc.if_else(pa.array(fast & (code == 0)), digits, pa.scalar(None, pa.large_string()))
    if len(slow):
        gnum, gcode, gdetail = _normalise_general(values.iloc[slow], column)
        code[slow] = gcode
        detail[slow] = gdetail
        spread = np.full(n, len(slow), dtype=np.int64)
        spread[slow] = np.arange(len(slow))
        gfull = pa.concat_arrays([gnum, pa.nulls(1, pa.large_string())]).take(pa.array(spread))
        number = pc.if_else(pa.array(fast), number, gfull)
        ok = slow[gcode == 0]
        if len(ok):
            value[ok] = pc.cast(gnum.filter(pa.array(gcode == 0)), pa.int64()).to_numpy()
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

    cleaned = pc.replace_substring_regex(text, r"\.0+$", "")
    cleaned = pc.replace_substring_regex(cleaned, _SEPARATORS, "")
    cleaned = pc.replace_substring_regex(cleaned, r"^\+?(?:00)?", "")  # a leading +, then a leading 00
    todo = code == 0
    digits_only = mask(pc.match_substring_regex(cleaned, "^[0-9]+$"))  # ASCII: BUKA refuses other digits
    length = pc.fill_null(pc.utf8_length(cleaned), 0).to_numpy()
    leading_zero = mask(pc.starts_with(cleaned, "0"))
    cc_ok = mask(pc.match_substring_regex(cleaned, _calling_code_prefix()))
    problems = [
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
            detail[bad] = [f"column '{column}' value {t or ''} {why}" for t in text.take(pa.array(bad)).to_pylist()]
        todo &= ~problem
    number = pc.if_else(pa.array(code == 0), cleaned, pa.scalar(None, pa.large_string()))
    return number, code, detail


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
