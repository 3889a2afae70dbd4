"""Simulator: auth, clock skew, every SMS limit code, exact response shapes, ledger, reports over time.

Talks HTTP to a real loopback server with httpx and signing.auth_headers only (never the client).
Timestamps come from the simulator's own clock, so a wrong machine clock cannot fail these tests.
"""

from __future__ import annotations

import re
import time

import httpx
import pytest

from buka_nb.signing import auth_headers
from buka_nb.simulator import DeliveryModel, Simulator

ALL_DELIVERED = DeliveryModel(delivered=1.0, failed=0.0, slow=0.0)
HTTP = httpx.Client(timeout=10)  # shared: building an SSL context per client costs ~30 ms


class Api:
    """A tiny signed HTTP helper bound to one simulator."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.creds = sim.credentials
        self.http = httpx.Client(base_url=sim.url, timeout=10, verify=False)  # plain http: no SSL context

    def headers(self, ts: int | None = None, key: str | None = None, secret: str | None = None) -> dict:
        ts = int(self.sim.now()) if ts is None else ts
        return auth_headers(key or self.creds.api_key, secret or self.creds.api_secret.reveal(), ts)

    def post(self, path: str, body: dict, **kw) -> dict:
        return self.http.post(path, json=body, headers=self.headers(**kw)).json()

    def get(self, path: str, params: dict | None = None, **kw) -> dict:
        return self.http.get(path, params=params, headers=self.headers(**kw)).json()

    def send(self, numbers: str, content: str = "hello", **extra) -> dict:
        return self.post("/sendSms", {"appId": self.creds.sms_app_id, "numbers": numbers, "content": content, **extra})


@pytest.fixture
def sim():
    with Simulator(seed=7, report_delay=(5.0, 10.0), delivery=ALL_DELIVERED) as s:
        yield s


@pytest.fixture
def api(sim):
    return Api(sim)


def test_signing_vector_is_accepted_and_a_wrong_sign_is_minus_1():
    # The documented vector: key bDqJFiq9, secret 7bz1lzh9, timestamp 1630468800 → 05d7a508…
    # The simulator's clock is moved to that instant, so the test is independent of the machine clock.
    account = {"api_key": "bDqJFiq9", "api_secret": "7bz1lzh9", "sms_app_id": "4luaKsL2"}
    with Simulator(accounts=[account], clock_offset=1630468800 - time.time()) as sim:
        url = sim.url + "/getBalance"
        good = {"Api-Key": "bDqJFiq9", "Timestamp": "1630468800", "Sign": "05d7a50893e22a5c4bb3216ae3396c7c"}
        assert HTTP.get(url, headers=good).json()["status"] == "0"
        upper = good | {"Sign": good["Sign"].upper()}  # the server compares case-insensitively
        assert HTTP.get(url, headers=upper).json()["status"] == "0"
        wrong = good | {"Sign": "05d7a50893e22a5c4bb3216ae3396c7d"}
        assert HTTP.get(url, headers=wrong).json() == {"status": "-1", "reason": "Authentication error"}
        unknown = good | {"Api-Key": "nobody"}
        assert HTTP.get(url, headers=unknown).json()["status"] == "-1"
        assert HTTP.get(url).json()["status"] == "-1"
        lower_names = {k.lower(): v for k, v in good.items()}  # header names are case-insensitive
        assert HTTP.get(url, headers=lower_names).json()["status"] == "0"


def test_clock_skew_codes_per_channel():
    with Simulator(clock_offset=3600.0) as sim:
        api = Api(sim)
        stale = int(sim.now()) - 1801
        assert api.get("/getBalance", ts=stale)["status"] == "-16"
        assert api.get("/getBalance", ts=int(sim.now()) - 1700)["status"] == "0"
        assert api.get("/getBalance", ts=int(sim.now() * 1000))["status"] == "-16"  # milliseconds
        email = api.post("/email/sendEmail", {"appId": api.creds.email_app_id}, ts=stale)
        assert email["status"] == "-6"
        voice = api.post("/AiVoice/dialogFlowList", {"appId": api.creds.voice_app_id}, ts=stale)
        assert voice == {"status": "-4", "reason": "Timestamp expires", "data": None}


def test_get_balance_shape_and_charging_by_segments(api):
    assert api.get("/getBalance") == {"status": "0", "reason": "success", "balance": "1000.000000",
                                       "gift": "0.000000", "credit": "0.000000"}
    assert api.send("918500000001,918500000002", "x" * 161)["success"] == "2"  # 2 segments each
    assert api.get("/getBalance")["balance"] == "999.960000"


def test_send_sms_shape_and_ids(api, sim):
    body = api.send("91856321412,12345,91856321413", "hello world", orderId="a1,a2,a3", senderId="ACME")
    assert list(body) == ["status", "reason", "success", "fail", "array"]
    assert (body["status"], body["reason"], body["success"], body["fail"]) == ("0", "success", "2", "1")
    assert [(i["number"], i["orderId"]) for i in body["array"]] == [("91856321412", "a1"), ("91856321413", "a3")]
    for item in body["array"]:
        assert list(item) == ["msgId", "number", "orderId"]
        assert re.fullmatch(r"\d{19}", item["msgId"])
    assert len({i["msgId"] for i in body["array"]}) == 2
    no_order = api.send("91856321414")
    assert no_order["array"][0]["orderId"] == ""
    frame = sim.ledger.frame("sms")
    assert frame["order_id"].tolist() == ["a1", "a3", ""]
    assert frame["sender"].tolist() == ["ACME", "ACME", ""]


SMS_ERRORS = [
    ({"numbers": ""}, "-8"),
    ({"content": ""}, "-4"),
    ({"content": "x" * 1025}, "-5"),
    ({"numbers": ",".join(str(91850000000 + i) for i in range(1001))}, "-7"),
    ({"orderId": "1,2"}, "-22"),
    ({"senderId": "S" * 33}, "-22"),
    ({"appId": "otherApp"}, "-22"),
    ({"numbers": "12,abc,+918500000001"}, "-9"),
    ({"numbers": "091856321412,0044791112345"}, "-9"),  # a leading zero is a national format (§1.4)
]


@pytest.mark.parametrize(("change", "code"), SMS_ERRORS)
def test_send_sms_request_codes(api, sim, change, code):
    body = {"appId": api.creds.sms_app_id, "numbers": "918500000001", "content": "hi"} | change
    answer = api.post("/sendSms", body)
    assert answer["status"] == code
    assert list(answer) == ["status", "reason"]
    assert sim.ledger.count("sms") == 0


def test_a_number_with_a_leading_zero_is_refused_among_good_ones(api, sim):
    answer = api.send("918500000001,091856321412")
    assert (answer["status"], answer["success"], answer["fail"]) == ("0", "1", "1")
    assert [i["number"] for i in answer["array"]] == ["918500000001"] and sim.ledger.count("sms") == 1


def test_send_sms_limits_for_get_and_post(api):
    hundred = ",".join(str(91850000000 + i) for i in range(100))
    params = {"appId": api.creds.sms_app_id, "content": "hi there"}
    assert api.get("/sendSms", params | {"numbers": hundred})["success"] == "100"
    assert api.get("/sendSms", params | {"numbers": hundred + ",91859999999"})["status"] == "-7"
    thousand = ",".join(str(91860000000 + i) for i in range(1000))
    assert api.send(thousand)["success"] == "1000"


def test_balance_and_locked_account_codes():
    with Simulator(balance=0.015) as sim:
        api = Api(sim)
        assert api.send("918500000001")["status"] == "0"
        assert api.send("918500000002,918500000003")["status"] == "-10"  # all or nothing
        assert sim.ledger.count("sms") == 1
        assert api.get("/getBalance")["balance"] == "0.005000"
        sim.configure(locked=True)
        assert api.get("/getBalance")["status"] == "-13"
        assert api.send("918500000004")["status"] == "-13"


def test_batch_send(api, sim):
    groups = [{"numbers": "918500000001,918500000002", "content": "first", "orderId": "o1,o2"},
              {"numbers": "918500000003,bad", "content": "second", "senderId": ""}]
    body = api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": groups})
    assert (body["status"], body["success"], body["fail"]) == ("0", "3", "1")
    assert [i["orderId"] for i in body["array"]] == ["o1", "o2", ""]
    assert sim.ledger.frame("sms")["content"].tolist() == ["first", "first", "second"]
    big = [{"numbers": ",".join(str(91850000000 + i) for i in range(600)), "content": "c"}] * 2
    assert api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": big})["status"] == "-7"
    assert api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": []})["status"] == "-8"


def test_a_batch_is_one_ledger_append_with_each_groups_content_sender_units_and_duplicates(api, sim):
    groups = [{"numbers": "918500000001,918500000002", "content": "one", "senderId": "A"},
              {"numbers": "918500000003", "content": "x" * 200, "senderId": "B"},           # 2 segments
              {"numbers": "918500000001,918500000004", "content": "one", "senderId": "C"}]  # 01 again, same text
    body = api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": groups})
    assert (body["status"], body["success"], body["fail"]) == ("0", "5", "0")
    ids = [int(i["msgId"]) for i in body["array"]]
    assert ids == list(range(ids[0], ids[0] + 5))  # one block of consecutive ids for the request
    frame = sim.ledger.frame("sms")
    assert frame["recipient"].tolist() == ["918500000001", "918500000002", "918500000003", "918500000001",
                                           "918500000004"]
    assert frame["content"].tolist() == ["one", "one", "x" * 200, "one", "one"]
    assert frame["sender"].tolist() == ["A", "A", "B", "C", "C"]
    assert frame["units"].tolist() == [1, 1, 2, 1, 1]
    assert frame["duplicate"].tolist() == [False, False, False, True, False]
    assert frame["request_no"].tolist() == [1] * 5
    assert sim.ledger.row("sms", 2)["msg_id"] == body["array"][2]["msgId"]
    assert api.send("918500000003", "x" * 200)["status"] == "0"  # the second group's scope: a resend
    assert sim.ledger.frame("sms")["duplicate"].tolist()[-1] is True


def test_group_fields_that_are_not_strings_are_read_as_a_java_string_field_would_be(api, sim):
    # numbers and content as JSON numbers, a null senderId, no orderId: coerced to text, not refused
    groups = [{"numbers": 918500000011, "content": 42, "senderId": None},
              {"numbers": "918500000012", "content": True, "orderId": "o12"}]
    body = api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": groups})
    assert (body["status"], body["success"]) == ("0", "2")
    assert [(i["number"], i["orderId"]) for i in body["array"]] == [("918500000011", ""), ("918500000012", "o12")]
    frame = sim.ledger.frame("sms")
    assert (frame["content"].tolist(), frame["sender"].tolist()) == (["42", "true"], ["", ""])
    for bad in ({"numbers": ["918500000013"], "content": "x"}, {"numbers": "918500000013", "content": {"a": 1}}):
        assert api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": [bad]})["status"] == "-22"


def test_scenarios_apply_to_every_group_of_a_batch():
    with Simulator(scenarios=["^91888=fail:EXPIRED", {"match": "^late", "action": "pending", "field": "content"}],
                   report_delay=(0, 0), delivery=ALL_DELIVERED) as sim:
        api = Api(sim)
        groups = [{"numbers": "918500000001,918880000001", "content": "first"},
                  {"numbers": "918500000002,918880000002", "content": "late one"},
                  {"numbers": "918880000003,918500000003", "content": "last"}]
        assert api.post("/sendSms/batch", {"appId": api.creds.sms_app_id, "array": groups})["status"] == "0"
        frame = sim.ledger.frame("sms")
        assert frame["reason"].tolist() == ["success", "EXPIRED", "", "", "EXPIRED", "success"]
        assert frame["state"].tolist() == ["delivered", "failed", "pending", "pending", "failed", "delivered"]


def test_get_report_moves_from_sending_to_delivered_with_sim_time(api, sim):
    ids = [i["msgId"] for i in api.send("918500000001,918500000002")["array"]]
    query = {"appId": api.creds.sms_app_id, "msgIds": ",".join(ids + ["1234567890123456789"])}
    before = api.get("/getReport", query)
    assert {k: before[k] for k in ("success", "fail", "sending", "nofound")} == \
        {"success": "0", "fail": "0", "sending": "2", "nofound": "1"}
    assert [(i["status"], i["receiveTime"]) for i in before["array"]] == [("-1", ""), ("-1", "")]
    sim.advance(10.5)
    after = api.get("/getReport", query)
    assert list(after) == ["status", "reason", "success", "fail", "sending", "nofound", "array"]
    assert (after["success"], after["sending"], after["nofound"]) == ("2", "0", "1")
    for item in after["array"]:
        assert list(item) == ["msgId", "number", "receiveTime", "status"]
        assert item["status"] == "0"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", item["receiveTime"])
    assert api.get("/getReport", {"appId": api.creds.sms_app_id, "msgIds": ""})["status"] == "-14"
    too_many = ",".join(str(10**18 + i) for i in range(201))
    assert api.get("/getReport", {"appId": api.creds.sms_app_id, "msgIds": too_many})["status"] == "-14"


def test_get_sent_rcd_lists_final_messages_in_the_window(api, sim):
    api.send("918500000001,918500000002")
    sim.advance(20)
    api.send("918500000003")  # still sending: not listed
    start = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(sim.now() + 8 * 3600 - 3600))
    end = time.strftime("%Y-%m-%dT%H:%M:%S+08:00", time.gmtime(sim.now() + 8 * 3600 + 60))
    q = {"appId": api.creds.sms_app_id, "startTime": start, "endTime": end}
    body = api.get("/getSentRcd", q)
    assert (body["status"], body["success"], body["fail"]) == ("0", "2", "0")
    assert [i["number"] for i in body["array"]] == ["918500000001", "918500000002"]
    assert {i["status"] for i in body["array"]} == {"0"}
    assert [i["number"] for i in api.get("/getSentRcd", q | {"startIndex": 1})["array"]] == ["918500000002"]
    assert api.get("/getSentRcd", q | {"startTime": "yesterday"})["status"] == "-11"
    wide = "2020-01-01T00:00:00+08:00", "2020-02-02T00:00:00+08:00"
    assert api.get("/getSentRcd", q | dict(zip(("startTime", "endTime"), wide)))["status"] == "-25"


def test_outcomes_are_reproducible_from_the_seed():
    numbers = ",".join(str(91870000000 + i) for i in range(1000))

    def run(seed: int) -> list[tuple[str, str, float]]:
        with Simulator(seed=seed, report_delay=(2.0, 30.0)) as sim:
            Api(sim).send(numbers, "promo")
            f = sim.ledger.frame("sms")
            delay = (f["deliver_at"] - f["submitted_at"]).dt.total_seconds().round(3)
            return list(zip(f["outcome"], f["reason"], delay))

    first, again, other = run(11), run(11), run(12)
    assert first == again
    assert first != other
    delivered = sum(o == "delivered" for o, _, _ in first)
    assert 850 <= delivered <= 950  # ~90 % + ~2 % slow of a realistic mix
    assert {r for o, r, _ in first if o == "failed"} <= {"UNDELIV", "EXPIRED", "REJECTD", "UNKNOWN"}


def test_ledger_counts_duplicates_and_stats(api, sim):
    api.send("918500000001,918500000002", "same text")
    api.send("918500000001", "same text")       # a resend: duplicate
    api.send("918500000001", "different text")  # new content: not a duplicate
    assert sim.ledger.count("sms") == 4
    assert sim.ledger.count("sms", "918500000001") == 3
    dups = sim.ledger.duplicates("sms")
    assert dups["recipient"].tolist() == ["918500000001"]
    assert dups["request_no"].tolist() == [2]
    stats = sim.stats()
    assert stats["messages"]["sms"] == 4 and stats["duplicates"]["sms"] == 1
    assert stats["endpoints"]["sendSms"] == {"requests": 3, "codes": {"0": 3}}


def test_scenarios_force_codes_rejections_and_failures():
    scenarios = ["^91666=code:-3@sms", "^91777=reject", "^91888=fail:EXPIRED"]
    with Simulator(scenarios=scenarios, report_delay=(0, 0), delivery=ALL_DELIVERED) as sim:
        api = Api(sim)
        assert api.send("918500000001,916660000000")["status"] == "-3"
        body = api.send("918500000001,917770000000,918880000000")
        assert (body["success"], body["fail"]) == ("2", "1")
        report = api.get("/getReport", {"appId": api.creds.sms_app_id,
                                        "msgIds": ",".join(i["msgId"] for i in body["array"])})
        assert [i["status"] for i in report["array"]] == ["0", "1"]
        assert sim.ledger.frame("sms")["reason"].tolist() == ["success", "EXPIRED"]


def test_body_is_json_whatever_the_content_type(api, sim):
    headers = api.headers() | {"Content-Type": "application/x-www-form-urlencoded"}
    body = '{"appId": "%s", "numbers": "918500000001", "content": "hi"}' % api.creds.sms_app_id
    assert api.http.post("/sendSms", content=body, headers=headers).json()["success"] == "1"
    assert api.http.post("/sendSms", content="appId=x&numbers=1", headers=headers).json()["status"] == "-22"


def test_only_loopback_and_unknown_paths():
    with pytest.raises(ValueError):
        Simulator(host="0.0.0.0")
    with Simulator() as sim:
        assert sim.url.startswith("http://127.0.0.1:") and sim.url.endswith("/v3")
        assert HTTP.get(sim.url + "/noSuchThing").status_code == 404
        assert HTTP.get(sim.url + "/sendSms/batch").status_code == 405
        creds = sim.credentials
        assert (creds.base_url, creds.api_key) == (sim.url, sim.account.api_key)


def test_order_ids_needing_json_escapes_round_trip(api):
    body = api.send("918500000001,918500000002", orderId='q"1,back\\slash')
    assert [i["orderId"] for i in body["array"]] == ['q"1', "back\\slash"]


def test_message_ids_are_found_across_the_counter_wrap():
    # The 7-digit counter wraps after 9 million ids; a block never straddles the wrap.
    with Simulator(report_delay=(0, 0)) as sim:
        sim.state._next_id = 9_000_000 - 3
        api = Api(sim)
        first = [i["msgId"] for i in api.send("918500000001,918500000002")["array"]]
        second = [i["msgId"] for i in api.send("918500000003,918500000004,918500000005")["array"]]
        assert [m[12:] for m in first] == ["9999997", "9999998"]
        assert [m[12:] for m in second] == ["1000000", "1000001", "1000002"]  # jumped to the wrap
        report = api.get("/getReport", {"appId": api.creds.sms_app_id, "msgIds": ",".join(first + second)})
        assert [i["number"] for i in report["array"]] == [f"91850000000{k}" for k in range(1, 6)]
        assert [sim.ledger.find("sms", m) for m in first + second] == [0, 1, 2, 3, 4]
        assert sim.ledger.find("sms", first[0][:12] + "1234567") is None


def test_stop_closes_keep_alive_connections():
    client = httpx.Client(timeout=5)
    with Simulator() as sim:
        api = Api(sim)
        url = sim.url + "/getBalance"
        assert client.get(url, headers=api.headers()).json()["status"] == "0"  # pooled connection
    with pytest.raises(httpx.TransportError):
        client.get(url, headers=api.headers())  # nobody answers on the old connection any more
    client.close()


def test_accounts_are_separate():
    accounts = [{"api_key": "keyA0001", "api_secret": "secretA1", "sms_app_id": "appA0001"},
                {"api_key": "keyB0001", "api_secret": "secretB1", "sms_app_id": "appB0001", "balance": 3,
                 "locked": False}]
    with Simulator(accounts=accounts, report_delay=(0, 0)) as sim:
        a, b = Api(sim), Api(sim)
        b.creds = sim.credentials_for("keyB0001")
        ids = [i["msgId"] for i in a.send("918500000001")["array"]]
        assert b.get("/getReport", {"appId": "appB0001", "msgIds": ids[0]})["nofound"] == "1"
        assert b.send("918500000001")["status"] == "0" and b.get("/getBalance")["balance"] == "2.990000"
        assert b.post("/sendSms", {"appId": "appA0001", "numbers": "918500000001", "content": "x"})["status"] == "-22"
        assert set(sim.ledger.frame("sms")["api_key"]) == {"keyA0001", "keyB0001"}


def fates(sim):
    """Each ledger row's fate, relative to its submission: (recipient, delay, outcome, reason)."""
    frame = sim.ledger.frame("sms")
    delay = (frame["deliver_at"] - frame["submitted_at"]).dt.total_seconds()
    return list(zip(frame["recipient"], delay, frame["outcome"], frame["reason"]))


