"""Hostile input: every case gets a clear error or the documented per-row code, never a pandas traceback.

The corpus lives in tests/hostile/; the 1,000,001-row file is generated at test time.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from buka_nb.cli import main
from buka_nb.errors import InputError
from buka_nb.sms import send_sms, send_sms_csv

CORPUS = Path(__file__).parent / "hostile"


@pytest.mark.parametrize("name, message", [
    ("empty.csv", "empty.csv is empty: it needs a header row"),
    ("header_only.csv", "header_only.csv has a header but no rows"),
    ("missing_column.csv", "has no column 'phone'; its columns are 'name'"),
    ("misnamed_column.csv", "has no column 'phone'; its columns are 'Phone Number', 'name'"),
    ("cp1252.csv", "cp1252.csv is not UTF-8 (byte 0xe9 at offset 27): save it as 'CSV UTF-8'"),
])
def test_unusable_files_are_input_errors_that_name_the_fix(name, message, sim):
    with pytest.raises(InputError) as info:
        send_sms_csv(CORPUS / name, content="hi", credentials=sim.credentials, journal=None)
    assert message in str(info.value)
    assert len(sim.ledger.frame("sms")) == 0


def test_cli_turns_input_errors_into_one_line_and_exit_2(sim, capsys, monkeypatch):
    monkeypatch.setenv("BUKA_API_KEY", "demoKey1")
    monkeypatch.setenv("BUKA_API_SECRET", "demoSecret1")
    code = main(["sms", "send", str(CORPUS / "misnamed_column.csv"), "--content", "hi", "--base-url", sim.url])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("buka-nb: input error: misnamed_column.csv has no column 'phone'")
    assert "--number-col" in err and "Traceback" not in err


def test_cp1252_file_reads_with_an_explicit_encoding(sim):
    r = send_sms_csv(CORPUS / "cp1252.csv", template="Hi {name}", encoding="cp1252", credentials=sim.credentials,
                     journal=None)
    assert r.state.tolist() == ["accepted"]
    assert sim.ledger.frame("sms").content.tolist() == ["Hi Renée"]


@pytest.mark.parametrize("name", ["utf16.csv", "bom_semicolon.csv"])
def test_bom_and_utf16_files_are_read(name, sim):
    r = send_sms_csv(CORPUS / name, template="Hi {name}", credentials=sim.credentials, journal=None)
    assert r.state.tolist() == ["accepted"] and r.recipient.tolist() == ["447911000001"]


def test_messy_cells_formulas_quotes_newlines_excel_numbers_rtl_emoji(sim):
    r = send_sms_csv(CORPUS / "messy_cells.csv", template="Hi {name}", credentials=sim.credentials, journal=None)
    expected = [("accepted", 0), ("invalid", -9), ("accepted", 0), ("accepted", 0), ("accepted", 0),
                ("accepted", 0), ("accepted", 0), ("invalid", -9), ("accepted", 0), ("accepted", 0),
                ("accepted", 0), ("accepted", 0), ("invalid", -8), ("invalid", -9), ("invalid", -20),
                ("invalid", -9), ("accepted", 0), ("accepted", 0)]
    assert list(zip(r.state, r.code)) == expected
    accepted = r[r.state == "accepted"]
    assert accepted.recipient.tolist() == ["447911000001"] + [f"4479110000{i:02d}" for i in (2, 3, 4, 5, 6, 7, 8, 9,
                                                                                            10, 11, 12)]
    sent = sim.ledger.frame("sms").set_index("msg_id").loc[accepted.msg_id, "content"].tolist()
    assert "Hi line one\nline two" in sent and "Hi مرحبا بالعالم" in sent and "Hi emoji 😀🎉" in sent
    assert "Excel dropped digits" in r.detail.iloc[7]


def test_results_csv_neutralises_formula_cells(sim, tmp_path):
    out = tmp_path / "results.csv"
    send_sms_csv(CORPUS / "messy_cells.csv", content="x", out=out, credentials=sim.credentials, journal=None)
    text = out.read_text(encoding="utf-8")
    assert "'=HYPERLINK" in text and "'@SUM(1)" in text
    assert "\n1,sms,=HYPERLINK" not in text


def test_emoji_and_rtl_content_limits_count_characters(sim):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002"], "t": ["😀" * 1024, "ش" * 1025]})
    r = send_sms(df, template="{t}", credentials=sim.credentials, journal=None)
    assert list(zip(r.state, r.code)) == [("accepted", 0), ("invalid", -5)]


def test_a_million_and_one_rows_stream_through_a_dry_run(tmp_path):
    from buka_nb.sms import send_sms_csv as plan_csv

    path = tmp_path / "big.csv"
    with path.open("w") as fh:
        fh.write("phone\n")
        fh.writelines(f"44{7000000000 + i}\n" for i in range(1_000_000))
        fh.write("not-a-number\n")
    plan = plan_csv(path, content="hello", chunksize=250_000, dry_run_only=True)
    s = plan.summary
    assert (s["rows"], s["valid"], s["invalid"], s["requests"]) == (1_000_001, 1_000_000, 1, 1000)
    assert plan.results.index[-1] == 1_000_000 and plan.results.state.iloc[-1] == "invalid"


def test_repeated_index_labels_keep_one_result_row_each(sim):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002", "1e9999"]}, index=["a", "a", "b"])
    r = send_sms(df, content="x", credentials=sim.credentials, journal=None)
    assert list(r.index) == ["a", "a", "b"]
    assert list(zip(r.state, r.code)) == [("accepted", 0), ("accepted", 0), ("invalid", -9)]
