"""Every injected fault ends in a clear, documented outcome for every row, and nothing is sent twice.

=====================  =====================================================================
fault                  documented outcome
=====================  =====================================================================
HTTP 503               not processed: retried, rows accepted
HTTP 500               may have been processed: ``unknown`` (not resent); a re-run with
                       ``force_unknown=True`` sends them
reset before           indistinguishable from a lost answer: ``unknown``
reset after / timeout  processed, answer lost: ``unknown``, then reconciled from getSentRcd
-15 throttling         backed off and retried: accepted, ``attempts`` > 1
-16 clock skew         re-signed with a fresh timestamp: accepted, ``attempts`` == 2
-10 balance runs out   campaign stops: that batch ``rejected`` -10, later rows ``not_sent`` -10;
                       a re-run after topping up sends only those
-12 / -18 platform     batch ``rejected`` with the code (retryable); a re-run resends just it
=====================  =====================================================================
"""

from __future__ import annotations

import pandas as pd
import pytest

from buka_nb.simulator import Simulator
from buka_nb.sms import send_sms

STATES = {"accepted", "rejected", "invalid", "not_sent", "unknown"}


def frame(n=9):
    return pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(n)]})


def run(sim, journal, **kw):
    kw.setdefault("batch_size", 3)
    kw.setdefault("max_in_flight", 1)
    return send_sms(frame(), content="hello", credentials=sim.credentials, journal=journal, **kw)


def assert_documented(r):
    assert len(r) == 9 and set(r.state) <= STATES and r.state.notna().all()


def assert_sent_once(sim):
    assert sim.ledger.duplicate_count("sms") == 0


@pytest.mark.parametrize("fault, states, attempts", [
    ("http503,endpoint=sendSms,n=2", ["accepted"] * 9, [1, 1, 1, 2, 2, 2, 1, 1, 1]),
    ("throttle,endpoint=sendSms,n=1+2", ["accepted"] * 9, [3, 3, 3, 1, 1, 1, 1, 1, 1]),
    ("skew,endpoint=sendSms,n=3", ["accepted"] * 9, [1, 1, 1, 1, 1, 1, 2, 2, 2]),
    ("latency=0.05", ["accepted"] * 9, [1] * 9),
])
def test_faults_that_are_retried_or_absorbed(fault, states, attempts, journal_path):
    with Simulator(seed=3, report_delay=(0, 0), faults=[fault]) as sim:
        r = run(sim, journal_path)
        assert_documented(r)
        assert r.state.tolist() == states and r.attempts.tolist() == attempts
        assert len(sim.ledger.frame("sms")) == 9
        assert_sent_once(sim)


@pytest.mark.parametrize("fault", ["http500,endpoint=sendSms,n=2", "reset_before,endpoint=sendSms,n=2"])
def test_unprocessed_but_unanswered_batches_stay_unknown_until_forced(fault, journal_path):
    with Simulator(seed=3, report_delay=(0, 0), faults=[fault]) as sim:
        r = run(sim, journal_path)
        assert_documented(r)
        assert r.state.tolist() == ["accepted"] * 3 + ["unknown"] * 3 + ["accepted"] * 3
        assert r.reason.iloc[3].startswith("Outcome unknown")
        assert len(sim.ledger.frame("sms")) == 6
        again = run(sim, journal_path)
        assert again.state.tolist() == r.state.tolist() and len(sim.ledger.frame("sms")) == 6
        forced = run(sim, journal_path, force_unknown=True)
        assert forced.state.tolist() == ["accepted"] * 9
        assert forced.msg_id.iloc[:3].tolist() == r.msg_id.iloc[:3].tolist()
        assert_sent_once(sim)


@pytest.mark.parametrize("fault, timeout", [("reset_after,endpoint=sendSms,n=2", 15.0),
                                            ("slow=3,endpoint=sendSms,n=2", 0.5)])
def test_processed_but_unanswered_batches_are_reconciled_not_resent(fault, timeout, journal_path):
    with Simulator(seed=3, report_delay=(0, 0), faults=[fault]) as sim:
        r = run(sim, journal_path, timeout=timeout)
        assert_documented(r)
        assert r.state.tolist() == ["accepted"] * 9
        ledger = sim.ledger.frame("sms").set_index("recipient")
        assert r.msg_id.tolist() == ledger.loc[r.recipient, "msg_id"].tolist()
        assert r.reason.iloc[3] == "Success" and r.batch.iloc[3] == 1
        assert_sent_once(sim)


