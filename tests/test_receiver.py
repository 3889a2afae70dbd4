"""The delivery-report receiver: simulator pushes land once, quirks are tolerated, bad payloads get a 4xx."""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

from buka_nb.receiver import ReportReceiver, classify, parse_lenient
from buka_nb.simulator import Simulator
from buka_nb.sms import send_sms

DLR = {"appId": "4luaKsL2", "orderId": "21413", "msgid": "2108021059531000096", "mobile": "91850000000",
       "status": 0, "reason": "success", "timestamp": 1629801177192, "mcc": "404", "mnc": "-1",
       "pricedetail": {"pay": "0.02", "chargeCnt": 2, "currency": "EUR", "price": "0.01"}}


def test_simulator_pushes_appear_in_the_merged_frame_exactly_once(tmp_path):
    with ReportReceiver(tmp_path / "reports.db") as rx:
        with Simulator(seed=4, report_delay=(0, 0), push_url=rx.url) as sim:
            df = pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(40)] + ["bad"]})
            results = send_sms(df, content="hi", credentials=sim.credentials, journal=tmp_path / "j.db")
            sim.flush_pushes()
            sim.flush_pushes()  # nothing is pushed twice, and a repeat would be ignored anyway
        reports = rx.frame()
        merged = rx.merge(results)
    assert len(reports) == 40 and reports.msg_id.is_unique
    assert set(reports.msg_id) == set(results.msg_id.dropna())
    assert merged.delivery.notna().sum() == 40 and merged.delivery.iloc[-1] is pd.NA
    assert set(merged.delivery.dropna()) <= {"delivered", "failed"}
    assert merged.delivered_at.notna().sum() == 40
    assert results.delivery.isna().all()  # merge returns a new frame


def test_repeated_push_is_stored_once_and_quirks_are_tolerated(tmp_path):
    quirky = ('{"appId":"4luaKsL2","orderId ":"21413","msgid":"2108021059531000096","mobile":"91850000000",'
              '"status":"0","reason":"success","timestamp":1629801177192,"mcc":\'404\',"mnc":\'-1\'}')
    with ReportReceiver(tmp_path / "r.db") as rx:
        first = httpx.post(rx.url + "dlr", content=quirky)
        again = httpx.post(rx.url + "dlr", content=json.dumps(DLR))
        assert (first.status_code, first.json()["stored"]) == (200, True)
        assert (again.status_code, again.json()["stored"]) == (200, False)
        row = rx.frame().iloc[0]
    assert (row.msg_id, row.order_id, row.delivery, row.recipient) == ("2108021059531000096", "21413", "delivered",
                                                                       "91850000000")
    assert row.delivered_at.startswith("2021-08-24T10:32:57")


@pytest.mark.parametrize("body, status, message", [
    (b"not json at all", 400, "body is not JSON"),
    (b"[1, 2]", 400, "body must be a JSON object"),
    (json.dumps({"hello": "world"}).encode(), 400, "not a BUKA report"),
    (json.dumps({"msgid": "", "status": 0}).encode(), 400, "empty 'msgid'"),
    (json.dumps({"msgid": "1", "status": "x"}).encode(), 400, "'status' is not a number"),
    (b"\xff\xfe\x00", 400, "not UTF-8"),
])
def test_malformed_payloads_get_a_clear_400(tmp_path, body, status, message):
    with ReportReceiver(tmp_path / "r.db") as rx:
        r = httpx.post(rx.url, content=body)
        assert r.status_code == status and message in r.json()["error"]
        assert rx.store.count() == 0


def test_body_size_is_bounded(tmp_path):
    with ReportReceiver(tmp_path / "r.db", max_body=1024) as rx:
        r = httpx.post(rx.url, content=b"{" + b" " * 2000 + b"}")
        assert r.status_code == 413
        assert httpx.get(rx.url + "health").json() == {"reports": 0}


def test_voice_call_reports_are_classified():
    row = classify(parse_lenient(json.dumps({"voiceId": "12205181141482000029", "callee": "63123456788",
                                             "terminationCode": "200", "terminationReason": "success",
                                             "hangupTime": 1652845328000}).encode()))
    assert (row["kind"], row["delivery"], row["recipient"]) == ("voice", "delivered", "63123456788")
    busy = classify({"callId": "9", "calledPhoneNumber": "639171234567", "resultStatus": "BUSY"})
    assert (busy["delivery"], busy["delivery_reason"]) == ("failed", "BUSY")


def test_reports_fill_unknown_rows_by_order_id(tmp_path):
    from buka_nb.receiver import merge_pushed
    from buka_nb.schema import conform

    results = conform(pd.DataFrame({"channel": ["sms"], "order_id": ["21413"], "state": ["unknown"]}))
    reports = pd.DataFrame([{"kind": "sms", "msg_id": "2108021059531000096", "order_id": "21413",
                             "recipient": "91850000000", "delivery": "delivered", "delivery_reason": "success",
                             "delivered_at": "2021-08-24T10:32:57+00:00"}])
    merged = merge_pushed(results, reports)
    assert (merged.msg_id.iloc[0], merged.delivery.iloc[0]) == ("2108021059531000096", "delivered")


def test_single_quoted_values_are_read_without_touching_apostrophes_in_text(tmp_path):
    quirky = ('{"orderId ":"21413","msgid":"2108021059531000097","mobile":"91850000000","status":1,'
              '"reason":"user\'s phone off","timestamp":1629801177192,"mcc":\'404\',"mnc":\'-1\'}')
    with ReportReceiver(tmp_path / "r.db") as rx:
        answer = httpx.post(rx.url + "dlr", content=quirky)
        row = rx.frame().iloc[0]
    assert (answer.status_code, answer.json()["stored"]) == (200, True)
    assert (row.msg_id, row.delivery, row.delivery_reason) == ("2108021059531000097", "failed", "user's phone off")


def test_an_sms_reply_pushed_to_the_same_url_is_acknowledged_not_stored(tmp_path):
    mo = {"msgid": "2211091100001000001", "mobile": "639171234567", "reply_time": "2022-11-09 11:00:00",
          "content": "hello", "sendid": "918663322141", "mcc": 515, "mnc": -1, "operator": "Philippines",
          "pricedetail": {"pay": "0", "chargeCnt": 1, "currency": "EUR", "price": "0"}}  # buka-api.md §7.2
    with ReportReceiver(tmp_path / "r.db") as rx:
        answer = httpx.post(rx.url + "mo", content=json.dumps(mo))
        assert answer.status_code == 200 and answer.json()["stored"] is False
        assert rx.store.count() == 0


def test_pushed_ai_voice_call_records_merge_into_the_voice_results(tmp_path):
    from buka_nb.reports import collect_reports
    from buka_nb.simulator import Simulator
    from buka_nb.voice import send_voice

    df = pd.DataFrame({"phone": [f"4479110000{i:02d}" for i in range(12)], "name": [f"C{i}" for i in range(12)]})
    with ReportReceiver(tmp_path / "r.db") as rx, Simulator(seed=4, voice_push_url=rx.url) as sim:
        results = send_voice(df, credentials=sim.credentials, journal=None, progress=False)
        sim.advance(25 * 60)  # every call placed and finished, within the 30-minute signature window
        assert sim.flush_pushes() == 12
        merged = rx.merge(results)
        fetched = collect_reports(results, credentials=sim.credentials)
    assert merged.delivery.notna().all() and set(merged.delivery) == {"delivered", "failed"}
    # the pushes say what the call records say, row by row
    assert merged.delivery.tolist() == fetched.delivery.tolist()
    assert merged.delivery_reason.tolist() == fetched.delivery_reason.tolist()
