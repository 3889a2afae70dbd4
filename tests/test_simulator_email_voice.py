"""Simulator: email codes and shapes, and the intelligent-voice task lifecycle with its codes."""

from __future__ import annotations

import json

import httpx
import pytest

from buka_nb.signing import auth_headers
from buka_nb.simulator import DeliveryModel, Simulator


class Api:
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.creds = sim.credentials
        self.http = httpx.Client(base_url=sim.url, timeout=10, verify=False)  # plain http: no SSL context

    def post(self, path: str, body: dict) -> dict:
        headers = auth_headers(self.creds.api_key, self.creds.api_secret.reveal(), int(self.sim.now()))
        return self.http.post(path, json=body, headers=headers).json()


@pytest.fixture
def sim():
    with Simulator(seed=5, report_delay=(5.0, 10.0), delivery=DeliveryModel(1.0, 0.0, 0.0)) as s:
        yield s


@pytest.fixture
def api(sim):
    return Api(sim)


# -- email ---------------------------------------------------------------------------------------

def email(api: Api, **change) -> dict:
    body = {"appId": api.creds.email_app_id, "fromEmailAddress": "noreply@demo.buka.test",
            "toAddress": "ann@example.com,bob@example.org", "subject": "Your code", "templateID": "1",
            "templateData": json.dumps({"code": "1234"}), "adFlag": 0}
    return api.post("/email/sendEmail", body | change)


def test_send_email_shape_and_dropping_invalid_addresses(api, sim):
    body = email(api, toAddress="ann@example.com,not-an-address,bob@example.org")
    assert list(body) == ["status", "reason", "success", "fail", "emailState", "remark", "array"]
    assert (body["status"], body["success"], body["fail"], body["emailState"]) == ("0", "2", "1", "success")
    assert [list(i) for i in body["array"]] == [["emailId", "toAddress"]] * 2
    assert [i["toAddress"] for i in body["array"]] == ["ann@example.com", "bob@example.org"]
    assert sim.ledger.count("email") == 2
    assert email(api, toAddress="bad,also bad")["status"] == "-15"


EMAIL_ERRORS = [
    ({"toAddress": ",".join(f"u{i}@example.com" for i in range(51))}, "-14"),
    ({"toAddress": ""}, "-13"),
    ({"fromEmailAddress": ""}, "-9"),
    ({"fromEmailAddress": "someone@else.test"}, "-10"),
    ({"templateID": "99"}, "-11"),
    ({"templateID": "abc"}, "-25"),
    ({"templateID": "4"}, "-12"),
    ({"subject": ""}, "-17"),
    ({"subject": "s" * 101}, "-17"),
    ({"templateData": "not json"}, "-18"),
    ({"templateData": "[1, 2]"}, "-18"),
    ({"adFlag": 5}, "-27"),
    ({"appId": "nope"}, "-5"),
]


@pytest.mark.parametrize(("change", "code"), EMAIL_ERRORS)
def test_send_email_codes(api, sim, change, code):
    assert email(api, **change)["status"] == code
    assert sim.ledger.count("email") == 0


def test_email_balance_and_records(api, sim):
    ids = [i["emailId"] for i in email(api)["array"]]
    query = {"appId": api.creds.email_app_id, "emailId": ",".join(ids + ["1"])}
    before = api.post("/email/getSendEmailRcd", query)
    assert (before["sending"], before["nofound"]) == ("2", "1")
    sim.advance(11)
    after = api.post("/email/getSendEmailRcd", query)
    assert list(after) == ["status", "reason", "success", "fail", "sending", "nofound", "array"]
    assert after["success"] == "2"
    assert list(after["array"][0]) == ["emailId", "toAddress", "receiveTime", "status"]
    many = ",".join(str(i) for i in range(201))
    assert api.post("/email/getSendEmailRcd", {"appId": api.creds.email_app_id, "emailId": many})["status"] == "-28"
    sim.configure(balance=0.0015)
    assert email(api)["status"] == "-19"  # two addresses at 0.001 each
    sim.configure(locked=True)
    assert email(api)["status"] == "-4"


def test_batch_send_email(api):
    base = {"appId": api.creds.email_app_id, "fromEmailAddress": "noreply@demo.buka.test", "templateID": "3",
            "receiverId": "1", "url": "http://127.0.0.1:9/cb"}
    assert api.post("/email/batchSendEmail", base | {"url": ""})["status"] == "-29"
    assert api.post("/email/batchSendEmail", base | {"triggerID": "x1"})["status"] == "-30"
    ok = api.post("/email/batchSendEmail", base | {"triggerID": 7})
    assert ok["status"] == "0" and len(ok["taskId"]) == 19


