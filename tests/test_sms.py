"""SMS end to end against the simulator: the 10,000-row CLI run, reports, scenarios, templates."""

from __future__ import annotations

import random

import pandas as pd
import pyarrow as pa
import pytest

from buka_nb.batching import WireGroup
from buka_nb.cli import main
from buka_nb.engine import Joined
from buka_nb.envelope import normalise
from buka_nb.reports import collect_reports
from buka_nb.sms import SmsBatch, SmsPlanner, plan_sms, send_sms


def messy_csv(path, n=10_000, seed=3):
    """n rows: mostly good UK mobiles in assorted formats, plus malformed and duplicate rows."""
    rng = random.Random(seed)
    rows, expected = [], []
    for i in range(n):
        number = f"4479{i:08d}"
        kind = rng.random()
        if i % 37 == 5:
            rows.append("12345"); expected.append(("invalid", -9))
        elif i % 53 == 7:
            rows.append(""); expected.append(("invalid", -8))
        elif i % 41 == 9 and i > 100:
            rows.append(rows[i - 50] if expected[i - 50][0] == "accepted" else f"+{number}")
            expected.append(("invalid", -20) if expected[i - 50][0] == "accepted" else ("accepted", 0))
        else:
            formatted = (f"+44 79{i:08d}"[:3] + " " + number[2:] if kind < 0.25 else
                         f"00{number}" if kind < 0.5 else f"{number}.0" if kind < 0.6 else number)
            rows.append(formatted); expected.append(("accepted", 0))
    path.write_text("\ufeffphone;name\n" + "".join(f"{p};Person {i}\n" for i, p in enumerate(rows)), encoding="utf-8")
    return expected


def test_cli_sends_10k_csv_one_result_row_each_and_ledger_holds_each_msgid_once(sim, tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "recipients.csv", tmp_path / "results.csv"
    expected = messy_csv(src)
    c = sim.credentials
    for var, value in {"BUKA_BASE_URL": c.base_url, "BUKA_API_KEY": c.api_key,
                       "BUKA_API_SECRET": c.api_secret.reveal(), "BUKA_SMS_APP_ID": c.sms_app_id}.items():
        monkeypatch.setenv(var, value)
    code = main(["sms", "send", str(src), "--template", "Hi {name}, your parcel is on its way", "--out", str(out),
                 "--journal", str(tmp_path / "j.db"), "--chunksize", "3000"])
    printed = capsys.readouterr().out
    results = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])
    assert len(results) == 10_000 and results.row.astype(int).tolist() == list(range(10_000))
    assert code == 3  # some rows were refused
    assert list(zip(results.state, results.code.astype(int))) == expected
    invalid = results[results.state == "invalid"]
    assert len(invalid) > 300 and invalid.msg_id.isna().all() and invalid.detail.notna().all()
    accepted = results[results.state == "accepted"]
    ledger = sim.ledger.frame("sms")
    assert len(ledger) == len(accepted)
    counts = ledger.msg_id.value_counts()
    assert counts.reindex(accepted.msg_id).tolist() == [1] * len(accepted)
    assert sim.ledger.duplicate_count("sms") == 0
    assert f"{len(accepted)} accepted" in printed and "row 5 (line 7 of the file): -9 Numbers are abnormal" in printed


def test_get_report_returns_delivery_statuses_for_the_sent_msgids(tmp_path):
    from buka_nb.simulator import Simulator

    with Simulator(seed=11, report_delay=(5.0, 20.0)) as sim:
        df = pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(450)]})
        r = send_sms(df, content="hello", credentials=sim.credentials, journal=tmp_path / "j.db")
        early = collect_reports(r, credentials=sim.credentials)
        assert early.delivery.eq("pending").all()
        sim.advance(25 * 60)  # within the 30-minute signature window
        late = collect_reports(r, credentials=sim.credentials)
        ledger = sim.ledger.frame("sms").set_index("msg_id")
        # every row's delivery is what the platform decided for its message, and the seeded mix has both
        assert late.delivery.tolist() == ledger.loc[late.msg_id, "outcome"].tolist()
        assert set(late.delivery) == {"delivered", "failed"} and late.delivered_at.notna().all()
        assert late.msg_id.equals(r.msg_id) and r.delivery.isna().all()  # a new frame; r untouched
    assert r.state.eq("accepted").all()


def test_personalised_template_uses_send_sms_batch_and_each_row_gets_its_text(sim, tmp_path):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002", "447911000003"], "name": ["Ann", "Bo", "Ann"]})
    r = send_sms(df, template="Hi {name}", credentials=sim.credentials, journal=tmp_path / "j.db")
    assert r.state.tolist() == ["accepted"] * 3
    ledger = sim.ledger.frame("sms").set_index("msg_id")
    assert ledger.loc[r.msg_id, "content"].tolist() == ["Hi Ann", "Hi Bo", "Hi Ann"]
    assert sim.stats()["endpoints"]["sendSms/batch"]["requests"] == 1 and "sendSms" not in sim.stats()["endpoints"]


def test_platform_refusals_by_scenario_are_per_row(tmp_path):
    from buka_nb.simulator import Simulator

    with Simulator(seed=1, report_delay=(0, 0), scenarios=["^4479110000(0[1-3])$=reject@sms"]) as sim:
        df = pd.DataFrame({"phone": [f"44791100000{i}" for i in range(6)]})
        r = send_sms(df, content="x", credentials=sim.credentials, journal=None)
    assert r.state.tolist() == ["accepted", "rejected", "rejected", "rejected", "accepted", "accepted"]
    assert r.code.tolist() == [0, -9, -9, -9, 0, 0]


