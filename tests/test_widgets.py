"""The upload panel, driven headlessly: set ``.value`` on its widgets and ``.click()`` its buttons."""

from __future__ import annotations

import base64
import io
import re

import pandas as pd
import pytest

pytest.importorskip("ipywidgets")

from buka_nb import upload  # noqa: E402
from buka_nb.widgets import UploadPanel  # noqa: E402

from .test_upload import MESSY, file_upload_value  # noqa: E402


@pytest.fixture
def panel(sim, journal_path):
    p = UploadPanel(simulator=sim, journal=journal_path, report_wait=5)
    yield p
    p.close()


def test_upload_dry_run_and_send_to_the_simulator(panel, sim):
    assert panel.dry_run_button.disabled and panel.send_button.disabled
    panel.upload.value = file_upload_value(MESSY)
    assert panel.frame.shape == (7, 2)
    assert "customers.csv" in panel.file_info.value and "7 rows" in panel.file_info.value
    assert panel.columns["number_col"].value == "Mobile Number"       # suggested from the header
    assert panel.texts["message"].value == "Hi {name}, your order ships today"
    assert not panel.dry_run_button.disabled and panel.send_button.disabled

    panel.texts["message"].value = "Hi {name}, your parcel is on its way"
    panel.dry_run_button.click()
    assert panel.error is None
    assert (panel.plan.summary["valid"], panel.plan.summary["invalid"]) == (2, 5)
    assert "2 valid" in panel.validation.value and "5 would be refused" in panel.validation.value
    assert "Numbers are abnormal" in panel.validation.value
    assert not panel.send_button.disabled
    assert sim.ledger.frame("sms").empty                                # a dry run sends nothing

    panel.send_button.click()
    assert panel.error is None, panel.error
    results = panel.results
    assert len(results) == 7 and results.index.equals(panel.frame.index)
    assert results.state.value_counts().to_dict() == {"invalid": 5, "accepted": 2}
    assert results.code.tolist() == [0, 0, -9, -8, -20, -22, -9]
    assert results.delivery.notna().sum() == 2                         # reports collected
    assert panel.progress.value == panel.progress.max
    assert "<b>2</b> accepted" in panel.result_table.value and "<b>5</b> invalid" in panel.result_table.value
    assert bytes(panel.chart.value).startswith(b"\x89PNG") and panel.chart.layout.display == ""
    assert sim.ledger.count("sms", "447911123456") == 1

    href = re.search(r'href="data:text/csv;base64,([^"]+)"', panel.download.value).group(1)
    downloaded = pd.read_csv(io.BytesIO(base64.b64decode(href)), index_col="row", dtype=str)
    assert len(downloaded) == 7 and downloaded.state.tolist().count("accepted") == 2
    assert 'download="customers.results.csv"' in panel.download.value


def test_changing_a_choice_after_the_dry_run_requires_a_new_one(panel):
    panel.upload.value = file_upload_value(MESSY)
    panel.dry_run_button.click()
    assert not panel.send_button.disabled
    panel.texts["message"].value = "Hello"                             # content, no placeholders
    assert panel.send_button.disabled
    panel.dry_run_button.click()
    # Without {name} the row with an empty name is valid too.
    assert (panel.plan.summary["valid"], panel.plan.summary["invalid"]) == (3, 4)


def test_errors_are_shown_not_raised(panel):
    panel.upload.value = file_upload_value(b"phone,name\n", "empty.csv")
    assert panel.frame is None and "no rows" in panel.error
    assert "no rows" in panel.status.value and panel.dry_run_button.disabled

    panel.upload.value = file_upload_value(MESSY)
    panel.texts["message"].value = ""
    panel.dry_run_button.click()
    assert panel.plan is None and "message" in panel.error

    panel.texts["message"].value = "Hi {name}"
    panel.dry_run_button.click()
    panel.target.value = "api"                                        # no credentials in the environment
    panel.dry_run_button.click()
    panel.send_button.click()
    assert panel.results is None and "No BUKA credentials" in panel.error


