"""Reading recipient CSVs: Arrow's fast reader hands out exactly what pandas' reader would."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from buka_nb import io
from buka_nb.errors import InputError

CORPUS = Path(__file__).parent / "hostile"

ODD_FILES = {
    "short_row.csv": b"phone,name\n1,a\n2\n3,c\n",          # pandas fills the missing cell; Arrow refuses
    "long_row.csv": b"phone,name\n1,a\n2,b,c\n",            # an error either way, with pandas' wording
    "long_first_row.csv": b"phone,name\n1,a,x\n2,b\n",       # pandas would take phone as an index: refused
    "repeated_header.csv": b"a,a\n1,2\n",                   # pandas renames to a, a.1
    "quoted_newlines.csv": b'phone,name\n1,"x\ny"\n2,"""q"""\n',
    "blank_lines.csv": b"phone,name\n\n1,a\n\n\n2,b\n",
    "spaces.csv": b"phone , name\n 1 , a \n",
    "bad_utf8_late.csv": b"phone,name\n1,a\n2,\xff\n",
    "na_words.csv": b'phone,name\nNA,nan\n,\n"",x\n',
    "crlf.csv": b"phone,name\r\n1,a\r\n2,b\r\n",
    "no_final_newline.csv": b"phone,name\n1,a\n2,b",
    "tabs.csv": b"phone\tname\n1\ta\n",
}


def _read(reader):
    try:
        return "ok", list(reader())
    except InputError as exc:
        return "error", str(exc)


@pytest.mark.parametrize("chunksize", [2, 100_000])
@pytest.mark.parametrize("name", sorted(ODD_FILES) + sorted(p.name for p in CORPUS.glob("*.csv")))
def test_arrow_reader_matches_pandas_reader(name, chunksize, tmp_path):
    path = CORPUS / name if name not in ODD_FILES else tmp_path / name
    if name in ODD_FILES:
        path.write_bytes(ODD_FILES[name])
    fast = _read(lambda: io.iter_recipients(path, chunksize=chunksize))
    try:
        enc, delim = io.sniff(path)
    except InputError as exc:
        slow = ("error", str(exc))
    else:
        slow = _read(lambda: io._iter_pandas(path, enc, delim, chunksize, (), 0))
    assert fast[0] == slow[0]
    if fast[0] == "error":
        assert fast[1] == slow[1]
        return
    assert [o for o, _ in fast[1]] == [o for o, _ in slow[1]]
    for (_, a), (_, b) in zip(fast[1], slow[1]):
        assert list(a.columns) == list(b.columns) and list(a.dtypes) == list(b.dtypes)
        assert a.equals(b)


def test_a_large_file_is_cut_into_exact_chunks_by_arrow(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("phone,name\n" + "".join(f"4479{i:08d},n{i}\n" for i in range(25_000)))
    chunks = list(io.iter_recipients(path, chunksize=10_000))
    assert [(o, len(c)) for o, c in chunks] == [(0, 10_000), (10_000, 10_000), (20_000, 5_000)]
    assert chunks[2][1].index[0] == 20_000 and chunks[2][1].phone.iloc[-1] == "447900024999"


def test_scan_file_gives_the_sha256_and_the_data_rows(tmp_path):
    for text, rows in [("phone\n1\n2\n", 2), ("phone\n1\n2", 2), ("phone\n", 0), ("", 0)]:
        path = tmp_path / "f.csv"
        path.write_bytes(text.encode())
        assert io.scan_file(path) == (hashlib.sha256(text.encode()).hexdigest(), rows)


def _sniffed(header):
    """What csv.Sniffer answers for a header line (the reference header_delimiter must agree with)."""
    import csv

    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t|").delimiter
    except csv.Error:
        return max(",;\t|", key=header.count) if any(d in header for d in ",;\t|") else ","


@pytest.mark.parametrize("header", [
    "phone", "phone,name", "phone;name;city", "phone\tname", "phone|name", "phone, name", "phone ;name",
    "téléphone;nom", "phone,name;city", "a;b;c,d", "a|b\tc", "a;b\tc", "a|b;c", '"phone","name"', "'phone';'name'",
    '"a,b";c', "", " ", "phone:name", "a,,b", ";;;", "phone,name,", "1,2,3"])
def test_the_header_delimiter_is_what_csv_sniffer_finds(header):
    assert io.header_delimiter(header) == _sniffed(header)


def test_the_header_line_ends_at_any_line_break(tmp_path):
    for raw, delimiter in [(b"phone;name\r\n1;a\r\n", ";"), (b"phone|name\r1|a\r", "|"), (b"phone\tname", "\t"),
                           (b"\xef\xbb\xbfphone;name\n1,5;a\n", ";"), (b"phone\x0cname;x\n1\n", ",")]:
        path = tmp_path / "f.csv"
        path.write_bytes(raw)
        assert io.sniff(path) == ("utf-8-sig", delimiter), raw


def test_a_first_row_with_a_field_too_many_is_refused_not_shifted(tmp_path):
    # pandas reads such a row as an index column: "phone" would hold the names
    path = tmp_path / "r.csv"
    path.write_bytes(b"phone;name\n447911100051;Ann;extra\n447911100052;Bo\n")
    message = ("r.csv line 2 has 3 fields but the header names 2 columns: remove the extra field, quote a value "
               "that holds the delimiter, or name the column in the header")
    for read in (lambda: io.read_recipients(path), lambda: list(io.iter_recipients(path, chunksize=10)),
                 lambda: list(io._iter_pandas(path, "utf-8", ";", 10, (), 0))):
        with pytest.raises(InputError) as info:
            read()
        assert str(info.value) == message
    path.write_bytes(b"phone,name\n447911100051,Ann\n447911100052,Bo,extra\n")
    with pytest.raises(InputError, match="Expected 2 fields in line 3, saw 3; check quoting and delimiters"):
        list(io._iter_pandas(path, "utf-8", ",", 1, (), 0))
