"""Bulk email against the simulator: the 2,000-row CSV must-show, grouping by template data, limits, CLI."""

from __future__ import annotations

import json
import re

import httpx
import pandas as pd
import pytest

from buka_nb.catalog import lookup
from buka_nb.cli import main
from buka_nb.client import BukaClient
from buka_nb.email import plan_email, send_email, send_email_csv
from buka_nb.errors import InputError
from buka_nb.simulator import Simulator

SENDER = "noreply@demo.buka.test"  # the simulator account's configured sender
NAMES = ["Ann", "Bo", "Cy", "Dee", "Eli"]


class Recorder(httpx.AsyncBaseTransport):
    """A pass-through transport that keeps every request's path and JSON body."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.requests: list[tuple[str, dict]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.url.path, json.loads(request.content) if request.content else {}))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def bodies(self, suffix: str) -> list[dict]:
        return [body for path, body in self.requests if path.endswith(suffix)]


def email_csv(path, n=2000):
    """n rows (email, first_name) with locally invalid rows and rows the simulator refuses; expected (state, code)."""
    rows, expected = [], []
    for i in range(n):
        address, name = f"user{i}@example.com", NAMES[i % len(NAMES)]
        if i % 97 == 3:
            address, outcome = "", ("invalid", -13)
        elif i % 89 == 4:
            address, outcome = f"user{i}@@example.com", ("invalid", -32)
        elif i % 83 == 5 and i > 100 and expected[i - 50] == ("accepted", 0):
            address, outcome = rows[i - 50][0].upper(), ("invalid", -2)  # same address, other case
        elif i % 71 == 6:
            name, outcome = "", ("invalid", -5)
        elif i % 61 == 7:
            address, outcome = f"bounce{i}@example.com", ("rejected", -32)  # the reject scenario below
        elif i % 67 == 8:
            address, outcome = f"o!neil{i}@example.com", ("rejected", -32)  # valid RFC, refused by the platform
        else:
            outcome = ("accepted", 0)
        rows.append((address, name))
        expected.append(outcome)
    path.write_text("email,first_name\n" + "".join(f"{a},{b}\n" for a, b in rows), encoding="utf-8")
    return expected


def test_email_csv_of_2000_rows_one_result_row_each_and_each_valid_row_sent_once(tmp_path):
    src = tmp_path / "recipients.csv"
    expected = email_csv(src)
    recorder = Recorder()
    with Simulator(seed=5, report_delay=(0, 0), scenarios=["^bounce=reject@email"]) as sim, \
            BukaClient(sim.credentials, transport=recorder) as client:
        results = send_email_csv(src, template_id=2, from_address=SENDER, subject="Welcome aboard",
                                 variables={"name": "first_name"}, chunksize=700, client=client,
                                 journal=tmp_path / "j.db")
        ledger = sim.ledger.frame("email")
        duplicates = sim.ledger.duplicate_count("email")

    assert len(results) == 2000 and results.index.tolist() == list(range(2000))
    assert list(zip(results.state, results.code)) == expected
    counts = pd.Series([s for s, _ in expected]).value_counts()
    assert counts["invalid"] > 80 and counts["rejected"] > 50

    accepted = results[results.state == "accepted"]
    assert accepted.msg_id.notna().all() and accepted.msg_id.is_unique
    assert sorted(ledger.msg_id) == sorted(accepted.msg_id) and duplicates == 0
    assert ledger.set_index("msg_id").loc[accepted.msg_id, "recipient"].tolist() == accepted.recipient.tolist()
    refused = results[results.state != "accepted"]
    assert refused.msg_id.isna().all() and not ledger.recipient.isin(refused.recipient.dropna()).any()

    # one templateData per request, at most 50 addresses each, every locally valid row in exactly one request
    sends = recorder.bodies("/email/sendEmail")
    assert max(len(b["toAddress"].split(",")) for b in sends) == 50
    assert {json.loads(b["templateData"])["name"] for b in sends} == set(NAMES)
    sent = [a for b in sends for a in b["toAddress"].split(",")]
    assert sorted(sent) == sorted(results[results.state.isin(["accepted", "rejected"])].recipient)
    assert {b["subject"] for b in sends} == {"Welcome aboard"} and {b["templateID"] for b in sends} == {"2"}

    dup = expected.index(("invalid", -2))
    assert f"duplicate of row {dup - 50} " in results.detail[dup] and results.reason[dup] == "Repetitive submission"
    assert results.reason[expected.index(("invalid", -13))] == "Recipient address cannot be empty"
    assert "first_name" in results.detail[expected.index(("invalid", -5))]


def test_rows_sharing_variables_share_a_request_and_addresses_are_normalised(sim):
    df = pd.DataFrame({"email": ["Ann@Example.COM", " bo@example.com ", "cy@bücher.de", "dee@example.com"],
                       "code": ["111", "222", "111", "111"], "extra": ["x", "y", "z", "w"]})
    before = df.copy()
    r = send_email(df, template_id="1", from_address=SENDER, subject="Your code", variables=["code"],
                   credentials=sim.credentials, journal=None)
    pd.testing.assert_frame_equal(df, before)  # the input is not modified
    assert r.state.tolist() == ["accepted"] * 4
    assert r.recipient.tolist() == ["Ann@example.com", "bo@example.com", "cy@xn--bcher-kva.de", "dee@example.com"]
    assert r.batch.tolist() == [0, 1, 0, 0]
    assert r.channel.eq("email").all() and r.task_id.isna().all() and r.order_id.isna().all()
    assert sim.stats()["endpoints"]["email/sendEmail"]["requests"] == 2
    ledger = sim.ledger.frame("email").set_index("msg_id")
    assert ledger.loc[r.msg_id, "recipient"].tolist() == r.recipient.tolist()


def test_delivery_reports_move_from_sending_to_delivered_or_failed(tmp_path):
    from buka_nb.reports import collect_reports

    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(60)]})
    with Simulator(seed=9, report_delay=(5.0, 20.0)) as sim:
        r = send_email(df, template_id=3, from_address=SENDER, subject="News", credentials=sim.credentials,
                       journal=tmp_path / "j.db")
        early = collect_reports(r, credentials=sim.credentials)
        sim.advance(25 * 60)  # within the 30-minute signature window
        late = collect_reports(early, credentials=sim.credentials)
        ledger = sim.ledger.frame("email").set_index("msg_id").loc[r.msg_id]
    assert early.delivery.eq("pending").all()
    assert late.delivery.tolist() == ledger.state.tolist() and set(late.delivery) == {"delivered", "failed"}
    failed = late[late.delivery == "failed"]
    assert failed.delivery_reason.eq("failed").all() and late.delivered_at.notna().all()


def test_batch_size_cuts_groups_and_template_variables_map_to_columns():
    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(7)], "first": ["A"] * 7})
    plan = plan_email(df, template_id=2, from_address=SENDER, subject="Hi", variables={"name": "first"},
                      batch_size=3)
    assert plan.summary["requests"] == 3 and plan.results.batch.tolist() == [0, 0, 0, 1, 1, 1, 2]
    assert plan.results.state.eq("not_sent").all()
    with pytest.raises(InputError, match="batch_size must be 1-50"):
        plan_email(df, template_id=2, from_address=SENDER, subject="Hi", batch_size=51)


@pytest.mark.parametrize("options, message", [
    ({"subject": "x" * 101}, "101 characters; BUKA allows at most 100"),
    ({"subject": "  "}, "subject is empty"),
    ({}, "no subject"),
    ({"subject": "Hi", "template_id": "welcome"}, "not an integer"),
    ({"subject": "Hi", "from_address": ""}, "from_address is empty"),
    ({"subject": "Hi", "ad_flag": 3}, "ad_flag=3"),
])
def test_global_problems_raise_before_anything_is_sent(sim, options, message):
    df = pd.DataFrame({"email": ["a@example.com"]})
    kwargs = {"template_id": 2, "from_address": SENDER, **options}
    with pytest.raises(InputError, match=message):
        send_email(df, credentials=sim.credentials, journal=None, **kwargs)
    assert sim.stats()["requests_total"] == 0


def test_per_row_subjects_are_checked_and_grouped(sim):
    df = pd.DataFrame({"email": ["a@example.com", "b@example.com", "c@example.com", "d@example.com"],
                       "subj": ["x" * 100, "x" * 101, "", "x" * 100]})
    r = send_email(df, template_id=3, from_address=SENDER, subject_col="subj", credentials=sim.credentials,
                   journal=None)
    assert r.state.tolist() == ["accepted", "invalid", "invalid", "accepted"]
    assert r.code.tolist() == [0, -17, -17, 0]
    assert "101 characters" in r.detail[1] and r.batch[0] == r.batch[3]


def test_unknown_batch_stays_unknown_and_is_not_resent_on_resume(tmp_path):
    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(120)]})
    faults = ["reset_after,endpoint=email/sendEmail,n=2"]  # processed, then the answer is lost
    with Simulator(seed=1, report_delay=(0, 0), faults=faults) as sim:
        kwargs = dict(template_id=3, from_address=SENDER, subject="News", credentials=sim.credentials,
                      journal=tmp_path / "j.db", max_in_flight=1)
        first = send_email(df, **kwargs)
        again = send_email(df, **kwargs)
        stats = sim.stats()["endpoints"]["email/sendEmail"]
        ledger = sim.ledger.frame("email")
    assert first.state.value_counts().to_dict() == {"accepted": 70, "unknown": 50}
    unknown = first[first.state == "unknown"]
    assert unknown.batch.eq(1).all() and unknown.category.eq("unknown").all() and unknown.code.isna().all()
    # email has nothing to reconcile with: the advice is the console, or forcing a resend
    assert unknown.detail.str.endswith("email cannot be reconciled: look for it among the sent emails in BUKA's "
                                       "console; force_unknown=True (--force-unknown) sends it again, twice if it "
                                       "did go out").all()
    pd.testing.assert_frame_equal(again[["state", "msg_id"]], first[["state", "msg_id"]])
    assert stats["requests"] == 3 and len(ledger) == 120 and ledger.recipient.is_unique  # never sent twice


def test_sender_not_configured_stops_the_campaign_early(sim):
    df = pd.DataFrame({"email": [f"u{i}@example.com" for i in range(120)]})
    r = send_email(df, template_id=3, from_address="other@example.com", subject="x", credentials=sim.credentials,
                   journal=None, max_in_flight=1)
    assert r.state.value_counts().to_dict() == {"not_sent": 70, "rejected": 50}
    assert r.code.eq(-10).all() and r.category.eq("config").all()
    assert sim.stats()["endpoints"]["email/sendEmail"]["requests"] == 1


def test_cli_email_send_and_dry_run(sim, tmp_path, monkeypatch, capsys):
    src, out = tmp_path / "mail.csv", tmp_path / "out.csv"
    src.write_text("Email;first_name\nann@example.com;Ann\nnot-an-address;Bo\nANN@example.com;Ann\n;Cy\n",
                   encoding="utf-8")
    c = sim.credentials
    for var, value in {"BUKA_BASE_URL": c.base_url, "BUKA_API_KEY": c.api_key,
                       "BUKA_API_SECRET": c.api_secret.reveal(), "BUKA_EMAIL_APP_ID": c.email_app_id}.items():
        monkeypatch.setenv(var, value)
    base = ["email", "send", str(src), "--template-id", "2", "--from", SENDER, "--subject", "Hi",
            "--email-col", "Email", "--var", "name=first_name"]
    assert main(base + ["--dry-run"]) == 0
    printed = capsys.readouterr().out
    assert "4 rows, 1 valid, 3 invalid, 1 request(s); nothing was sent" in printed
    assert "-32  Invalid email address" in printed and len(sim.ledger.frame("email")) == 0

    assert main(base + ["--out", str(out), "--journal", str(tmp_path / "j.db")]) == 3
    printed = capsys.readouterr().out
    results = pd.read_csv(out, dtype=str, keep_default_na=False, na_values=[""])
    assert results.state.tolist() == ["accepted", "invalid", "invalid", "invalid"]
    assert results.code.tolist() == ["0", "-32", "-2", "-13"]
    assert "4 rows: 1 accepted, 0 rejected, 3 invalid" in printed
    assert "row 2 (line 4 of the file): -2 Repetitive submission: duplicate of row 0" in printed

    assert main(["email", "send", str(src), "--template-id", "2", "--from", SENDER, "--subject", "Hi"]) == 2
    err = capsys.readouterr().err
    assert "mail.csv has no column 'email'" in err and "Did you mean 'Email'?" in err and "--email-col" in err


def seed_table(title: str) -> dict[int, str]:
    """One status table of the seed file: {code: reason}."""
    from .conftest import SEED

    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    cells = []
    for line in lines[start + 3:]:
        if not line.endswith("|"):
            break
        cells.append(line[:-1].strip())
    pairs = dict(zip(cells[::2], cells[1::2]))
    assert all(re.fullmatch(r"-?\d+", code) for code in pairs)
    return {int(code): reason for code, reason in pairs.items()}


def test_email_catalog_holds_every_code_of_the_seed_table():
    table = seed_table("Email response status code description")
    assert len(table) == 33 and table[-2] == "Repetitive submission"
    assert {code: lookup("email", code).reason for code in table} == table


def test_repeats_are_found_by_row_position_whatever_the_index_holds(sim):
    # a repeated index label must not hide a repeated address, and a NaN label must not make a row its own repeat
    df = pd.DataFrame({"email": ["e@example.com", "x@example.com", "E@example.com", "f@example.com"]},
                      index=[7, 8, 7, float("nan")])
    results = send_email(df, template_id=2, from_address=SENDER, subject="Hi", credentials=sim.credentials,
                         journal=None, progress=False)
    assert results.index.equals(df.index)
    assert results.state.tolist() == ["accepted", "accepted", "invalid", "accepted"]
    assert results.code.iloc[2] == -2 and results.detail.iloc[2].startswith("duplicate of row 7.0 (E@example.com, ignoring case)")
    ledger = sim.ledger.frame("email")
    assert sorted(ledger.recipient) == ["e@example.com", "f@example.com", "x@example.com"]
    assert sim.ledger.duplicate_count("email") == 0


def test_a_missing_variable_column_names_the_fix_the_cli_has():
    with pytest.raises(InputError) as info:
        plan_email(pd.DataFrame({"email": ["a@example.com"]}), template_id=2, from_address=SENDER, subject="Hi",
                   variables={"name": "first_name"})
    assert str(info.value) == ("the frame (template variable 'name') has no column 'first_name'; its columns are "
                               "'email'. Add the column, or map the variable to one there is: "
                               "variables={'name': <column>} (CLI: --var name=<column>).")


@pytest.mark.parametrize("address, why", [
    ("x" * 65 + "@example.com", "The part before the @-sign is 65 characters; mail servers take at most 64 (RFC 5321)."),
    ("ann@example.c", "The domain name example.c ends in c: a top-level domain has 2 or more letters."),
])
def test_addresses_no_mail_server_takes_are_refused_locally(address, why):
    from buka_nb.email import check_address

    assert check_address(address) == (None, why)
    assert check_address("x" * 64 + "@example.com") == ("x" * 64 + "@example.com", "")


def test_an_internationalised_top_level_domain_is_sent_and_accepted(sim):
    df = pd.DataFrame({"email": ["ann@пример.рф", "bo@example.c"]})
    r = send_email(df, template_id=2, from_address=SENDER, subject="Hi", credentials=sim.credentials, journal=None,
                   progress=False)
    assert r.state.tolist() == ["accepted", "invalid"] and r.recipient.tolist() == ["ann@xn--e1afmkfd.xn--p1ai", "bo@example.c"]
    assert r.code.tolist() == [0, -32]


def test_the_docstring_examples_hold():
    import doctest

    from buka_nb import email, phones

    assert doctest.testmod(email).failed == 0 and doctest.testmod(phones).failed == 0
