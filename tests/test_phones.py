"""Phone clean-up: every form Excel and people produce, and the explanation for each refusal."""

from __future__ import annotations

import pandas as pd

from buka_nb.phones import normalise_numbers, region_of


def test_repairable_forms_all_become_digits():
    raw = pd.Series(["+44 7911 123456", "0044-7911-123456", "447911123456.0", "4.47911123456E+11",
                     "(+44) 7911.123.456", " 447911123456 ", "+1 (415) 555-2671"])
    out = normalise_numbers(raw)
    assert out.number.tolist() == ["447911123456"] * 6 + ["14155552671"]
    assert out.code.tolist() == [0] * 7


def test_a_bracketed_trunk_zero_is_dropped_by_each_countrys_rule_never_sent():
    raw = pd.Series(["+44 (0) 7911 123462", "0044 (0)20 7946 0000", "+44 (01632) 960000", "+39 (06) 1234 5678",
                     "+49 (0)30 1234567", "(020) 7946 0000", "+44 (0) 7911 ABCDEF"])
    out = normalise_numbers(raw)
    assert out.number.tolist()[:5] == ["447911123462", "442079460000", "441632960000", "390612345678", "49301234567"]
    assert out.code.tolist() == [0, 0, 0, 0, 0, -9, -9]
    assert out.detail[5] == ("column 'phone' value (020) 7946 0000 starts with 0 (a national format): write it "
                             "with the country code, e.g. 447911123456")
    assert out.detail[6].startswith("column 'phone' value +44 (0) 7911 ABCDEF has characters other than digits")
    strict = normalise_numbers(raw[:2], strict=True)
    assert strict.code.tolist() == [0, 0] and strict.number.tolist() == ["447911123462", "442079460000"]


def test_a_decimal_number_is_refused_not_read_as_digits():
    out = normalise_numbers(pd.Series(["447911123456.5", 447911123456.5, "447911123456.00"]), column="mobile")
    assert out.code.tolist() == [-9, -9, 0] and out.number.tolist()[2] == "447911123456"
    assert out.detail[0] == ("column 'mobile' value 447911123456.5 is a decimal number, not a phone number: format "
                             "the column as Text in the spreadsheet and export the CSV again, or correct the number")


def test_numeric_columns_from_excel():
    out = normalise_numbers(pd.Series([447911123456.0, float("nan"), 4.5]))
    assert out.number.tolist()[0] == "447911123456"
    assert out.code.tolist() == [0, -8, -9]


def test_refusals_name_the_column_and_the_fix():
    raw = pd.Series(["", None, "12", "07911123456", "4.47911E+11", "44791112345x", "9991234567", "1234567890123456"],
                    index=[10, 11, 12, 13, 14, 15, 16, 17])
    out = normalise_numbers(raw, column="mobile")
    assert out.code.tolist() == [-8, -8, -9, -9, -9, -9, -9, -9]
    assert out.number.isna().all()
    d = out.detail
    assert d[10] == "column 'mobile' is empty: fill in the phone number or drop the row"
    assert "wrong length" in d[12] and "7-15 digits" in d[12]
    assert "starts with 0" in d[13] and "country code" in d[13]
    assert "Excel dropped digits" in d[14] and "Text" in d[14]
    assert "characters other than digits" in d[15]
    assert "known country calling code" in d[16]
    assert "wrong length" in d[17]
    assert list(out.code.index) == list(raw.index)


def test_strict_mode_uses_phonenumbers_validity():
    out = normalise_numbers(pd.Series(["447911123456", "440000000000"]), strict=True)
    assert out.code.tolist() == [0, -9]


def test_region_of_calling_codes():
    assert region_of(pd.Series(["447911123456", "919876543210", "2348031234567", "14155552671", "x"])).tolist() == \
        ["GB", "IN", "NG", "US", pd.NA]