def same_fates(a, b):
    """Equal fates; delays to the microsecond: each is a difference of two epoch times (~0.3 µs apart from
    the exact delay), so two runs at other moments may round the same draw to neighbouring microseconds."""
    return len(a) == len(b) and all(
        (ra, oa, wa) == (rb, ob, wb) and abs(da - db) < 1e-6 for (ra, da, oa, wa), (rb, db, ob, wb) in zip(a, b))


MIXED = {"delivered": 0.5, "failed": 0.3, "slow": 0.2}
NUMBERS = [",".join(f"9185{k}{i:06d}" for i in range(40)) for k in range(3)]


def test_a_delivery_draw_made_when_the_ledger_is_first_read_uses_the_settings_of_its_send():
    runs = []
    for change_before_reading in (False, True):
        with Simulator(seed=5, report_delay=(5.0, 10.0), delivery=MIXED,
                       scenarios=["^9185000001=fail:BLACK"]) as sim:
            api = Api(sim)
            assert api.send(NUMBERS[0], "first")["status"] == "0"
            if change_before_reading:  # every setting the draw uses changes before anything reads it
                sim.configure(seed=9, report_delay=(100.0, 200.0), delivery=ALL_DELIVERED,
                              scenarios=["^91851=fail:OTHER"])
                assert api.send(NUMBERS[1], "second")["status"] == "0"
            runs.append(fates(sim))
    before, after = runs
    assert same_fates(after[:40], before)  # the first send keeps the fates of its own moment
    assert [r for r, _, _, reason in before if reason == "BLACK"] == [f"918500000{i}" for i in range(10, 20)]
    assert {o for _, _, o, _ in before} == {"delivered", "failed"}
    assert {(o, r) for _, _, o, r in after[40:]} == {("failed", "OTHER")}  # the second send: the new settings
    assert all(100.0 <= d <= 200.0 for _, d, _, _ in after[40:])


def test_draws_left_for_later_and_draws_made_for_pushes_keep_the_ledger_in_row_order():
    # Reports pushed need their times at once; without a push URL the draw waits for a reader.
    # Switching in the middle must leave every row with its own fate.
    results = []
    for push_from in (0, 1, 3):  # always eager, from the second send on, never
        with Simulator(seed=2, report_delay=(5.0, 10.0), delivery=MIXED) as sim:
            api = Api(sim)
            for k, numbers in enumerate(NUMBERS):
                if k == push_from:
                    sim.configure(push_url="http://127.0.0.1:9/dlr")  # nothing listens: pushes just fail
                assert api.send(numbers, f"text {k % 2}")["status"] == "0"
            results.append(fates(sim))
            assert sim.state.ledger.channels["sms"].undrawn.count(None) == min(push_from, len(NUMBERS))  # drawn late
    assert same_fates(results[0], results[1]) and same_fates(results[0], results[2])
    assert [r for r, _, _, _ in results[0]] == [n for numbers in NUMBERS for n in numbers.split(",")]
