"""The command line's contract: exit codes, and one readable line (never a traceback) for what goes wrong."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from buka_nb.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _env(monkeypatch, creds, secret=None):
    for var, value in {"BUKA_BASE_URL": creds.base_url, "BUKA_API_KEY": creds.api_key,
                       "BUKA_API_SECRET": secret or creds.api_secret.reveal(), "BUKA_SMS_APP_ID": creds.sms_app_id}.items():
        monkeypatch.setenv(var, value)


def _recipients(path: Path, n: int = 5) -> Path:
    pd.DataFrame({"phone": [f"4479111{i:05d}" for i in range(n)]}).to_csv(path, index=False)
    return path


def test_bad_credentials_stop_the_campaign_with_exit_code_1(sim, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sim.credentials, secret="WrongSecret77")
    out = tmp_path / "r.results.csv"
    code = main(["sms", "send", str(_recipients(tmp_path / "r.csv")), "--content", "hi", "--no-journal",
                 "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 1
    assert "the campaign was stopped by -1 Authentication error: fix that" in captured.err
    assert "WrongSecret77" not in captured.out + captured.err
    results = pd.read_csv(out)
    assert results.state.eq("rejected").all() and results.code.eq(-1).all() and len(sim.ledger.frame("sms")) == 0


def test_refused_rows_alone_give_exit_code_3(sim, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sim.credentials)
    src = tmp_path / "r.csv"
    src.write_text("phone\n447911100001\n12\n")
    assert main(["sms", "send", str(src), "--content", "hi", "--no-journal"]) == 3
    assert "stopped by" not in capsys.readouterr().err


@pytest.mark.parametrize("content, problem", [
    (None, "does not exist: pass the results file 'buka-nb <channel> send' wrote (--out)"),
    ("phone,name\n447911100001,Ann\n", "is not a results file of 'buka-nb <channel> send'"),
])
def test_report_on_a_missing_or_wrong_file_is_an_input_error(tmp_path, capsys, content, problem):
    path = tmp_path / "x.csv"
    if content is not None:
        path.write_text(content)
    assert main(["report", str(path), "--base-url", "http://127.0.0.1:9/v3"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("buka-nb: input error: ") and problem in err and "Traceback" not in err


def test_out_must_be_csv_or_parquet(sim, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sim.credentials)
    code = main(["sms", "send", str(_recipients(tmp_path / "r.csv")), "--content", "hi", "--out", str(tmp_path / "x.xlsx")])
    assert code == 2 and "results are written as .csv or .parquet" in capsys.readouterr().err
    assert len(sim.ledger.frame("sms")) == 0 and not (tmp_path / "x.xlsx").exists()


def test_receiver_on_a_taken_port_says_so_and_leaves_no_file(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["receiver", "--port", str(port), "--db", str(tmp_path / "reports.sqlite3")])
    err = capsys.readouterr().err
    assert code == 1 and f"cannot listen on 127.0.0.1:{port}" in err and "choose another --port" in err
    assert not (tmp_path / "reports.sqlite3").exists()


def test_a_reader_that_goes_away_is_an_exit_code_not_a_traceback(tmp_path):
    src = _recipients(tmp_path / "r.csv")
    read, write = os.pipe()
    os.close(read)  # like `| head` once it has what it wanted
    try:
        done = subprocess.run([sys.executable, "-m", "buka_nb", "sms", "send", str(src), "--content", "hi", "--dry-run"],
                              stdout=write, stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=120)
    finally:
        os.close(write)
    assert done.returncode == 141 and done.stderr == ""


def test_a_journal_that_cannot_be_opened_is_one_line_and_the_last_results_stay(sim, tmp_path, monkeypatch, capsys):
    _env(monkeypatch, sim.credentials)
    src, out = _recipients(tmp_path / "r.csv"), tmp_path / "r.results.csv"
    assert main(["sms", "send", str(src), "--content", "hi", "--no-journal", "--out", str(out)]) == 0
    kept = out.read_bytes()
    bad = tmp_path / "bad.sqlite3"
    bad.write_bytes(b"this is not a database" * 100)
    capsys.readouterr()
    code = main(["sms", "send", str(src), "--content", "hi", "--journal", str(bad), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1 and f"cannot use {bad} as the send journal" in err and "--no-journal" in err
    assert "Traceback" not in err and out.read_bytes() == kept and len(sim.ledger.frame("sms")) == 5