# -- intelligent voice ---------------------------------------------------------------------------

def task_body(api: Api, **change) -> dict:
    return {"appId": api.creds.voice_app_id, "name": "reminders", "dialogFlowId": 1, "mode": "MANUAL",
            "dailyStartDateTime": "09:00", "dailyEndDateTime": "20:00", "robotCount": 2,
            "jobPhoneNumberId": 1, "redial": False} | change


def people(n: int, start: int = 0) -> list[dict]:
    return [{"name": f"P{i}", "phoneNumber": str(91856300000 + i)} for i in range(start, start + n)]


def test_ai_voice_fixtures_and_task_add_codes(api):
    flows = api.post("/AiVoice/dialogFlowList", {"appId": api.creds.voice_app_id})
    assert flows["status"] == "0" and [f["dialogFlowId"] for f in flows["data"]] == [1, 2, 3]
    lines = api.post("/aivoice/channellist", {"appId": api.creds.voice_app_id})  # case-insensitive path
    assert lines["data"][0] == {"tenantPhoneNumberId": "1", "phoneNumber": "Line 1 (85230001111)"}
    added = api.post("/AiVoice/taskAdd", task_body(api))
    assert list(added) == ["status", "reason", "data"] and isinstance(added["data"], int)
    assert api.post("/AiVoice/taskAdd", task_body(api))["status"] == "-33"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="b", dailyStartDateTime="08:30"))["status"] == "-48"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="c", dailyEndDateTime="20:30"))["status"] == "-48"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="d", mode="AUTO"))["status"] == "-28"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="e", robotCount=11))["status"] == "-52"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="f", dialogFlowId=99))["status"] == "-27"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="g", jobPhoneNumberId=99))["status"] == "-27"
    assert api.post("/AiVoice/taskAdd", task_body(api, name="h", appId="zzz"))["status"] == "-37"


def test_ai_voice_import_codes(api, sim):
    job = api.post("/AiVoice/taskAdd", task_body(api, dialogFlowId=2))["data"]  # needs amount + dueDate
    assert api.post("/AiVoice/taskStart", {"appId": api.creds.voice_app_id, "jobId": job})["status"] == "-45"
    assert api.post("/AiVoice/taskStart", {"appId": api.creds.voice_app_id, "jobId": 999})["status"] == "-32"
    too_many = {"appId": api.creds.voice_app_id, "jobId": job, "customerPersons": people(101)}
    assert api.post("/AiVoice/importCustomer", too_many) == {
        "status": "-56", "reason": "Exceed import limit, max 100 entries", "data": None}
    props = {"amount": "10", "dueDate": "2024-02-01"}
    persons = [{"name": "Ann", "phoneNumber": "91856321412", "properties": props},
               {"name": "Ann again", "phoneNumber": "91856321412", "properties": props},
               {"name": "", "phoneNumber": "91856321413", "properties": props},
               {"name": "Bob", "phoneNumber": "12", "properties": props},
               {"name": "Cy", "phoneNumber": "91856321414", "properties": {"amount": "1"}}]
    body = api.post("/AiVoice/importCustomer", {"appId": api.creds.voice_app_id, "jobId": job,
                                                "customerPersons": persons})
    assert body["status"] == "0"
    assert [(r["phoneNumber"], r["status"]) for r in body["data"]] == [
        ("91856321412", "-53"), ("91856321413", "-35"), ("12", "-35"), ("91856321414", "-51")]
    assert body["data"][0] == persons[1] | {"status": "-53", "reason": "The customer already exists in this task"}
    again = api.post("/AiVoice/importCustomer", {"appId": api.creds.voice_app_id, "jobId": job,
                                                 "customerPersons": persons[:1]})
    assert again["data"][0]["status"] == "-53"
    assert sim.ledger.count("voice") == 1
    assert api.post("/AiVoice/importCustomer", {"appId": api.creds.voice_app_id, "jobId": 5,
                                                "customerPersons": []})["status"] == "-32"


