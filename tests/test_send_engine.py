"""The shared send path on a scripted transport: journal first, stop early, unknown never resent, resume."""

from __future__ import annotations

import asyncio
import itertools
import json

import httpx
import pandas as pd
import pytest

from buka_nb.client import BukaClient, RetryPolicy
from buka_nb.credentials import Credentials
from buka_nb.errors import InputError
from buka_nb.engine import UNKNOWN_REASON, Batch, ChannelAdapter, Sender
from buka_nb.envelope import normalise
from buka_nb.journal import BatchRecord, Journal
from buka_nb.schema import RESULT_SCHEMA
from buka_nb.sms import send_sms

CREDS = Credentials("key1", "secret-value-1", sms_app_id="app1", base_url="http://127.0.0.1:9/v3")


class FakeBuka:
    """A scripted sendSms/getSentRcd: ``script`` maps the n-th sendSms call (1-based) to a behaviour."""

    def __init__(self, script=None):
        self.script = script or {}
        self.calls = 0
        self.accepted: list[tuple[str, str]] = []  # (number, msgId) the platform acted on
        self.ids = itertools.count(1000000)

    def __call__(self, request):
        if request.url.path.endswith("/getSentRcd"):
            items = [] if not getattr(self, "listed", True) else [{"msgId": m, "number": n, "receiveTime": "2026-01-01T00:00:00+08:00", "status": "0"}
                     for n, m in self.accepted if n not in getattr(self, "hidden", ())]
            return httpx.Response(200, json={"status": "0", "reason": "success", "success": str(len(items)),
                                              "fail": "0", "array": items})
        self.calls += 1
        action = self.script.get(self.calls, "ok")
        body = json.loads(request.content)
        if isinstance(action, dict):
            return httpx.Response(200, json=action)
        if action == "connect":
            raise httpx.ConnectError("refused")
        if action == "dropped":  # never processed, but the client cannot tell: no answer came
            raise httpx.ReadTimeout("no answer")
        numbers, orders = body["numbers"].split(","), body["orderId"].split(",")
        array = []
        for n, o in zip(numbers, orders):
            m = f"260101000000{next(self.ids)}"
            self.accepted.append((n, m))
            array.append({"msgId": m, "number": n, "orderId": o})
        if action == "lost":  # processed, then the answer never arrived
            raise httpx.ReadTimeout("no answer")
        return httpx.Response(200, json={"status": "0", "reason": "success", "success": str(len(array)),
                                          "fail": "0", "array": array})


def frame(n=10):
    return pd.DataFrame({"phone": [f"4479111{i:05d}" for i in range(n)]}, index=pd.RangeIndex(100, 100 + n))


def client_for(fake):
    return BukaClient(CREDS, transport=httpx.MockTransport(fake), retry=RetryPolicy(2, 0.001, 0.002))


def test_result_frame_is_aligned_typed_and_input_untouched(journal_path):
    fake, df = FakeBuka(), frame()
    before = df.copy()
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3, max_in_flight=2)
    pd.testing.assert_frame_equal(df, before)
    assert list(r.index) == list(df.index)
    assert dict(r.dtypes.astype(str)) == RESULT_SCHEMA
    assert r.state.tolist() == ["accepted"] * 10
    assert r.batch.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert r.msg_id.nunique() == 10 and fake.calls == 4
    assert r.order_id.str.fullmatch(r"[0-9a-f]{8}-\d+").all()


def test_stop_early_on_no_balance_then_resume_sends_only_the_rest(journal_path):
    fake = FakeBuka({2: {"status": "-10", "reason": "Insufficient balance which unable to support the task"}})
    df = frame(9)
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3, max_in_flight=1)
    assert r.state.tolist() == ["accepted"] * 3 + ["rejected"] * 3 + ["not_sent"] * 3
    assert r.code.tolist() == [0] * 3 + [-10] * 6
    assert r.category.tolist()[3:] == ["account"] * 6
    assert "stopped after batch 1" in r.detail.iloc[8] and fake.calls == 2
    first_ids = r.msg_id.iloc[:3].tolist()
    with client_for(fake) as c:  # topped up: the same campaign again
        again = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3, max_in_flight=1)
    assert again.state.tolist() == ["accepted"] * 9
    assert again.msg_id.iloc[:3].tolist() == first_ids
    assert fake.calls == 4  # batches 1 and 2 only; batch 0 was not resent
    assert [n for n, _ in fake.accepted].count("447911100000") == 1