def test_content_limits_exactly_at_and_over(sim):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002", "447911000003"],
                       "text": ["x" * 1024, "y" * 1025, "   "]})
    r = send_sms(df, template="{text}", credentials=sim.credentials, journal=None)
    assert r.state.tolist() == ["accepted", "invalid", "invalid"]
    assert r.code.tolist() == [0, -5, -4]
    assert "1025 characters" in r.detail.iloc[1]


def test_dry_run_counts_segments_and_sends_nothing(sim):
    df = pd.DataFrame({"phone": ["447911000001", "bad", "447911000001"], "name": ["Zoë 😀", "x", "y"]})
    plan = plan_sms(df, template="Hello {name}")
    s = plan.summary
    assert (s["rows"], s["valid"], s["invalid"], s["requests"]) == (3, 1, 2, 1)
    assert s["extra"] == {"messages UCS-2": 1, "segments UCS-2": 1}
    assert s["invalid_by_reason"] == {(-9, "Numbers are abnormal"): 1, (-20, "Data existing"): 1}
    assert plan.results.state.tolist() == ["not_sent", "invalid", "invalid"]
    assert len(sim.ledger.frame("sms")) == 0


def test_missing_column_is_a_clear_input_error(sim):
    from buka_nb.errors import InputError

    df = pd.DataFrame({"Phone ": ["447911000001"]})
    with pytest.raises(InputError, match=r"no column 'phone'.*Did you mean 'Phone '\?.*number_col"):
        send_sms(df, content="x", credentials=sim.credentials, journal=None)
    with pytest.raises(InputError) as info:
        send_sms(pd.DataFrame({"phone": ["447911000001"]}), template="Hi {nme}", credentials=sim.credentials)
    assert str(info.value) == ("the frame has no column 'nme'; its columns are 'phone'. The template's {nme} reads it: "
                               "add the column, or change the template.")


@pytest.mark.parametrize("template, message", [
    ("Hi {}", "template 'Hi {}': placeholder {} names no column: write {column}, e.g. {name}, and double literal "
              "braces ({{ or }})"),
    ("Hi {name:>5}", "template 'Hi {name:>5}': placeholder {name:>5} has a format; the column's text is used as it "
                     "is: write {name} and format the column before sending"),
    ("Hi {name!r}", "template 'Hi {name!r}': placeholder {name!r} has a format; the column's text is used as it "
                    "is: write {name} and format the column before sending"),
])
def test_a_placeholder_the_template_cannot_fill_as_written_is_refused(template, message):
    from buka_nb.errors import InputError

    with pytest.raises(InputError) as info:
        plan_sms(pd.DataFrame({"phone": ["447911000001"], "name": ["Ann"]}), template=template)
    assert str(info.value) == message


def test_works_inside_a_running_event_loop_like_a_jupyter_cell(sim):
    import asyncio

    async def cell():
        df = pd.DataFrame({"phone": ["447911000001", "447911000002"]})
        return send_sms(df, content="from a notebook", credentials=sim.credentials, journal=None)

    r = asyncio.run(cell())
    assert r.state.tolist() == ["accepted", "accepted"]


def test_read_keeps_a_full_in_order_answer_joined_and_matches_anything_else_row_by_row():
    planner = SmsPlanner(content="hi")
    groups = [WireGroup("hi", "1,2", "o-0,o-1"), WireGroup("hi", "3", "o-2")]
    batch = SmsBatch(0, [0, 1, 2], pa.array(["1", "2", "3"]), pa.array(["o-0", "o-1", "o-2"]),
                     {"groups": groups, "single": False})

    def answer(*items):
        return normalise({"status": "0", "reason": "success",
                          "array": [{"msgId": m, "number": n, "orderId": o} for m, n, o in items]})

    codes, ids = planner.read(batch, answer(("m0", "1", "o-0"), ("m1", "2", "o-1"), ("m2", "3", "o-2")))
    assert codes == [0, 0, 0] and isinstance(ids, Joined) and ids.text == "m0,m1,m2" and list(ids) == ["m0", "m1", "m2"]
    # out of order, an empty msgId, a msgId holding a comma: matched by orderId, the empty one refused
    codes, ids = planner.read(batch, answer(("m2", "3", "o-2"), ("", "1", "o-0"), ("m,1", "2", "o-1")))
    assert (codes, ids) == ([-9, 0, 0], [None, "m,1", "m2"])


def test_joined_is_a_sequence_of_its_strings():
    ids = Joined("a,bb,c")
    assert (len(ids), ids[1], ids[-1], list(ids), "bb" in ids) == (3, "bb", "c", ["a", "bb", "c"], True)
    assert ids == ["a", "bb", "c"] and ids == Joined("a,bb,c") and ids != ["a", "bb"]


@pytest.mark.parametrize("size", [0, 1001])
def test_batch_size_outside_the_apis_limit_is_refused(size):
    from buka_nb.errors import InputError

    with pytest.raises(InputError) as info:
        plan_sms(pd.DataFrame({"phone": ["447911000001"]}), content="hi", batch_size=size)
    assert str(info.value) == f"batch_size must be 1-1000 (BUKA's limit per POST), got {size}"


def test_reports_for_a_results_csv_read_back_without_dtypes_are_refused_with_the_fix(tmp_path):
    from buka_nb.errors import InputError

    results = pd.DataFrame({"channel": ["sms"], "state": ["accepted"], "msg_id": [2.612070356471e18],
                            "delivery": [float("nan")]})
    with pytest.raises(InputError) as info:
        collect_reports(results, credentials=None)
    assert "read it with pd.read_csv(path, index_col='row', dtype=str), or save results as .parquet" in str(info.value)