def test_ai_voice_lifecycle_records_over_sim_time(api, sim):
    app = api.creds.voice_app_id
    job = api.post("/AiVoice/taskAdd", task_body(api, robotCount=1))["data"]
    imported = api.post("/AiVoice/importCustomer", {"appId": app, "jobId": job, "customerPersons": people(4)})
    assert imported["data"] == []
    listed = api.post("/AiVoice/taskList", {"current": 1, "size": 10, "params": {"appId": app}})["data"]
    assert (listed["total"], listed["records"][0]["status"], listed["records"][0]["taskTotal"]) == (1, "CAN_START", 4)
    assert api.post("/AiVoice/taskStop", {"appId": app, "jobId": job})["status"] == "-38"
    assert api.post("/AiVoice/taskStart", {"appId": app, "jobId": job}) == {"status": "0", "reason": "success", "data": None}
    assert api.post("/AiVoice/taskStart", {"appId": app, "jobId": job})["status"] == "-39"
    assert api.post("/AiVoice/taskDel", {"appId": app, "jobId": job})["status"] == "-44"
    no_call = api.post("/AiVoice/taskNoCall", {"current": 1, "size": 10, "params": {"appId": app, "jobId": job}})
    assert no_call["data"]["total"] == 4  # one robot: nobody has been dialled yet
    assert no_call["data"]["records"][0]["status"] == "IN_PROCESS"
    window = {"startTime": "2000-01-01 00:00:00", "endTime": "2100-01-01 00:00:00"}
    query = {"current": 1, "size": 100, "params": {"appId": app} | window}
    assert api.post("/AiVoice/recordQuery", query)["data"]["total"] == 0
    sim.advance(4 * 300)
    records = api.post("/AiVoice/recordQuery", query)["data"]["records"]
    assert sorted(r["calledPhoneNumber"] for r in records) == [p["phoneNumber"] for p in people(4)]
    rec = records[0]
    assert rec["callJobId"] == str(job) and rec["customerPersonName"].startswith("P")
    assert rec["resultStatus"] in {"ANSWERED", "NO_ANSWER", "BUSY", "POWER_OFF", "REFUSED", "VACANT_NUMBER",
                                   "OUT_OF_SERVICE", "CAN_NOT_CONNECT"}
    assert all(isinstance(rec[k], str) for k in ("chatDuration", "chargedDuration", "startTime", "properties"))
    done = api.post("/AiVoice/taskList", {"current": 1, "size": 10, "params": {"appId": app}})["data"]["records"][0]
    assert (done["status"], done["taskCompleted"]) == ("COMPLETED", 4)
    assert set(sim.ledger.frame("voice")["state"]) <= {"delivered", "failed"}
    assert api.post("/AiVoice/recordQuery", {"current": 1, "size": 10,
                                             "params": {"appId": app, "startTime": "bad"}})["status"] == "-27"
    assert api.post("/AiVoice/taskDel", {"appId": app, "jobId": job})["status"] == "0"


def test_ai_voice_pause_keeps_undialled_customers(api, sim):
    app = api.creds.voice_app_id
    job = api.post("/AiVoice/taskAdd", task_body(api, robotCount=1))["data"]
    api.post("/AiVoice/importCustomer", {"appId": app, "jobId": job, "customerPersons": people(5)})
    api.post("/AiVoice/taskStart", {"appId": app, "jobId": job})
    sim.advance(1.5)  # the first call has started, the others wait for the single robot
    assert api.post("/AiVoice/taskStop", {"appId": app, "jobId": job})["status"] == "0"
    sim.advance(3600)
    params = {"appId": app, "startTime": "2000-01-01 00:00:00", "endTime": "2100-01-01 00:00:00"}
    assert api.post("/AiVoice/recordQuery", {"current": 1, "size": 10, "params": params})["data"]["total"] == 1
    no_call = api.post("/AiVoice/taskNoCall", {"current": 1, "size": 2, "params": {"appId": app}})["data"]
    assert (no_call["total"], no_call["pages"], len(no_call["records"])) == (4, 2, 2)
    assert api.post("/AiVoice/taskStart", {"appId": app, "jobId": job})["status"] == "0"
    sim.advance(3600)
    assert api.post("/AiVoice/recordQuery", {"current": 1, "size": 10, "params": params})["data"]["total"] == 5


def test_ai_voice_auto_mode_starts_at_its_start_time(api, sim):
    from buka_nb.simulator.state import local8

    app = api.creds.voice_app_id
    start = local8(sim.now() + 600)
    job = api.post("/AiVoice/taskAdd", task_body(api, mode="AUTO", startDateTime=start))["data"]
    api.post("/AiVoice/importCustomer", {"appId": app, "jobId": job, "customerPersons": people(2)})
    listing = {"current": 1, "size": 10, "params": {"appId": app}}
    assert api.post("/AiVoice/taskList", listing)["data"]["records"][0]["status"] == "CAN_START"
    sim.advance(601)
    assert api.post("/AiVoice/taskList", listing)["data"]["records"][0]["status"] == "IN_PROCESS"
    sim.advance(3600)
    assert api.post("/AiVoice/taskList", listing)["data"]["records"][0]["status"] == "COMPLETED"
    assert sim.stats()["crashes"] == []