def test_lost_answer_is_unknown_never_resent_and_reconciled(journal_path):
    fake = FakeBuka({1: "lost"})
    df = frame(3)
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3)
    # the run's own reconciliation pass finds the numbers in getSentRcd
    assert r.state.tolist() == ["accepted"] * 3 and fake.calls == 1
    assert r.msg_id.tolist() == [m for _, m in fake.accepted]


def test_reconciliation_never_adopts_a_message_another_campaign_journaled(journal_path):
    fake = FakeBuka({2: "dropped"})
    df = frame(2)
    with client_for(fake) as c:
        first = send_sms(df, content="Your code is 1111", client=c, journal=journal_path)
        # a second campaign to the same numbers, whose request BUKA never processed
        second = send_sms(df, content="Your order shipped", client=c, journal=journal_path)
        # getSentRcd lists both numbers, with the first campaign's msgIds: those are not the second's
        assert second.state.tolist() == ["unknown"] * 2 and second.msg_id.isna().all()
        again = send_sms(df, content="Your order shipped", client=c, journal=journal_path)
        assert again.state.tolist() == ["unknown"] * 2 and again.msg_id.isna().all()
    assert first.state.tolist() == ["accepted"] * 2 and fake.calls == 2
    assert Journal(journal_path).claimed_ids("sms") == set(first.msg_id)


def test_reconciliation_skips_another_campaigns_message_to_the_same_number(journal_path):
    fake = FakeBuka({2: "lost"})
    df = frame(2)
    with client_for(fake) as c:
        first = send_sms(df.iloc[:1], content="Your code is 1111", client=c, journal=journal_path)
        # processed, answer lost: getSentRcd lists number 0 twice (the first campaign's message first)
        second = send_sms(df, content="Your order shipped", client=c, journal=journal_path)
    ours = [m for _, m in fake.accepted[1:]]
    assert second.state.tolist() == ["accepted"] * 2 and second.msg_id.tolist() == ours
    assert first.msg_id.tolist() == [fake.accepted[0][1]] and fake.calls == 2


def test_unreconcilable_unknown_stays_unknown_unless_forced(journal_path):
    fake = FakeBuka({1: "lost"})
    fake.listed = False  # the platform does not list the messages yet
    df = frame(2)
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path)
        assert r.state.tolist() == ["unknown", "unknown"] and r.category.tolist() == ["unknown"] * 2
        assert r.code.isna().all() and not r.retryable.any()
        again = send_sms(df, content="hi", client=c, journal=journal_path)
        assert again.state.tolist() == ["unknown", "unknown"] and fake.calls == 1
        forced = send_sms(df, content="hi", client=c, journal=journal_path, force_unknown=True)
        assert forced.state.tolist() == ["accepted"] * 2 and fake.calls == 2


def test_connect_failures_are_not_sent_and_retried_on_resume(journal_path):
    fake = FakeBuka({1: "connect", 2: "connect"})
    df = frame(2)
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path)
        assert r.state.tolist() == ["not_sent"] * 2 and r.category.tolist() == ["transport"] * 2
        assert r.retryable.all() and r.attempts.tolist() == [2, 2]
        again = send_sms(df, content="hi", client=c, journal=journal_path)
    assert again.state.tolist() == ["accepted"] * 2


def test_same_campaign_id_with_other_data_is_refused(journal_path):
    fake = FakeBuka()
    with client_for(fake) as c:
        send_sms(frame(2), content="hi", client=c, journal=journal_path, campaign_id="june")
        with pytest.raises(InputError, match="campaign 'june' was started with different data"):
            send_sms(frame(3), content="hi", client=c, journal=journal_path, campaign_id="june")


def test_journal_holds_every_batch_with_rows_and_order_ids(journal_path):
    fake = FakeBuka()
    df = pd.concat([frame(4), pd.DataFrame({"phone": ["12"]}, index=[7])])
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=2)
    j = Journal(journal_path)
    cid = r.attrs["campaign_id"]
    batches = j.batches(cid)
    assert [(b.batch, b.state, b.rows) for b in batches] == [(0, "done", [0, 1]), (1, "done", [2, 3])]
    assert batches[0].order_ids == r.order_id.iloc[:2].tolist()
    assert batches[1].outcome["msg_ids"] == r.msg_id.iloc[2:4].tolist()
    assert j.invalid(cid) == [(4, "12", -9, r.detail.iloc[4])]
    j.close()


