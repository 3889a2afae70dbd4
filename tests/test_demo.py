"""``buka-nb demo`` and :func:`buka_nb.demo.run_demo`: sample campaigns, result files, the chart."""

from __future__ import annotations

import pandas as pd
import pytest

from buka_nb import demo
from buka_nb.cli import main

PNG = b"\x89PNG\r\n\x1a\n"


def test_demo_on_the_sample_data_writes_results_and_a_png(tmp_path):
    out = tmp_path / "buka-demo"
    result = demo.run_demo(out, report_delay=(0.0, 0.0))
    assert result.target == "simulator"
    channels = demo.available_channels()
    assert list(result.results) == channels and "sms" in channels
    frames, _ = demo.sample_frames(channels)
    chart = out / "failures_by_reason.png"
    assert chart in result.paths and chart.read_bytes().startswith(PNG)
    for channel in channels:
        written = pd.read_csv(out / f"{channel}_results.csv", index_col="row", dtype=str)
        assert len(written) == len(frames[channel])                        # one row per input row
        assert written["channel"].eq(channel).all()
        if (out / f"{channel}_results.parquet").exists():
            assert len(pd.read_parquet(out / f"{channel}_results.parquet")) == len(frames[channel])
        assert not result.results[channel]["state"].isin(["unknown", "not_sent"]).any()
        accepted = result.results[channel]["state"].eq("accepted")
        assert accepted.any() and result.results[channel].loc[accepted, "delivery"].notna().all()
    summary = pd.read_csv(out / "summary.csv")
    assert summary["channel"].tolist() == channels
    assert summary["rows"].tolist() == [len(frames[c]) for c in channels]


def test_cli_demo_falls_back_to_a_synthetic_sample_and_prints_what_it_wrote(tmp_path, capsys):
    empty = tmp_path / "no-data"
    empty.mkdir()
    assert main(["demo", "--out", str(tmp_path / "out"), "--data", str(empty), "--wait", "5"]) == 0
    printed = capsys.readouterr().out
    assert "starting the BUKA simulator" in printed and "synthetic sample" in printed
    assert "failure_rate" in printed and "what to do next" in printed
    assert str(tmp_path / "out" / "failures_by_reason.png") in printed
    sample = demo.synthetic_sample()
    for channel in demo.available_channels():
        assert len(pd.read_csv(tmp_path / "out" / f"{channel}_results.csv")) == len(sample[channel])
    assert "demoSecret1" not in printed


def test_with_credentials_the_same_code_talks_to_that_api_and_a_rerun_never_sends_twice(sim, tmp_path):
    empty = tmp_path / "no-data"
    empty.mkdir()
    first = demo.run_demo(tmp_path / "out", credentials=sim.credentials, channels=["sms"], data=empty, wait=2)
    assert first.target == sim.url
    sent = len(sim.ledger.frame("sms"))
    assert sent == int(first.results["sms"]["state"].eq("accepted").sum()) > 0
    again = demo.run_demo(tmp_path / "out", credentials=sim.credentials, channels=["sms"], data=empty, wait=0)
    assert len(sim.ledger.frame("sms")) == sent                            # resumed from the journal
    pd.testing.assert_series_equal(again.results["sms"]["msg_id"], first.results["sms"]["msg_id"])


def test_sample_frames_read_the_data_folder_as_text():
    folder = demo.data_dir()
    assert folder is not None  # the tests run on an editable install, next to data/
    frames, source = demo.sample_frames(["sms"])
    assert source == str(folder)
    sms = frames["sms"]
    assert len(sms) == 2000 and sms.columns.tolist() == ["phone", "name", "city", "amount"]
    # text exactly as written: the +, an Excel float's .0, an empty city (no float, no NaN rounding)
    assert sms.iloc[0].tolist()[:2] + sms.iloc[0].tolist()[3:] == ["+447900879469", "Ava Jones", "67.50"]
    assert sms["city"].isna().iloc[0] and all(isinstance(d, pd.StringDtype) for d in sms.dtypes)
    assert sms.iloc[1].tolist() == ["5521922815393.0", "Ana Souza", "Rio de Janeiro", "377.46"]


def test_cli_demo_uses_the_environment_when_buka_base_url_is_set(sim, tmp_path, monkeypatch, capsys):
    creds = sim.credentials
    for var, value in {"BUKA_BASE_URL": sim.url, "BUKA_API_KEY": creds.api_key,
                       "BUKA_API_SECRET": creds.api_secret.reveal(), "BUKA_SMS_APP_ID": creds.sms_app_id,
                       "BUKA_EMAIL_APP_ID": creds.email_app_id, "BUKA_VOICE_APP_ID": creds.voice_app_id}.items():
        monkeypatch.setenv(var, value)
    empty = tmp_path / "no-data"
    empty.mkdir()
    assert main(["demo", "--out", str(tmp_path / "out"), "--data", str(empty), "--wait", "1"]) == 0
    printed = capsys.readouterr().out
    assert f"talking to {sim.url}" in printed and "starting the BUKA simulator" not in printed
    assert sim.ledger.count("sms", "447911123456") == 1                     # sent to *this* server
    assert creds.api_secret.reveal() not in printed
