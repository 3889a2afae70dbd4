"""The API secret and Sign values never reach a log, repr, exception, result frame, journal or CLI output."""

from __future__ import annotations

import io
import logging
import time
from contextlib import redirect_stderr, redirect_stdout

import pandas as pd
import pytest

from buka_nb.cli import main
from buka_nb.client import BukaClient
from buka_nb.credentials import Credentials
from buka_nb.errors import AuthError
from buka_nb.reports import collect_reports
from buka_nb.signing import sign
from buka_nb.simulator import Simulator
from buka_nb.sms import send_sms

KEY, SECRET = "acmeKey7", "Zz-very-secret-42"


def test_no_secret_or_sign_anywhere(tmp_path, monkeypatch):
    started = int(time.time())
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.DEBUG)
    texts: list[str] = []
    events: list[dict] = []
    try:
        account = {"api_key": KEY, "api_secret": SECRET, "sms_app_id": "acmeSms1"}
        with Simulator(seed=2, report_delay=(0, 0), accounts=[account]) as sim:
            creds = sim.credentials
            texts += [repr(creds), str(creds), repr(creds.api_secret), f"{creds.api_secret}", repr(sim)]
            df = pd.DataFrame({"phone": ["447911000001", "bad", "447911000002"]})
            journal = tmp_path / "j.db"
            with BukaClient(creds, tracer=events.append) as client:
                texts.append(repr(client))
                results = send_sms(df, content="hello", client=client, journal=journal)
                results = collect_reports(results, client=client)
            texts += [results.to_csv(), repr(results), str(results.attrs)]
            wrong = Credentials(KEY, "not-" + SECRET, sms_app_id="acmeSms1", base_url=sim.url)
            try:
                with BukaClient(wrong) as client:
                    client.get_balance()
            except AuthError as exc:
                texts += [str(exc), repr(exc)]
            else:
                raise AssertionError("a wrong secret must fail")
            for var, value in {"BUKA_BASE_URL": sim.url, "BUKA_API_KEY": KEY, "BUKA_API_SECRET": SECRET,
                               "BUKA_SMS_APP_ID": "acmeSms1"}.items():
                monkeypatch.setenv(var, value)
            src = tmp_path / "r.csv"
            src.write_text("phone\n447911000003\n447911000004\n")
            out, err = io.StringIO(), io.StringIO()
            with redirect_stdout(out), redirect_stderr(err):
                main(["sms", "send", str(src), "--content", "hi", "--out", str(tmp_path / "o.csv"),
                      "--journal", str(journal)])
                main(["balance"])
                monkeypatch.setenv("BUKA_API_SECRET", "wrong-" + SECRET)
                main(["balance"])
            texts += [out.getvalue(), err.getvalue(), (tmp_path / "o.csv").read_text()]
            assert "Authentication error" in err.getvalue()
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    texts += [sink.getvalue(), str(events), journal.read_bytes().decode("latin-1")]
    ended = int(time.time())
    signs = {sign(KEY, SECRET, t) for t in range(started - 5, ended + 5)}
    blob = "\n".join(texts)
    assert "GET /getBalance" in sink.getvalue()  # the debug log really was captured
    assert len(events) >= 2 and all(e["headers"]["Sign"] == "********" for e in events)
    assert SECRET not in blob
    assert not [s for s in signs if s in blob]


def test_credentials_copy_in_memory_but_never_pickle():
    import copy
    import dataclasses
    import pickle

    from buka_nb.credentials import Credentials

    creds = Credentials("key1", "s3cret-value-9", sms_app_id="app1")
    clone = copy.deepcopy(creds)
    assert clone == creds and clone.api_secret.reveal() == "s3cret-value-9" and "s3cret" not in repr(clone)
    assert dataclasses.asdict(creds)["api_secret"].reveal() == "s3cret-value-9"
    with pytest.raises(TypeError, match="Secret values cannot be pickled"):
        pickle.dumps(creds)