def test_campaigns_collect_garbage_less_often_use_the_system_allocator_and_put_both_back(journal_path, monkeypatch):
    import gc
    import threading

    import pyarrow as pa

    from buka_nb.campaign import CAMPAIGN_GC_THRESHOLD, _campaign_settings

    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    before, pool_before = gc.get_threshold(), pa.default_memory_pool()
    seen = []

    def recording(request):
        seen.append((gc.get_threshold(), pa.default_memory_pool().backend_name))
        return fake(request)

    fake = FakeBuka()
    with BukaClient(CREDS, transport=httpx.MockTransport(recording)) as client:
        send_sms(frame(3), content="hi", client=client, journal=journal_path)
    assert seen == [((CAMPAIGN_GC_THRESHOLD, *before[1:]), "system")]
    assert gc.get_threshold() == before
    assert pa.default_memory_pool().backend_name == pool_before.backend_name
    # two campaigns overlapping in threads: the settings come back when the last one ends
    first_in, second_done = threading.Event(), threading.Event()

    def first():
        with _campaign_settings():
            first_in.set()
            second_done.wait(5)

    t = threading.Thread(target=first)
    t.start()
    first_in.wait(5)
    with _campaign_settings():
        assert gc.get_threshold()[0] == CAMPAIGN_GC_THRESHOLD
    assert gc.get_threshold()[0] == CAMPAIGN_GC_THRESHOLD  # the first is still running
    assert pa.default_memory_pool().backend_name == "system"
    second_done.set()
    t.join(5)
    assert gc.get_threshold() == before
    assert pa.default_memory_pool().backend_name == pool_before.backend_name


def test_a_campaign_plans_and_builds_frames_on_its_event_loop_once_queued_requests_are_out(tmp_path, monkeypatch,
                                                                                          journal_path):
    # no worker thread: handing the GIL between two threads cost more client CPU than their overlap saved
    import asyncio
    import threading

    from buka_nb.results import ResultBuilder
    from buka_nb.sms import SmsPlanner, send_sms_csv

    seen: list[tuple[str, int, str, int]] = []  # (step, first row, thread, requests the platform had then)
    plan, build = SmsPlanner.plan, ResultBuilder.frame

    def planning(self, chunk, offset, *args):
        asyncio.get_running_loop()  # raises outside the event loop's thread
        seen.append(("plan", offset, threading.current_thread().name, fake.calls))
        return plan(self, chunk, offset, *args)

    def building(self, *args):
        asyncio.get_running_loop()
        seen.append(("frame", self.offset, threading.current_thread().name, fake.calls))
        return build(self, *args)

    monkeypatch.setattr(SmsPlanner, "plan", planning)
    monkeypatch.setattr(ResultBuilder, "frame", building)
    csv = tmp_path / "r.csv"
    csv.write_text("phone\n" + "".join(f"4479111{i:05d}\n" for i in range(25)))
    fake = FakeBuka()
    with client_for(fake) as client:
        out = send_sms_csv(csv, content="hi", client=client, journal=journal_path, chunksize=10, batch_size=4)
    assert len(out) == 25 and set(out.state) == {"accepted"}
    assert fake.calls == 8 and len(fake.accepted) == 25  # 4 + 4 + 2 for each chunk of 10, 4 + 1 for the last 5
    assert len({thread for _, _, thread, _ in seen}) == 1
    # chunk k+1 is planned while chunk k's requests are out; a frame once its chunk's answers are in
    assert [(step, row, calls) for step, row, _, calls in seen] == [
        ("plan", 0, 0), ("plan", 10, 3), ("frame", 0, 6), ("plan", 20, 6), ("frame", 10, 8), ("frame", 20, 8)]
    assert not any(t.name.startswith("buka_nb-data") for t in threading.enumerate())


