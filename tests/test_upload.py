"""buka_nb.upload: the CSV-upload panel's logic, called directly (no widgets, no kernel)."""

from __future__ import annotations

import datetime as dt
import doctest
import io
import subprocess
import sys

import pandas as pd
import pytest

from buka_nb import upload
from buka_nb.errors import ConfigError, InputError

# Seven rows, each a case real exports have; the expected outcome is in the comment.
MESSY = ("\ufeffMobile Number;name\n"
         "+44 7911 123456;Ann\n"        # valid
         "+234 803 123 4567;Chidi\n"    # valid
         "4.47911E+11;Bob\n"            # -9  Excel float
         ";Cy\n"                        # -8  empty number
         "0044 7911 123456;Ann again\n" # -20 duplicate of row 0
         "+91 98123 45678;\n"           # -22 the template's {name} is empty
         "12;Dee\n").encode()           # -9  too short


def file_upload_value(data: bytes, name: str = "customers.csv") -> tuple[dict, ...]:
    """What ipywidgets 8's FileUpload.value holds after one file is chosen."""
    return ({"name": name, "type": "text/csv", "size": len(data), "content": memoryview(data),
             "last_modified": dt.datetime(2025, 3, 3, tzinfo=dt.timezone.utc)},)


def test_read_upload_accepts_bytes_and_the_file_upload_value():
    from_bytes = upload.read_upload(MESSY)
    from_widget = upload.read_upload(file_upload_value(MESSY))
    pd.testing.assert_frame_equal(from_bytes, from_widget)
    assert list(from_widget.columns) == ["Mobile Number", "name"]
    assert from_widget["Mobile Number"].tolist()[:3] == ["+44 7911 123456", "+234 803 123 4567", "4.47911E+11"]
    assert from_widget.attrs["source"] == "customers.csv"
    assert from_bytes.attrs["source"] == "upload.csv"


@pytest.mark.parametrize("data, words", [
    (b"", "is empty"),
    (b"phone,name\n", "no rows"),
    ((), "no file uploaded"),
    ("\u00e9".encode("cp1252") * 50 + b",x\n1,2\n", "not UTF-8"),
])
def test_unreadable_uploads_are_input_errors_that_say_what_to_do(data, words):
    with pytest.raises(InputError, match=words):
        upload.read_upload(data)


def test_suggest_columns_uses_aliases_then_values():
    frame = pd.DataFrame({"Name": ["Ann"], "E-Mail": ["ann@example.com"], "Mobile Number": ["+44 7911 123456"]})
    assert upload.suggest_columns(frame, "sms") == {"number_col": "Mobile Number"}
    by_value = pd.DataFrame({"col_a": ["Ann", "Bob"], "col_b": ["+44 7911 123456", "4.47911E+11"]})
    assert upload.suggest_columns(by_value, "sms") == {"number_col": "col_b"}
    if "email" in upload.available_channels():
        assert upload.suggest_columns(frame, "email") == {"email_col": "E-Mail"}
    if "voice" in upload.available_channels():
        assert upload.suggest_columns(frame, "voice") == {"phone_col": "Mobile Number", "name_col": "Name"}


def test_build_options_turns_choices_into_send_arguments():
    assert upload.build_options("sms", {"number_col": "p"}, {"message": "Hi {name}", "sender_id": " "}) == \
        {"number_col": "p", "template": "Hi {name}"}
    assert upload.build_options("sms", {"number_col": "p"}, {"message": "Hello", "sender_id": "Shop"}) == \
        {"number_col": "p", "content": "Hello", "sender_id": "Shop"}
    with pytest.raises(InputError, match="message"):
        upload.build_options("sms", {"number_col": "p"}, {"message": "  "})
    with pytest.raises(InputError, match="phone column"):
        upload.build_options("sms", {"number_col": None}, {"message": "Hi"})
    with pytest.raises(InputError, match="unknown channel"):
        upload.build_options("fax", {}, {})


