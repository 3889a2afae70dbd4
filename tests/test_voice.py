"""AI-voice campaigns against the simulator: the 1,000-row must-show, resume, call records, one schema, CLI."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from buka_nb.catalog import lookup
from buka_nb.cli import main
from buka_nb.client import BukaClient
from buka_nb.email import send_email
from buka_nb.errors import InputError
from buka_nb.reports import FETCHERS, collect_reports
from buka_nb.schema import RESULT_COLUMNS, RESULT_SCHEMA
from buka_nb.simulator import Simulator
from buka_nb.sms import send_sms
from buka_nb.voice import collect_call_records, plan_voice, send_voice, send_voice_csv

from .test_email import SENDER, Recorder, seed_table

PAYMENT_REMINDER = 2  # simulator script that needs the properties amount and dueDate (else -51 per row)


def voice_csv(path, n=1000):
    """n customers with per-row properties, invalid rows and rows the simulator refuses; expected (state, code)."""
    rows, expected = [], []
    for i in range(n):
        phone, name, amount, segment = f"4479{i:08d}", f"Customer {i}", f"{10 + i % 90}.50", ["gold", "silver"][i % 2]
        if i % 73 == 3:
            phone, outcome = "12345", ("invalid", -35)
        elif i % 79 == 4:
            name, outcome = "", ("invalid", -35)
        elif i % 67 == 5 and i > 100 and expected[i - 40] == ("accepted", 0):
            phone, outcome = "+" + rows[i - 40][0], ("invalid", -53)  # the same number, written differently
        elif i % 59 == 6:
            amount, outcome = "", ("rejected", -51)  # the script needs it: the platform refuses the row
        elif i % 61 == 7:
            phone, outcome = f"4478{i:08d}", ("rejected", -35)  # the reject scenario below
        else:
            outcome = ("accepted", 0)
        rows.append((phone, name, amount, "2024-07-01", segment))
        expected.append(outcome)
    path.write_text("phone,name,amount,dueDate,segment\n" + "".join(",".join(r) + "\n" for r in rows),
                    encoding="utf-8")
    return rows, expected


def test_voice_csv_of_1000_rows_imports_in_chunks_of_100_with_per_row_properties(tmp_path):
    src = tmp_path / "customers.csv"
    rows, expected = voice_csv(src)
    recorder = Recorder()
    with Simulator(seed=3, scenarios=["^4478=reject@voice"]) as sim, \
            BukaClient(sim.credentials, transport=recorder) as client:
        results = send_voice_csv(src, dialog_flow_id=PAYMENT_REMINDER, robot_count=5, chunksize=400, client=client,
                                 journal=tmp_path / "j.db")
        ledger = sim.ledger.frame("voice")
        duplicates = sim.ledger.duplicate_count("voice")
        tasks = dict(sim.state.tasks)

    assert len(results) == 1000 and results.index.tolist() == list(range(1000))
    assert list(zip(results.state, results.code)) == expected
    counts = pd.Series([s for s, _ in expected]).value_counts()
    assert counts["invalid"] > 25 and counts["rejected"] > 25

    task = results.attrs["voice_task"]
    job = task["job_id"]
    assert list(tasks) == [job] and task["created"] and task["started"] and tasks[job].status == "IN_PROCESS"
    assert task["name"] == results.attrs["campaign_id"] == tasks[job].name
    sent = results[results.state != "invalid"]
    assert sent.task_id.eq(str(job)).all() and results[results.state == "invalid"].task_id.isna().all()
    accepted = results[results.state == "accepted"]
    assert (accepted.msg_id == f"{job}:" + accepted.recipient).all()
    assert results[results.state != "accepted"].msg_id.isna().all()
    assert results.reason[expected.index(("rejected", -51))] == "Customer custom property is incomplete"

    # the ledger holds every accepted row once, in this task; nothing refused was imported
    assert sorted(ledger.recipient) == sorted(accepted.recipient) and duplicates == 0
    assert ledger.task_id.eq(str(job)).all()

    # imports of at most 100, every locally valid row in exactly one of them, with its own properties
    imports = recorder.bodies("/AiVoice/importCustomer")
    per_chunk = sent.groupby(sent.index // 400).size()  # batches never span the 400-row CSV chunks
    assert sorted(len(b["customerPersons"]) for b in imports) == sorted(
        size for n in per_chunk for size in [100] * (n // 100) + [n % 100] * bool(n % 100))
    assert {b["jobId"] for b in imports} == {job}
    persons = {p["phoneNumber"]: p for b in imports for p in b["customerPersons"]}
    assert len(persons) == len(sent) and set(persons) == set(sent.recipient)
    i = expected.index(("accepted", 0))
    phone, name, amount, due, segment = rows[i]
    assert persons[phone] == {"name": name, "phoneNumber": phone,
                              "properties": {"name": name, "amount": amount, "dueDate": due, "segment": segment}}
    assert "amount" not in persons[rows[expected.index(("rejected", -51))][0]]["properties"]
    stored = {c.phone: c.properties for c in tasks[job].customers}
    assert stored == {p: persons[p]["properties"] for p in accepted.recipient}
    assert len(recorder.bodies("/AiVoice/taskStart")) == 1 and len(recorder.bodies("/AiVoice/taskAdd")) == 1


def test_resume_reuses_the_task_and_never_imports_a_row_twice(tmp_path):
    df = pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(250)], "name": [f"C{i}" for i in range(250)]})
    faults = ["reset_after,endpoint=AiVoice/importCustomer,n=2"]  # imported, then the answer is lost
    with Simulator(seed=2, faults=faults) as sim:
        kwargs = dict(credentials=sim.credentials, max_in_flight=1)
        first = send_voice(df, journal=tmp_path / "j.db", **kwargs)
        assert first.state.value_counts().to_dict() == {"accepted": 150, "unknown": 100}
        assert first[first.state == "unknown"].batch.eq(1).all() and first.attrs["voice_task"]["started"]

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the task is running already: no warning about starting it
            again = send_voice(df, journal=tmp_path / "j.db", **kwargs)
        assert again.state.eq("accepted").all() and again.attrs["voice_task"]["created"] is False
        job = first.attrs["voice_task"]["job_id"]
        assert again.attrs["voice_task"]["job_id"] == job and again.task_id.eq(str(job)).all()
        assert (again.msg_id == f"{job}:" + df.phone).all()

        # without a journal the task is found by its name: every row comes back "already in the task"
        third = send_voice(df, journal=None, **kwargs)
        assert third.state.eq("accepted").all() and third.attrs["voice_task"]["job_id"] == job

        ledger = sim.ledger.frame("voice")
        assert len(sim.state.tasks) == 1 and len(ledger) == 250 and ledger.recipient.is_unique
        assert sim.ledger.duplicate_count("voice") == 0
        assert sim.stats()["endpoints"]["AiVoice/importCustomer"]["requests"] == 3 + 1 + 3


def test_lost_task_creation_answer_finds_the_task_by_name(tmp_path):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002"], "name": ["A", "B"]})
    with Simulator(faults=["reset_after,endpoint=AiVoice/taskAdd,n=1"]) as sim:
        r = send_voice(df, credentials=sim.credentials, journal=tmp_path / "j.db", task_name="July reminders")
        assert len(sim.state.tasks) == 1 and r.state.eq("accepted").all()
        assert r.attrs["voice_task"]["name"] == "July reminders" and r.attrs["voice_task"]["started"]


def test_call_records_fill_delivery_pending_then_answered_or_failed(tmp_path):
    df = pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(30)], "name": [f"C{i}" for i in range(30)]})
    with Simulator(seed=4) as sim:
        r = send_voice(df, robot_count=10, credentials=sim.credentials, journal=tmp_path / "j.db")
        early = collect_call_records(r, credentials=sim.credentials)
        assert early.delivery.eq("pending").all() and early.delivery_reason.eq("not called yet").all()
        sim.advance(20 * 60)  # every call has ended; stays within the 30-minute signature window
        late = collect_call_records(early, credentials=sim.credentials)
        via_registry = collect_reports(r, credentials=sim.credentials)
        ledger = sim.ledger.frame("voice").set_index("recipient").loc[df.phone]

    assert "voice" in FETCHERS
    pd.testing.assert_frame_equal(late, via_registry)
    assert late.dtypes.astype(str).to_dict() == RESULT_SCHEMA and r.delivery.isna().all()
    outcome = ledger.outcome.to_numpy()
    assert late.delivery.tolist() == ["delivered" if o == "ANSWERED" else "failed" for o in outcome]
    assert late.delivery_reason.tolist() == outcome.tolist()
    assert set(outcome) > {"ANSWERED", "NO_ANSWER"}
    assert (late.delivered_at.to_numpy() == ledger.deliver_at.dt.floor("s").to_numpy()).all()


def test_local_validation_codes_and_global_errors(sim):
    df = pd.DataFrame({"phone": ["447911000001", "447911000002", "", "447911000001"],
                       "amount": ["10", "", "5", "7"], "dueDate": ["d"] * 4})
    plan = plan_voice(df, name_col=None, properties=["amount", "dueDate"])
    assert plan.results.code.tolist() == [pd.NA, -51, -35, -53]
    assert "property column 'amount' is empty" in plan.results.detail[1]
    assert "column 'phone' is empty" in plan.results.detail[2]
    assert plan.summary["extra"] == {"customers": 1}
    r = send_voice(df, name_col=None, properties=["amount", "dueDate"], dialog_flow_id=PAYMENT_REMINDER,
                   start=False, credentials=sim.credentials, journal=None)
    assert r.state.tolist() == ["accepted", "invalid", "invalid", "invalid"]
    job = r.attrs["voice_task"]["job_id"]
    customer = sim.state.tasks[job].customers[0]
    assert (customer.name, customer.properties) == ("447911000001", {"amount": "10", "dueDate": "d"})
    assert sim.state.tasks[job].status == "CAN_START" and r.attrs["voice_task"]["started"] is False

    requests = sim.stats()["requests_total"]
    for options, message in [({"daily_window": ("08:00", "20:00")}, "between 09:00 and 20:00"),
                             ({"duplicates": "allow"}, "'allow' is not possible"),
                             ({"batch_size": 101}, "batch_size must be 1-100"),
                             ({"phone_col": "mobile"}, r"no column 'mobile'.*--phone-col")]:
        with pytest.raises(InputError, match=message):
            send_voice(df, name_col=None, credentials=sim.credentials, journal=None, **options)
    assert sim.stats()["requests_total"] == requests  # nothing was sent, no task was created


def test_no_valid_row_makes_no_task_and_a_start_failure_is_a_warning(tmp_path):
    with Simulator(faults=["code=-3,endpoint=AiVoice/taskStart"]) as sim:
        r = send_voice(pd.DataFrame({"phone": ["12"], "name": ["A"]}), credentials=sim.credentials, journal=None)
        assert r.state.tolist() == ["invalid"] and r.attrs["voice_task"]["job_id"] is None
        assert sim.stats()["requests_total"] == 0 and not sim.state.tasks

        df = pd.DataFrame({"phone": ["447911000001"], "name": ["A"]})
        with pytest.warns(UserWarning, match=r"was not started: BUKA status -3 \(The customer's balance"):
            r = send_voice(df, credentials=sim.credentials, journal=tmp_path / "j.db")
        assert r.state.tolist() == ["accepted"] and r.attrs["voice_task"]["start_code"] == -3
        sim.configure(faults=[])
        again = send_voice(df, credentials=sim.credentials, journal=tmp_path / "j.db")  # resume: starts it now
        assert again.attrs["voice_task"]["started"] and len(sim.state.tasks) == 1


def test_task_creation_refused_gives_the_rows_its_code(sim):
    r = send_voice(pd.DataFrame({"phone": ["447911000001"], "name": ["A"]}), robot_count=11,
                   credentials=sim.credentials, journal=None)
    assert (r.state[0], r.code[0], r.reason[0]) == (
        "rejected", -52, "The number of concurrent requests exceeds the upper limit")
    assert not sim.state.tasks


def test_sms_email_and_voice_results_concatenate_without_renaming_or_casting(sim):
    phones = pd.DataFrame({"phone": ["447911000001", "bad"], "name": ["Ann", "Bo"]})
    sms = send_sms(phones, content="hello", credentials=sim.credentials, journal=None)
    email = send_email(pd.DataFrame({"email": ["ann@example.com", "nope"]}), template_id=3, from_address=SENDER,
                       subject="News", credentials=sim.credentials, journal=None)
    voice = send_voice(phones, credentials=sim.credentials, journal=None)
    both = pd.concat([sms, email, voice], ignore_index=True)
    for frame in (sms, email, voice, both):
        assert list(frame.columns) == RESULT_COLUMNS and frame.dtypes.astype(str).to_dict() == RESULT_SCHEMA
    table = both.groupby(["channel", "state", "code", "reason"]).size()
    assert table.to_dict() == {("email", "accepted", 0, "Success"): 1,
                               ("email", "invalid", -32, "Invalid email address"): 1,
                               ("sms", "accepted", 0, "Success"): 1, ("sms", "invalid", -9, "Numbers are abnormal"): 1,
                               ("voice", "accepted", 0, "Success"): 1,
                               ("voice", "invalid", -35, "Customer information import failed"): 1}


def test_cli_voice_send_and_dry_run(sim, tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "calls.csv", tmp_path / "out.csv"
    src.write_text("phone;name;amount;dueDate;note\n447911000001;Ann;10;2024-07-01;x\n447911000002;Bo;;2024-07-01;y\n"
                   "12;Cy;5;2024-07-01;z\n447911000003;Dee;7;2024-07-01;w\n", encoding="utf-8")
    c = sim.credentials
    for var, value in {"BUKA_BASE_URL": c.base_url, "BUKA_API_KEY": c.api_key,
                       "BUKA_API_SECRET": c.api_secret.reveal(), "BUKA_VOICE_APP_ID": c.voice_app_id}.items():
        monkeypatch.setenv(var, value)
    base = ["voice", "send", str(src), "--property", "amount", "--property", "dueDate", "--dialog-flow-id", "2",
            "--robot-count", "2", "--task-name", "July"]
    assert main(base + ["--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "4 rows, 2 valid, 2 invalid, 1 request(s); nothing was sent" in printed and "customers: 2" in printed
    assert not sim.state.tasks

    assert main(base + ["--out", str(out), "--journal", str(tmp_path / "j.db")]) == 3
    printed = capsys.readouterr().out
    results = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])
    assert results.state.tolist() == ["accepted", "invalid", "invalid", "accepted"]
    assert results.code.tolist() == ["0", "-51", "-35", "0"]
    assert "voice task jobId 10001: imported and started; collect call outcomes with: buka-nb report" in printed
    assert "row 1 (line 3 of the file): -51 Customer custom property is incomplete" in printed
    assert sim.state.tasks[10001].name == "July"

    sim.advance(15 * 60)  # both calls end; `buka-nb report` fills their outcome from the call records
    assert main(["report", str(out)]) == 0
    reported = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])
    outcome = sim.ledger.frame("voice").set_index("recipient").outcome
    assert reported.delivery_reason[[0, 3]].tolist() == outcome[["447911000001", "447911000003"]].tolist()
    assert reported.delivery.isna().tolist() == [False, True, True, False]
    capsys.readouterr()

    assert main(["voice", "send", str(src), "--daily-window", "07:00-20:00"]) == 2
    assert "between 09:00 and 20:00" in capsys.readouterr().err


def test_voice_catalog_holds_every_code_of_the_seed_table():
    table = seed_table("Intelligent voice response status code description")
    assert len(table) == 35 and table[-53] == "The customer already exists in this task"
    assert {code: lookup("voice", code).reason for code in table} == table


def test_repeats_are_found_by_row_position_whatever_the_index_holds():
    # rows labelled alike are still two rows: the repeated number is imported once, the other row says why
    df = pd.DataFrame({"phone": ["447911000010", "447911000010", "447911000011"], "name": ["a", "b", "c"]},
                      index=[3, 3, float("nan")])
    with Simulator() as sim:
        results = send_voice(df, credentials=sim.credentials, journal=None, progress=False)
        ledger = sim.ledger.frame("voice")
    assert results.index.equals(df.index)
    assert results.state.tolist() == ["accepted", "invalid", "accepted"]
    assert results.code.iloc[1] == -53 and results.detail.iloc[1].startswith("duplicate of row 3.0 (447911000010)")
    assert sorted(ledger.recipient) == ["447911000010", "447911000011"]


def test_a_missing_property_column_names_the_fix_the_cli_has():
    from buka_nb.voice import plan_voice

    with pytest.raises(InputError) as info:
        plan_voice(pd.DataFrame({"phone": ["447911000001"], "name": ["A"]}), properties=["amount"])
    assert str(info.value) == ("the frame has no column 'amount'; its columns are 'phone', 'name'. Add the column, "
                               "or leave it out of properties= (CLI: drop its --property).")


def test_another_campaign_in_a_task_of_the_same_name_does_not_claim_its_rows(tmp_path):
    a = pd.DataFrame({"phone": [f"4479110000{i:02d}" for i in range(6)], "name": list("abcdef")})
    b = pd.DataFrame({"phone": [f"4479110000{i:02d}" for i in range(3, 9)], "name": list("ghijkl")})
    with Simulator() as sim:
        kw = dict(credentials=sim.credentials, journal=tmp_path / "j.db", task_name="Promo", progress=False)
        first = send_voice(a, **kw)
        second = send_voice(b, **kw)
        assert len(sim.state.tasks) == 1 and sim.ledger.duplicate_count("voice") == 0
    assert first.state.eq("accepted").all()
    # the three numbers the first campaign imported are BUKA's -53 here, not this campaign's imports
    assert second.state.tolist() == ["rejected"] * 3 + ["accepted"] * 3
    assert second.code.tolist() == [-53, -53, -53, 0, 0, 0]
    assert second.attrs["voice_task"]["job_id"] == first.attrs["voice_task"]["job_id"]