def test_through_httpcore_the_queued_requests_reach_the_platform_before_the_next_chunk_is_planned(
        tmp_path, monkeypatch, sim, journal_path):
    # planning blocks the event loop: what it has not written by then waits for the whole step
    import time

    from buka_nb.sms import SmsPlanner, send_sms_csv
    from buka_nb.transport import CoreWire

    plan = SmsPlanner.plan
    arrived: dict[int, int] = {}

    def received() -> int:
        return sim.stats()["endpoints"].get("sendSms", {}).get("requests", 0)

    def planning(self, chunk, offset, *args):
        # the simulator's own thread takes what was written; the client's loop is held here meanwhile
        deadline = time.monotonic() + 5
        while received() < 3 * (offset // 10) and time.monotonic() < deadline:
            time.sleep(0.01)
        arrived[offset] = received()
        return plan(self, chunk, offset, *args)

    monkeypatch.setattr(SmsPlanner, "plan", planning)
    csv = tmp_path / "r.csv"
    csv.write_text("phone\n" + "".join(f"4479111{i:05d}\n" for i in range(30)))
    with BukaClient(sim.credentials) as client:
        assert type(client._async._wire) is CoreWire
        out = send_sms_csv(csv, content="hi", client=client, journal=journal_path, chunksize=10, batch_size=4)
    assert set(out.state) == {"accepted"} and len(out) == 30
    assert arrived == {0: 0, 10: 3, 20: 6}  # each chunk's 3 requests (4 + 4 + 2 numbers) went out before the next


def test_a_memory_pool_chosen_in_the_environment_is_left_alone(monkeypatch):
    import pyarrow as pa

    from buka_nb.campaign import _campaign_settings

    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    before = pa.default_memory_pool().backend_name
    with _campaign_settings():
        assert pa.default_memory_pool().backend_name == before


def test_each_request_and_response_is_freed_once_read_without_a_collection(journal_path):
    # httpx's response and its stream refer to each other, so without the client cutting that link
    # each request and response (with both bodies) would wait for a collection, which a campaign
    # runs rarely: ~70 MB of them were still garbage at the end of a 10^6-row campaign
    import gc

    fake = FakeBuka()
    gc.collect()
    gc.disable()  # reference counting alone
    try:
        with client_for(fake) as client:
            send_sms(frame(30), content="hi", client=client, journal=journal_path, batch_size=5)
        left = [o for o in gc.get_objects() if isinstance(o, httpx.Response)]
    finally:
        gc.enable()
    assert (fake.calls, len(left)) == (6, 0)


def test_on_httpcore_too_each_response_is_freed_once_read_without_a_collection(journal_path):
    # the default path, httpcore's pools against the simulator: nothing of a request outlives it either
    import gc

    import httpcore

    from buka_nb.simulator import Simulator
    from buka_nb.transport import CoreWire

    with Simulator() as sim:
        gc.collect()
        gc.disable()
        try:
            with BukaClient(sim.credentials) as client:
                wire = type(client._wire)
                result = send_sms(frame(30), content="hi", client=client, journal=journal_path, batch_size=5)
            left = [o for o in gc.get_objects() if isinstance(o, (httpcore.Response, httpcore.Request))]
        finally:
            gc.enable()
        requests = sim.stats()["endpoints"]["sendSms"]["requests"]
    assert (wire, requests, result.state.eq("accepted").sum(), len(left)) == (CoreWire, 6, 30, 0)


def test_first_requests_planned_ahead_are_the_requests_the_whole_chunk_gives(journal_path):
    # the first chunk's opening requests are planned on their own (campaign._plans); refused rows
    # and repeats inside them must not change which rows travel together, nor leave a sender idle
    from buka_nb.sms import SmsPlanner

    phones = [f"4479111{i:05d}" for i in range(3000)]
    for k in (3, 50, 77, 130, 400):
        phones[k] = "12"  # refused locally
    phones[90] = phones[10]  # a repeat
    df = pd.DataFrame({"phone": phones})
    sent = []

    def recording(request):
        body = json.loads(request.content)
        sent.append((body["numbers"], body["orderId"]))
        return fake(request)

    fake = FakeBuka()
    with BukaClient(CREDS, transport=httpx.MockTransport(recording)) as client:
        out = send_sms(df, content="hi", client=client, journal=journal_path, batch_size=100, max_in_flight=4)
    planner = SmsPlanner(content="hi", batch_size=100)
    planner.order_prefix = out["order_id"].dropna().iloc[0][:9]
    whole = planner.plan(df, 0, 0, planner.new_seen())
    expected = [(",".join(b.recipients.to_pylist()), ",".join(b.order_ids.to_pylist())) for b in whole.batches]
    assert sorted(sent) == sorted(expected) and len(sent) == 30
    assert out["state"].value_counts().to_dict() == {"accepted": 2994, "invalid": 6}


def test_each_outcome_is_journaled_with_the_next_departure_and_all_by_the_end(journal_path):
    """A batch's outcome is written in the transaction that marks the next batch in flight; the last
    ones when the sender closes. At each departure the journal already holds every earlier outcome."""
    journal = Journal(journal_path)
    seen: list[dict[str, int]] = []

    class Watching(FakeBuka):
        def __call__(self, request):
            if request.url.path.endswith("/sendSms"):
                seen.append(journal.states(campaign))
            return super().__call__(request)

    fake, campaign = Watching(), "watched"
    with client_for(fake) as c:
        r = send_sms(frame(9), content="hi", client=c, journal=journal, campaign_id=campaign, batch_size=3,
                     max_in_flight=1)
    assert seen == [{"inflight": 1, "planned": 2},
                    {"done": 1, "inflight": 1, "planned": 1},
                    {"done": 2, "inflight": 1}]
    assert journal.states(campaign) == {"done": 3}
    stored = {b.batch: b.outcome["msg_ids"] for b in journal.batches(campaign)}
    assert stored == {k: r.msg_id.iloc[3 * k:3 * k + 3].tolist() for k in range(3)}
    journal.close()


def test_outcomes_waiting_for_the_next_departure_are_written_when_the_sender_is_abandoned(journal_path):
    class Adapter(ChannelAdapter):
        channel = "sms"

        async def send(self, client, batch):
            return normalise({"status": "0", "reason": "success"})

        def read(self, batch, envelope):
            return [0] * len(batch.rows), [f"m{r}" for r in batch.rows]

    journal = Journal(journal_path)
    journal.open_campaign("c", "sms", "fp", 2)
    journal.plan("c", [BatchRecord(0, "planned", [0, 1], ["1", "2"], ["o-0", "o-1"])])

    async def run():
        sender = Sender(Adapter(), None, journal=journal, campaign_id="c", max_in_flight=1)
        sender.start()
        outcomes = await sender.submit([Batch(0, [0, 1], ["1", "2"], ["o-0", "o-1"])])
        waiting = journal.states("c")  # answered, but no departure since to carry its outcome
        await sender.close(cancel=True)
        return outcomes, waiting

    outcomes, waiting = asyncio.run(run())
    assert outcomes[0].msg_ids == ["m0", "m1"] and waiting == {"inflight": 1}
    (done,) = journal.batches("c")
    assert (done.state, done.outcome["msg_ids"], done.attempts) == ("done", ["m0", "m1"], 1)
    journal.close()


def test_a_batch_left_in_flight_by_a_dead_run_and_not_found_by_reconciliation_is_unknown_not_inflight(journal_path):
    fake, df = FakeBuka(), frame(6)
    with client_for(fake) as c:
        send_sms(df, content="hi", client=c, journal=journal_path, campaign_id="c", batch_size=3, max_in_flight=1)
    journal = Journal(journal_path)
    journal.mark_inflight("c", 1, 1.7e9)  # as a run killed after batch 1 left, before its answer was written
    fake.listed = False  # and getSentRcd does not show it
    with client_for(fake) as c:
        r = send_sms(df, content="hi", client=c, journal=journal, campaign_id="c", batch_size=3, max_in_flight=1)
    assert fake.calls == 2  # nothing resent
    assert r.state.tolist() == ["accepted"] * 3 + ["unknown"] * 3
    assert r.reason.iloc[3:].tolist() == [UNKNOWN_REASON] * 3 and r.category.iloc[3:].tolist() == ["unknown"] * 3
    assert journal.states("c") == {"done": 1, "unknown": 1}
    journal.close()


def test_a_column_nothing_sends_does_not_make_a_new_campaign(journal_path):
    fake = FakeBuka()
    df = frame(3)
    with client_for(fake) as c:
        first = send_sms(df, content="hi", client=c, journal=journal_path)
        noted = df.assign(note="called", state=first.state)  # last run's results merged in
        again = send_sms(noted, content="hi", client=c, journal=journal_path)
        assert fake.calls == 1 and again.msg_id.tolist() == first.msg_id.tolist()
        send_sms(df.assign(phone=df.phone.str.replace("4479111", "4479112")), content="hi", client=c,
                 journal=journal_path)  # other numbers: another campaign
        assert fake.calls == 2
    assert len(fake.accepted) == 6


@pytest.mark.parametrize("first, then, refused", [(7, None, 2), (None, 7, 5)])  # requests of 5, 2, 5, 2 ... or 5, 5 ...
def test_a_resume_with_another_chunk_size_sends_nothing_twice(journal_path, first, then, refused):
    fake = FakeBuka({2: {"status": "-18", "reason": "port program unusual"}})  # one request to redo
    df = frame(20)
    with client_for(fake) as c:
        kw = dict(content="hi", client=c, journal=journal_path, batch_size=5, max_in_flight=1)
        one = send_sms(df, chunksize=first, **kw)
        assert one.state.value_counts().to_dict() == {"accepted": 20 - refused, "rejected": refused}
        with pytest.warns(UserWarning, match=f"resumes in chunks of {first or 'all'} rows, as it started"):
            two = send_sms(df, chunksize=then, **kw)
    assert two.state.tolist() == ["accepted"] * 20 and two.index.equals(df.index)
    sent = [n for n, _ in fake.accepted]
    assert sorted(sent) == sorted(df.phone) and len(sent) == 20  # every number once


def test_a_csv_campaign_resumes_with_its_chunk_size_and_old_journals_still_resume(tmp_path):
    from buka_nb.campaign import run_campaign
    from buka_nb.io import iter_recipients, scan_file
    from buka_nb.simulator import Simulator
    from buka_nb.sms import SmsPlanner, send_sms_csv

    src = tmp_path / "r.csv"
    src.write_text("phone\n" + "".join(f"4479111{i:05d}\n" for i in range(40)))
    with Simulator(faults=["code=-18,endpoint=sendSms,n=2"]) as sim:
        kw = dict(content="hi", credentials=sim.credentials, journal=tmp_path / "j.db", batch_size=10, max_in_flight=1)
        one = send_sms_csv(src, **kw)
        with pytest.warns(UserWarning, match="resumes in chunks of 100000 rows"):
            two = send_sms_csv(src, chunksize=7, **kw)
        assert one.state.value_counts().to_dict() == {"accepted": 30, "rejected": 10}
        assert two.state.eq("accepted").all() and sim.ledger.frame("sms").recipient.is_unique
        assert len(sim.ledger.frame("sms")) == 40 and one.attrs["campaign_id"] == two.attrs["campaign_id"]

        # a journal written before 0.1.1, whose fingerprint held the chunk size: the same command resumes it
        old = tmp_path / "old.db"
        legacy = run_campaign(SmsPlanner(content="hello", batch_size=10), iter_recipients(src, chunksize=100_000),
                              data_digest=scan_file(src)[0] + "/100000", n_rows=40, credentials=sim.credentials,
                              journal=old, max_in_flight=1, chunksize=100_000)
        again = send_sms_csv(src, content="hello", credentials=sim.credentials, journal=old, batch_size=10)
        assert again.attrs["campaign_id"] == legacy.attrs["campaign_id"]
        assert sim.ledger.frame("sms").content.value_counts().to_dict() == {"hi": 40, "hello": 40}


def test_rows_a_reconciliation_could_not_find_yet_are_looked_for_again(journal_path):
    fake = FakeBuka({1: "lost"})
    df = frame(3)
    fake.hidden = {df.phone.iloc[1]}  # BUKA lists that message only later
    with client_for(fake) as c:
        first = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3)
        assert first.state.tolist() == ["accepted", "unknown", "accepted"] and first.msg_id.isna().tolist() == [False, True, False]
        fake.hidden = set()
        again = send_sms(df, content="hi", client=c, journal=journal_path, batch_size=3)
    assert again.state.tolist() == ["accepted"] * 3 and fake.calls == 1
    assert again.msg_id.tolist() == [m for _, m in fake.accepted] and again.msg_id.iloc[0] == first.msg_id.iloc[0]
