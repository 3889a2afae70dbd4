"""Reading recipient CSVs the way real exports arrive: BOMs, ``;`` delimiters, numbers kept as text.

Every column is read as text, so ``00447911123456`` keeps its zeros and Excel's ``4.47E+11`` is
seen exactly as written; problems become an :class:`~buka_nb.errors.InputError` that says what is
wrong with the file and how to fix it, never a pandas traceback.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;\t|"


def detect_encoding(head: bytes, path: Path) -> str:
    """``utf-8-sig`` or ``utf-16``; anything else gets an error that names the fix."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if len(head) < _SNIFF_BYTES or exc.start < len(head) - 4:  # not a character cut at the sniff boundary
            raise InputError(
                f"{path.name} is not UTF-8 (byte 0x{head[exc.start]:02x} at offset {exc.start}): save it as "
                "'CSV UTF-8' in Excel, or pass encoding='cp1252' (CLI: --encoding cp1252) if that is "
                "what it is") from None
    return "utf-8-sig"


def sniff(path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """Return ``(encoding, delimiter)`` for a CSV file, checking it is not empty."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist: check the path")
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip(b"\xef\xbb\xbf \r\n\t"):
        raise InputError(f"{path.name} is empty: it needs a header row (e.g. 'phone') and one row per recipient")
    encoding = encoding or detect_encoding(head, path)
    text = head.decode(encoding, errors="replace")
    lines = text.split("\n", 1)[0].splitlines()  # the header line, without splitting all 64 kB
    return encoding, header_delimiter(lines[0] if lines else "")


def header_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: one of ``, ; tab |``, else ``,``.

    A header holding exactly one of them and no quotes is split by it: what :class:`csv.Sniffer`
    answers then too, without compiling its patterns (~1 ms, a first campaign's cost). Anything
    else goes to the sniffer.

    >>> header_delimiter("phone;name"), header_delimiter("phone"), header_delimiter('"a,b";c')
    (';', ',', ';')
    """
    present = [d for d in _DELIMITERS if d in header]
    if len(present) == 1 and '"' not in header and "'" not in header:
        return present[0]
    try:
        return csv.Sniffer().sniff(header, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        return max(_DELIMITERS, key=header.count) if present else ","


def _reader_kwargs(encoding: str, delimiter: str) -> dict:
    return dict(sep=delimiter, encoding=encoding, dtype=str, keep_default_na=False, na_values=[""],
                skipinitialspace=False, on_bad_lines="error", engine="c")


def read_recipients(path: str | Path, *, encoding: str | None = None, required: tuple[str, ...] = ()) -> pd.DataFrame:
    """Read a whole recipient CSV with every column as text.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "r.csv"
    >>> _ = p.write_bytes("\\ufeffphone;name\\n+44 7911 123456;Ann\\n".encode())
    >>> read_recipients(p).to_dict("records")
    [{'phone': '+44 7911 123456', 'name': 'Ann'}]
    """
    import pandas as pd

    path = Path(path)
    enc, delim = sniff(path, encoding)
    try:
        frame = pd.read_csv(path, **_reader_kwargs(enc, delim))
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path.name} could not be read as CSV: {_short(exc)}; check quoting and delimiters") from None
    _fields_match_header(frame, path, enc, delim)
    return _checked(frame, path, required)


def iter_recipients(path: str | Path, *, chunksize: int, encoding: str | None = None,
                    required: tuple[str, ...] = ()) -> Iterator[tuple[int, pd.DataFrame]]:
    """Stream a CSV as ``(offset, chunk)`` pairs whose index continues across chunks.

    UTF-8 files are parsed by Arrow's CSV reader (no Python object per cell; the columns arrive as
    Arrow-backed text, as pandas itself reads them); anything Arrow refuses, and other encodings,
    go through pandas' reader from the first row not yet handed out, so errors read the same.
    """
    path = Path(path)
    enc, delim = sniff(path, encoding)
    offset = 0
    if enc == "utf-8-sig" and _arrow_text_dtype() is not None:
        try:
            for start, chunk in _iter_arrow(path, delim, chunksize):
                yield start, (_checked(chunk, path, required) if start == 0 else chunk)
                offset = start + len(chunk)
        except _ArrowFallback:
            pass  # offset: the rows already handed out
        else:
            if offset == 0:
                raise InputError(f"{path.name} has a header but no rows: add one row per recipient")
            return
    yield from _iter_pandas(path, enc, delim, chunksize, required, offset)


class _ArrowFallback(Exception):
    """Arrow could not go on; pandas takes over at row ``offset``."""

    def __init__(self, offset: int) -> None:
        self.offset = offset


def _arrow_text_dtype() -> Any:
    """pandas' own Arrow-backed text dtype for ``dtype=str`` (pandas 3), or None (older pandas)."""
    import pandas as pd

    dtype = pd.Series([], dtype=str).dtype
    return dtype if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" else None


def _iter_arrow(path: Path, delimiter: str, chunksize: int) -> Iterator[tuple[int, pd.DataFrame]]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv as pcsv

    with path.open(encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh, delimiter=delimiter), [])
    if not header or len(set(header)) != len(header):  # pandas renames repeated names (a, a.1)
        raise _ArrowFallback(0)
    text = _arrow_text_dtype()
    try:
        reader = pcsv.open_csv(
            path, read_options=pcsv.ReadOptions(use_threads=False, block_size=1 << 22),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(column_types={name: pa.large_string() for name in header},
                                                strings_can_be_null=True, null_values=[""],
                                                quoted_strings_can_be_null=True))
    except pa.ArrowInvalid:
        raise _ArrowFallback(0) from None
    if reader.schema.names != header:
        raise _ArrowFallback(0)
    pending: list[Any] = []
    buffered = offset = 0

    def emit(table: Any) -> tuple[int, pd.DataFrame]:
        frame = table.to_pandas(types_mapper=lambda _: text)
        frame.index = pd.RangeIndex(offset, offset + len(frame))
        return offset, frame

    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid:  # a short row, bad UTF-8 ...: pandas decides, with its messages
            raise _ArrowFallback(offset) from None
        pending.append(batch)
        buffered += batch.num_rows
        while buffered >= chunksize:
            table = pa.Table.from_batches(pending)
            yield emit(table.slice(0, chunksize))
            offset += chunksize
            rest = table.slice(chunksize)
            pending, buffered = (rest.to_batches() if rest.num_rows else []), rest.num_rows
    if buffered:
        yield emit(pa.Table.from_batches(pending, schema=reader.schema))