def test_absurd_exponents_and_repeated_index_labels_do_not_crash():
    out = normalise_numbers(pd.Series(["447911123456", "1e9999", "4.47911123456E+11", "-1e5"], index=[3, 3, 4, 4]))
    assert out.code.tolist() == [0, -9, 0, -9]
    assert list(out.number.index) == [3, 3, 4, 4]
    assert out.number.tolist()[:3] == ["447911123456", pd.NA, "447911123456"]


def test_prefix_shapes_at_the_edge_of_the_fast_path():
    # spaces inside the + / 00 prefix, three zeros, and digits too many for int64 take the general path
    raw = pd.Series(["+ 44 7911 123456", "0 0447911123456", "0044 7911 123456", "+1 415 555 2671", "000447911123456",
                     "07911 123456", "+0", "+", "00000000000000000000447911", "4479111234567890123456"], dtype="string")
    out = normalise_numbers(raw)
    assert out.number.tolist() == ["447911123456"] * 3 + ["14155552671"] + [pd.NA] * 6
    assert out.code.tolist() == [0] * 4 + [-9] * 6
    assert [d.split(" value ")[1] for d in out.detail[4:]] == [
        "000447911123456 starts with 0 (a national format): write it with the country code, e.g. 447911123456",
        "07911 123456 starts with 0 (a national format): write it with the country code, e.g. 447911123456",
        "+0 has the wrong length: BUKA needs 7-15 digits, country code first",
        "+ has characters other than digits: keep only digits, with an optional leading + or 00",
        "00000000000000000000447911 has the wrong length: BUKA needs 7-15 digits, country code first",
        "4479111234567890123456 has the wrong length: BUKA needs 7-15 digits, country code first"]


def test_an_arrow_slice_reads_only_its_own_rows():
    import pyarrow as pa

    whole = pa.array(["x", "+44 7911 123456", "0044 7911 123457", "12", "+447911123458 x"], pa.large_string())
    out = normalise_numbers(pd.Series(pd.arrays.ArrowStringArray(whole.slice(1, 3))))
    assert out.number.tolist() == ["447911123456", "447911123457", pd.NA]
    assert out.code.tolist() == [0, 0, -9]


def test_fast_path_agrees_with_every_rule_on_fuzzed_text():
    # clean_numbers reads most rows from their bytes; _normalise_general applies every rule to any
    # text. Each row must get the same number, code and detail from both.
    import random

    import numpy as np

    from buka_nb.phones import _normalise_general, clean_numbers

    rng = random.Random(7)
    atoms = ["+", "00", "0", "000", "44", "1", "91", "234", "999", "7911", " ", "  ", "-", "(", ")", ".0", "e",
             "E+11", "x", "\u0663", "\u00a0", "\u3000", "\t", "+ ", "00 ", "++", "\u00e9", "nan", ""]
    values = []
    for _ in range(20_000):
        parts = [rng.choice(atoms) if rng.random() < 0.4 else str(rng.randint(0, 10 ** rng.randint(1, 17)))
                 for _ in range(rng.randint(0, 6))]
        values.append(None if rng.random() < 0.02 else "".join(parts))
    series = pd.Series(values, dtype="string")
    fast = clean_numbers(series, column="ph")
    number, code, detail = _normalise_general(series, "ph")
    assert fast.code.tolist() == code.tolist()
    assert fast.detail.tolist() == list(detail)
    assert fast.number.to_pylist() == number.to_pylist()
    assert np.array_equal(fast.value, [int(n) if n else 0 for n in number.to_pylist()])
    assert (code == 0).sum() > 2_000 and (code != 0).sum() > 2_000  # both outcomes well represented


def test_the_calling_code_table_marks_exactly_the_3_digit_prefixes_that_begin_with_a_calling_code():
    from buka_nb.phones import _calling_code_table, country_codes

    codes = country_codes()
    table = _calling_code_table()
    assert [p for p in range(100, 1000) if table[p]] == \
        [p for p in range(100, 1000) if any(str(p)[:k] in codes for k in (1, 2, 3))]
    assert table[440] and table[919] and table[234] and table[100] and not table[0]  # 44, 91, 234, 1