def test_email_channel_through_the_panel(panel, sim):
    assert "email" in upload.available_channels()
    data = b"E-mail,first_name\nann@example.com,Ann\nbad@@example.com,Bob\nANN@example.com,Ann\nzoe@example.org,Zoe\n"
    panel.upload.value = file_upload_value(data, "mail.csv")
    panel.channel.value = "email"
    assert panel.columns["email_col"].value == "E-mail"
    panel.texts["template_id"].value = "2"
    panel.texts["from_address"].value = "noreply@demo.buka.test"
    panel.texts["subject"].value = "Welcome"
    panel.texts["variables"].value = "name=first_name"
    panel.dry_run_button.click()
    assert panel.error is None, panel.error
    panel.send_button.click()
    assert panel.error is None, panel.error
    assert panel.results.state.tolist() == ["accepted", "invalid", "invalid", "accepted"]
    assert panel.results.code.tolist() == [0, -32, -2, 0]


def test_load_uploads_a_file_from_code(panel, tmp_path):
    path = tmp_path / "list.csv"
    path.write_bytes(MESSY)
    panel.load(path)
    assert panel.frame.shape == (7, 2) and panel.upload.value[0]["name"] == "list.csv"
    panel.load(b"phone\n447911123456\n")
    assert panel.frame.shape == (1, 1) and "upload.csv" in panel.file_info.value


def test_channel_and_target_choices():
    panel = UploadPanel()
    try:
        assert [v for _, v in panel.channel.options] == upload.available_channels()
        assert panel.target.value == "simulator" and panel.targets._simulator is None  # started on first send
    finally:
        panel.close()


def test_each_dry_run_allows_one_send_even_without_a_journal(sim):
    panel = UploadPanel(simulator=sim, journal=None, report_wait=0)
    try:
        panel.load(b"phone\n447911123456\n")
        panel.dry_run_button.click()
        panel.send_button.click()
        panel.send_button.click()  # a double click: the second reaches the kernel before the button shows disabled
        assert panel.error == "run a dry run first (each dry run allows one send)"
        assert sim.ledger.count("sms", "447911123456") == 1 and panel.results.state.tolist() == ["accepted"]
    finally:
        panel.close()


def test_any_error_shows_in_the_panel_not_as_a_traceback(sim, tmp_path, monkeypatch):
    panel = UploadPanel(simulator=sim, journal=tmp_path / "j.db", report_wait=0)
    try:
        panel.load(b"phone\n447911123456\n", name=".")  # a name the file system cannot take: read as upload.csv
        assert panel.error is None and "upload.csv" in panel.file_info.value
        panel.load(b"phone,name,name \n447911123456,Ann,Ann\n")
        assert panel.error == "upload.csv: the header names column 'name' twice (as 'name' and 'name '): rename one of them"
        panel.load(b"phone\n447911123456\n")
        panel.dry_run_button.click()

        def broken(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(upload, "send", broken)
        panel.send_button.click()
        assert panel.error == "OSError: disk full" and "disk full" in panel.status.value
        assert not panel.dry_run_button.disabled  # the panel is usable again
    finally:
        panel.close()


def test_results_too_big_for_a_link_are_not_put_in_the_widget_state(sim, tmp_path):
    panel = UploadPanel(simulator=sim, journal=tmp_path / "j.db", report_wait=0, max_download=100)
    try:
        panel.load(b"phone\n447911123456\n447911123457\n")
        panel.dry_run_button.click()
        panel.send_button.click()
        assert panel.error is None and len(panel.results) == 2
        assert panel.status.value == "done: 2 of 2 rows accepted"
        assert "href" not in panel.download.value and "too much for a download link" in panel.download.value
        assert panel.download.value.endswith(" bytes of results is too much for a download link: <code>"
                                             "panel.results.to_csv(&#x27;upload.results.csv&#x27;)</code> writes them")
    finally:
        panel.close()


def test_a_send_where_nothing_was_accepted_says_so(sim, tmp_path):
    panel = UploadPanel(simulator=sim, journal=tmp_path / "j.db", report_wait=0)
    try:
        panel.load(b"phone\n447911123456\n")
        panel.dry_run_button.click()
        sim.configure(faults=["code=-10,endpoint=sendSms"])  # no balance: every row refused
        panel.send_button.click()
        assert panel.results.state.tolist() == ["rejected"]
        assert "done, but no row was accepted" in panel.status.value
    finally:
        panel.close()
