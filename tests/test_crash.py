"""Crash safety: SIGKILL the sending process mid-send and mid-response; re-running never sends twice.

Reproduce by hand (README, "Crash test by hand"): start ``buka-nb simulator --latency 1``, run
``buka-nb sms send`` on a 50,000-row CSV, press Ctrl-\\ or ``kill -9`` it at any moment, run the same
command again, repeat; ``curl 127.0.0.1:8765/_sim/stats`` shows ``"duplicates": {"sms": 0}``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time

import pandas as pd

from buka_nb.simulator.process import SimulatorProcess

ROWS = 50_000


def sendsms_requests(sim) -> int:
    return sim.stats()["endpoints"].get("sendSms", {}).get("requests", 0)


def wait_for_requests(sim, target: int, proc, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while sendsms_requests(sim) < target and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def test_sigkill_at_random_moments_and_during_a_response_never_sends_twice(tmp_path):
    rng = random.Random(20261125)
    src, out, journal = tmp_path / "recipients.csv", tmp_path / "results.csv", tmp_path / "journal.sqlite3"
    src.write_text("phone\n" + "".join(f"4479{i:08d}\n" for i in range(ROWS)))
    with SimulatorProcess(seed=5, report_delay=(0.0, 0.0), latency=0.15) as sim:
        creds = sim.credentials
        env = {**os.environ, "BUKA_BASE_URL": creds.base_url, "BUKA_API_KEY": creds.api_key,
               "BUKA_API_SECRET": creds.api_secret.reveal(), "BUKA_SMS_APP_ID": creds.sms_app_id}
        cmd = [sys.executable, "-m", "buka_nb", "sms", "send", str(src), "--content", "Your parcel is on its way",
               "--out", str(out), "--journal", str(journal), "--max-in-flight", "4", "--chunksize", "10000"]
        killed_mid_send = 0
        for _ in range(4):  # random moments mid-send
            before = sendsms_requests(sim)
            proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_requests(sim, before + rng.randint(1, 6), proc)
            time.sleep(rng.uniform(0.0, 0.15))
            if proc.poll() is None:
                killed_mid_send += 1
            proc.kill()
            proc.wait()
            assert sim.stats()["duplicates"]["sms"] == 0
        # once during a response: the server has acted on the request and is still answering
        sim.configure(faults=["slow=30,endpoint=sendSms,n=1"])
        before = sendsms_requests(sim)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_requests(sim, before + 1, proc)
        time.sleep(0.3)
        assert proc.poll() is None
        proc.kill()
        proc.wait()
        sim.configure(faults=[])
        in_ledger = len(sim.ledger_frame("sms"))
        assert 0 < in_ledger < ROWS and sim.stats()["duplicates"]["sms"] == 0

        final = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if final.returncode != 0:
            # a kill between a batch's journaled departure and its arrival leaves a batch nobody can know
            # about: reported unknown, not resent. It is exactly the rows the simulator never received.
            unknown = pd.read_csv(out, dtype=str).query("state == 'unknown'")
            assert len(unknown) and not unknown.recipient.isin(sim.ledger_frame("sms").recipient).any(), final.stdout
            final = subprocess.run(cmd + ["--force-unknown"], env=env, capture_output=True, text=True, timeout=300)
        assert final.returncode == 0, final.stdout + final.stderr
        ledger = sim.ledger_frame("sms")
        results = pd.read_csv(out, dtype=str)

    # each kill comes within 6 requests and 0.15 s of a run's start, with 10 or more of its 50 requests still to go
    assert killed_mid_send == 4
    assert len(results) == ROWS and results.row.astype(int).tolist() == list(range(ROWS))
    assert results.state.eq("accepted").all()
    assert len(ledger) == ROWS and ledger.recipient.is_unique
    assert ledger.msg_id.is_unique and set(ledger.msg_id) == set(results.msg_id)
    assert (results.recipient.values == ledger.set_index("msg_id").loc[results.msg_id, "recipient"].values).all()