def test_balance_running_out_stops_early_then_resumes(journal_path):
    # each message costs 0.01: 0.05 pays for one batch of 3 but not the second
    with Simulator(seed=3, report_delay=(0, 0), accounts=[{"api_key": "demoKey1", "api_secret": "demoSecret1",
                                                           "sms_app_id": "demoSms1", "balance": 0.05}]) as sim:
        r = run(sim, journal_path)
        assert_documented(r)
        assert r.state.tolist() == ["accepted"] * 3 + ["rejected"] * 3 + ["not_sent"] * 3
        assert r.code.tolist() == [0] * 3 + [-10] * 6
        assert r.detail.iloc[8].startswith("not sent: the campaign stopped after batch 1 failed with -10")
        sim.configure(balance=100.0)
        again = run(sim, journal_path)
        assert again.state.tolist() == ["accepted"] * 9
        assert len(sim.ledger.frame("sms")) == 9
        assert_sent_once(sim)


@pytest.mark.parametrize("code", [-12, -18])
def test_platform_failures_reject_the_batch_and_a_rerun_resends_it(code, journal_path):
    with Simulator(seed=3, report_delay=(0, 0), faults=[f"code={code},endpoint=sendSms,n=2"]) as sim:
        r = run(sim, journal_path)
        assert_documented(r)
        assert r.state.tolist() == ["accepted"] * 3 + ["rejected"] * 3 + ["accepted"] * 3
        assert r.code.iloc[3] == code and r.retryable.iloc[3] and r.category.iloc[3] == "platform"
        again = run(sim, journal_path)
        assert again.state.tolist() == ["accepted"] * 9 and len(sim.ledger.frame("sms")) == 9
        assert_sent_once(sim)


def test_auth_failure_stops_everything_with_the_reason(journal_path):
    from buka_nb.credentials import Credentials

    with Simulator(seed=3, report_delay=(0, 0)) as sim:
        wrong = Credentials("demoKey1", "not-the-secret", sms_app_id="demoSms1", base_url=sim.url)
        r = send_sms(frame(), content="x", credentials=wrong, journal=journal_path, batch_size=3, max_in_flight=1)
        assert r.state.tolist() == ["rejected"] * 3 + ["not_sent"] * 6
        assert r.code.tolist() == [-1] * 9 and r.category.tolist() == ["auth"] * 9
        assert len(sim.ledger.frame("sms")) == 0


def test_rate_cap_spaces_requests_across_concurrent_senders():
    import asyncio

    from buka_nb.client import RateLimiter

    now, slept = [10.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def main() -> None:
        limiter = RateLimiter(4, clock=lambda: now[0], sleep=sleep)
        await asyncio.gather(*(limiter.wait() for _ in range(3)))  # three senders at once: 0, 1/4 and 2/4 s
        now[0] = 12.0  # long after: the next goes at once
        await limiter.wait()

    asyncio.run(main())
    assert slept == [0.25, 0.5]


def test_rate_cap_sends_everything_under_the_platforms_limit(journal_path):
    with Simulator(seed=3, report_delay=(0, 0), rate_limit=5) as sim:
        r = run(sim, journal_path, rate_limit=4, max_in_flight=3)
        assert r.state.tolist() == ["accepted"] * 9
        assert sim.stats()["endpoints"]["sendSms"]["codes"] == {"0": 3}


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_streamed_results_are_reconciled_like_the_frame(tmp_path, suffix):
    from buka_nb.sms import send_sms_csv

    src = tmp_path / "r.csv"
    src.write_text("phone\n" + "".join(f"4479111{i:05d}\n" for i in range(100)))
    faults = ["reset_after,endpoint=sendSms*,n=3"]  # processed, answer lost: unknown, then found in getSentRcd
    with Simulator(seed=3, report_delay=(0, 0), faults=faults) as sim:
        kw = dict(content="hi", credentials=sim.credentials, chunksize=7, batch_size=5, max_in_flight=1)
        frame = send_sms_csv(src, journal=tmp_path / "a.db", **kw)
        sim.reset()
        sim.configure(faults=faults)
        out = send_sms_csv(src, journal=tmp_path / "b.db", out=tmp_path / f"o{suffix}", **kw)
    streamed = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out, index_col="row", dtype=str)
    assert frame.state.eq("accepted").all() and len(streamed) == 100
    assert streamed.state.tolist() == frame.state.tolist() and streamed.msg_id.notna().all()
    assert streamed.index.astype(int).tolist() == list(range(100))