def test_build_options_parses_lists_and_variable_mappings():
    if "email" in upload.available_channels():
        options = upload.build_options("email", {"email_col": "mail"}, {
            "template_id": "2", "from_address": "noreply@demo.buka.test", "subject": "Hi",
            "variables": "name=first_name, city"})
        assert options["variables"] == {"name": "first_name", "city": "city"}
    if "voice" in upload.available_channels():
        options = upload.build_options("voice", {"phone_col": "phone", "name_col": None},
                                       {"properties": "amount; due_date"})
        assert options == {"phone_col": "phone", "properties": ["amount", "due_date"]}


def test_dry_run_and_validation_summary_count_every_refused_row():
    frame = upload.read_upload(MESSY)
    options = upload.build_options("sms", upload.suggest_columns(frame, "sms"), {"message": "Hi {name}"})
    plan = upload.dry_run(frame, "sms", **options)
    assert (plan.summary["rows"], plan.summary["valid"], plan.summary["invalid"]) == (7, 2, 5)
    table = upload.validation_summary(plan)
    assert dict(zip(table.code.tolist(), table.rows.tolist())) == {-9: 2, -8: 1, -20: 1, -22: 1}
    assert table.rows.tolist() == sorted(table.rows.tolist(), reverse=True)
    assert "Mobile Number" in table.set_index("code").loc[-8, "example"]


def test_send_to_the_simulator_gives_one_row_per_input_row(sim, journal_path):
    frame = upload.read_upload(MESSY)
    before = frame.copy()
    steps: list[str] = []
    results = upload.send(frame, "sms", credentials=sim.credentials, journal=journal_path, wait=5, poll=0.2,
                          on_step=steps.append, number_col="Mobile Number", template="Hi {name}")
    pd.testing.assert_frame_equal(frame, before)
    assert steps == list(upload.SEND_STEPS)
    assert results.index.equals(frame.index)
    n = upload.counts(results)
    assert (n["rows"], n["accepted"], n["invalid"], n["rejected"]) == (7, 2, 5, 0)
    assert n["delivered"] + n["delivery failed"] == 2
    assert sim.ledger.count("sms", "447911123456") == 1


def test_result_csv_round_trips_and_neutralises_formulas():
    from buka_nb.analysis import example_results
    from buka_nb.cli._common import read_results

    results = example_results()
    results.loc[0, "detail"] = "=HYPERLINK(\"http://x\")"
    data = upload.result_csv(results)
    back = pd.read_csv(io.BytesIO(data), index_col="row", dtype=str)
    assert len(back) == len(results)
    assert back["detail"].iloc[0].startswith("'=")
    assert upload.result_filename("customers.csv") == "customers.results.csv"
    assert upload.data_url(b"a,b\n").startswith("data:text/csv;base64,")
    assert len(read_results_from_bytes(data, read_results)) == len(results)


def read_results_from_bytes(data: bytes, reader) -> pd.DataFrame:
    from pathlib import Path

    path = Path("results.csv")  # tests run in tmp_path (conftest)
    path.write_bytes(data)
    return reader(path)


def test_failure_chart_png_is_a_png():
    from buka_nb.analysis import example_results

    assert upload.failure_chart_png(example_results()).startswith(b"\x89PNG\r\n\x1a\n")


def test_targets_start_a_simulator_only_when_asked_and_stop_only_their_own(sim):
    own = upload.Targets()
    assert own._simulator is None
    creds = own.credentials("simulator")
    assert creds.base_url.startswith("http://127.0.0.1:")
    started = own.simulator
    own.close()
    assert not started.running

    shared = upload.Targets(simulator=sim)
    assert shared.credentials("simulator").base_url == sim.url
    shared.close()
    assert sim.running

    with pytest.raises(ConfigError, match="No BUKA credentials"):  # conftest clears BUKA_* variables
        upload.Targets().credentials("api")
    assert upload.Targets(credentials=sim.credentials).credentials("api") == sim.credentials


def test_docstring_examples():
    assert doctest.testmod(upload).failed == 0


def test_upload_and_demo_modules_do_not_load_ipywidgets_or_matplotlib():
    code = ("import sys, buka_nb, buka_nb.upload, buka_nb.demo; "
            "print(','.join(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