def _iter_pandas(path: Path, enc: str, delim: str, chunksize: int, required: tuple[str, ...],
                 offset: int) -> Iterator[tuple[int, pd.DataFrame]]:
    import pandas as pd

    first = offset
    try:
        with pd.read_csv(path, chunksize=chunksize, skiprows=range(1, offset + 1) if offset else None,
                         **_reader_kwargs(enc, delim)) as reader:  # closed however the iteration ends
            for chunk in reader:
                _fields_match_header(chunk, path, enc, delim)
                chunk = _checked(chunk, path, required) if offset == 0 else chunk
                chunk.index = pd.RangeIndex(offset, offset + len(chunk))
                yield offset, chunk
                offset += len(chunk)
    except UnicodeDecodeError:
        raise InputError(f"{path.name} is not UTF-8 after row {offset}: save it as 'CSV UTF-8' in Excel, or pass "
                         "encoding='cp1252' (CLI: --encoding cp1252) if that is what it is") from None
    except pd.errors.ParserError as exc:  # pandas names the file's line when it can
        where = "" if " line " in str(exc) else f" near row {offset + 1}"
        raise InputError(f"{path.name} could not be read as CSV{where}: {_short(exc)}; check quoting and delimiters"
                         ) from None
    if offset == first == 0:
        raise InputError(f"{path.name} has a header but no rows: add one row per recipient")


def scan_file(path: str | Path) -> tuple[str, int]:
    """A file's SHA-256 and its data rows, in one pass.

    Rows are lines minus the header: quoted newlines make the count an upper bound.
    """
    h = hashlib.sha256()
    lines, last = 0, b"\n"
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
            lines += block.count(b"\n")
            last = block[-1:]
    return h.hexdigest(), max(0, lines + (last != b"\n") - 1)


def _fields_match_header(frame: pd.DataFrame, path: Path, encoding: str, delimiter: str) -> None:
    """Refuse a file whose first data row has one field more than its header.

    pandas reads such a row as an index column and shifts every column one to the left (the phone
    column would hold the names): the file is read again with :mod:`csv` to name the line.
    """
    import pandas as pd

    if isinstance(frame.index, pd.RangeIndex):
        return
    with path.open(newline="", encoding=encoding) as fh:
        rows = csv.reader(fh, delimiter=delimiter)
        header = next(rows)
        row = header
        for row in rows:
            if len(row) != len(header) and any(row):
                break
        line = rows.line_num
    raise InputError(f"{path.name} line {line} has {len(row)} fields but the header names {len(header)} columns: "
                     "remove the extra field, quote a value that holds the delimiter, or name the column in the header")


def _checked(frame: pd.DataFrame, path: Path, required: tuple[str, ...]) -> pd.DataFrame:
    written = [str(c) for c in frame.columns]
    frame.columns = [c.strip() for c in written]
    if not frame.columns.is_unique:  # pandas told "name" from "name " apart; once stripped they clash
        twice = next(c for c in frame.columns if list(frame.columns).count(c) > 1)
        if not twice:
            raise InputError(f"{path.name}: the header has blank column names: name every column in the first line")
        spelled = [w for w in written if w.strip() == twice]
        raise InputError(f"{path.name}: the header names column {twice!r} twice (as {' and '.join(map(repr, spelled))}): "
                         "rename one of them")
    if len(frame) == 0:
        raise InputError(f"{path.name} has a header but no rows: add one row per recipient")
    require_columns(frame, required, source=path.name)
    return frame


def require_columns(frame: pd.DataFrame, required: tuple[str, ...], *, source: str = "the frame",
                    option: str = "number_col", fix: str | None = None) -> None:
    """Raise an InputError naming the missing column, the columns there are, and the fix.

    The fix defaults to the option that names the column (``option=`` and its CLI flag); a column
    a template or a list of columns asks for passes its own *fix*.
    """
    for column in required:
        if column not in frame.columns:
            close = [c for c in frame.columns if str(c).strip().lower() == column.lower()]
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise InputError(
                f"{source} has no column {column!r}; its columns are {', '.join(map(repr, frame.columns))}.{hint} "
                + (fix or f"Rename the column or pass {option}=<name> (CLI: --{option.replace('_', '-')})."))


def _short(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:200]
