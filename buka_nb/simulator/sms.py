"""SMS and account endpoints (buka-api.md §3): getBalance, sendSms, sendSms/batch, getReport, getSentRcd.

Also the small recordMo and postback/backfill calls. Style A envelopes with string counters; codes
from the SMS table. Per-number work in sendSms is kept to a few C-level operations because the
simulator must absorb ~10^6 numbers faster than a client can send them.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

from ..segments import MAX_CONTENT_CHARS, sms_segments
from .common import (Call, Route, RawJSON, csv_list, integer, page, price_text, reply, reply_b, status_report,
                     text)
from .accounts import MICROS, money
from .columns import TAILS, IdRange
from .ledger import Group
from .state import iso8, parse_time

MAX_GET_NUMBERS = 100
MAX_POST_NUMBERS = 1000
MAX_REPORT_IDS = 200
MAX_SENT_ROWS = 50_000
MAX_WINDOW_SECONDS = 31 * 86400
MAX_SENDER_CHARS = 32

#: Mobile country codes by dialling prefix, for DLR pushes (longest prefix wins; unknown → "-1").
MCC = {"1": "310", "7": "250", "20": "602", "27": "655", "33": "208", "34": "214", "39": "222",
       "44": "234", "49": "262", "52": "334", "55": "724", "60": "502", "62": "510", "63": "515",
       "65": "525", "66": "520", "84": "452", "86": "460", "90": "286", "91": "404", "92": "410",
       "234": "621", "254": "639", "880": "470", "966": "420", "971": "424"}


#: A numbers list in which every item is a valid number and nothing else: 7-15 ASCII digits, country
#: code first, so no leading zero (buka-api.md §1.4).
_NUMBERS = re.compile(r"[1-9][0-9]{6,14}(?:,[1-9][0-9]{6,14})*")


def get_balance(call: Call) -> dict[str, Any]:
    acct = call.account
    if acct.locked:
        return reply("sms", -13)
    return reply("sms", 0, balance=money(acct.balance_micros), gift=money(acct.gift_micros),
                 credit=money(acct.credit_micros))


def _group(params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Validate one message group; returns (code, group) where code 0 means usable."""
    get = params.get
    numbers, content, sender, order = get("numbers"), get("content"), get("senderId", ""), get("orderId", "")
    if not (type(numbers) is type(content) is type(sender) is type(order) is str):  # else coerced as text() does
        numbers, content = text(params, "numbers"), text(params, "content")
        sender, order = text(params, "senderId"), text(params, "orderId")
    if None in (numbers, content, sender, order):
        return -22, {}
    # The usual group is nothing but valid numbers and commas: one regex proves it for all of them.
    valid = _NUMBERS.fullmatch(numbers) is not None
    tokens = numbers.split(",") if valid else csv_list(numbers)
    if not tokens:
        return -8, {}
    if not content:
        return -4, {}
    if len(content) > MAX_CONTENT_CHARS:
        return -5, {}
    if len(sender) > MAX_SENDER_CHARS:
        return -22, {}
    orders = csv_list(order) if order else [""] * len(tokens)
    if len(orders) != len(tokens):
        return -22, {}
    return 0, {"tokens": tokens, "orders": orders, "content": content, "sender": sender, "valid": valid}


def send_sms(call: Call) -> dict[str, Any]:
    if call.account.locked:
        return reply("sms", -13)
    if text(call.params, "appId") != call.account.sms_app_id:
        return reply("sms", -22)
    code, group = _group(call.params)
    if code:
        return reply("sms", code)
    limit = MAX_GET_NUMBERS if call.method == "GET" else MAX_POST_NUMBERS
    if len(group["tokens"]) > limit:
        return reply("sms", -7)
    return _submit(call, [group])


def send_batch(call: Call) -> dict[str, Any]:
    if call.account.locked:
        return reply("sms", -13)
    if text(call.params, "appId") != call.account.sms_app_id:
        return reply("sms", -22)
    items = call.params.get("array")
    if not isinstance(items, list):
        return reply("sms", -22)
    if not items:
        return reply("sms", -8)
    groups = []
    for item in items:
        if not isinstance(item, dict):
            return reply("sms", -22)
        code, group = _group(item)
        if code:
            return reply("sms", code)
        groups.append(group)
    if sum(len(g["tokens"]) for g in groups) > MAX_POST_NUMBERS:
        return reply("sms", -7)
    return _submit(call, groups)


def _submit(call: Call, groups: list[dict[str, Any]]) -> dict[str, Any]:
    """Accept the valid numbers of every group as one all-or-nothing charge."""
    state, acct = call.state, call.account
    price = round(acct.sms_price * MICROS)
    total_cost = accepted = failed = 0
    for g in groups:
        code = state.scenario_code("sms", g["tokens"], g["content"])
        if code is not None:
            return reply("sms", code)
        rejected = state.scenario_rejects("sms", g["tokens"]) if state.scenarios else ()
        if g["valid"] and not rejected:
            g["numbers"], g["order_ids"] = g["tokens"], g["orders"]
        else:
            # A valid number is 7-15 ASCII digits with no leading zero (isdigit alone accepts superscripts and
            # other Unicode digits). Inlined rather than a helper: a call per number is measurable at 10^6 numbers.
            keep = [i for i, t in enumerate(g["tokens"])
                    if t.isascii() and t.isdigit() and 7 <= len(t) <= 15 and t[0] != "0" and i not in rejected]
            g["numbers"] = [g["tokens"][i] for i in keep]
            g["order_ids"] = [g["orders"][i] for i in keep]
        g["units"] = _units(g["content"])
        total_cost += len(g["numbers"]) * g["units"] * price
        accepted += len(g["numbers"])
        failed += len(g["tokens"]) - len(g["numbers"])
    if not accepted:
        return reply("sms", -9)
    now = state.now()
    fates = [(g["numbers"], g["content"]) for g in groups]
    # The seeded draw is the heaviest per-number step. Only a report push needs it now (it is
    # scheduled by it); otherwise the ledger makes it when its delivery columns are first read,
    # with the settings of this moment. Either way it needs no lock.
    drawn = state.decide_all("sms", fates, now, packed=True) if state.push_enabled("sms") else None
    draw = None if drawn else functools.partial(state.decide_all, "sms", fates, now, packed=True,
                                                params=state.draw_params())
    deliver, outcomes, reasons = drawn or (None, None, None)
    if len(groups) == 1:
        numbers, orders = groups[0]["numbers"], groups[0]["order_ids"]
    else:
        numbers, orders = [], []
        for g in groups:
            numbers += g["numbers"]
            orders += g["order_ids"]
    with state.lock:
        if not acct.charge(total_cost):
            return reply("sms", -10)
        ids = state.new_id_range(accepted, now)
        start = state.ledger.append_groups(
            "sms", [Group(g["numbers"], g["content"], g["sender"], g["units"], g["units"] * price) for g in groups],
            msg_ids=ids, order_ids=orders, app_id=acct.sms_app_id, api_key=acct.api_key, submit_at=now,
            request_no=call.request_no, deliver_at=deliver, outcomes=outcomes, reasons=reasons, draw=draw,
            recipients=numbers)
        if drawn:
            state.queue_pushes("sms", range(start, start + accepted), deliver)
    array = RawJSON(_items_json(ids, numbers, orders))
    return reply("sms", 0, success=str(accepted), fail=str(failed), array=array)


@functools.lru_cache(maxsize=4096)
def _units(content: str) -> int:
    """Billed segments of *content*; cached because a campaign sends a few texts to many numbers."""
    return sms_segments(content)[1]


#: What stands between an item's msgId and its number, and between its number and its orderId.
_ID_NUMBER = '","number":"'
_NUMBER_ORDER = '","orderId":"'
#: "000" ... "999" as they end an id in an item: followed by what comes before the number.
_TAIL_NUMBER = [tail + _ID_NUMBER for tail in TAILS]


def _items_json(ids: IdRange, numbers: list[str], orders: list[str]) -> str:
    """The ``array`` of a request's messages as JSON text: *ids*, *numbers* and *orders* item by item.

    Built for the whole request in one join, in which every item is four strings: one per id
    (``"},{"msgId":"<id>","number":"``, a concatenation of its 16-digit head and a ready-made
    tail), the number, the constant between number and orderId, and the orderId. That is ~2x
    faster than an f-string per item, and the 19-digit ids are never made as strings of their
    own. Ids and numbers are ASCII digits by construction; orderIds are escaped unless plainly safe.
    """
    if not numbers:
        return "[]"
    heads: list[str] = []
    for head, tail, k in ids.pieces():
        heads += map(f'"}},{{"msgId":"{head}'.__add__, _TAIL_NUMBER[tail:tail + k])
    joined = "".join(orders)
    # Plain text needs no JSON escaping. isprintable() rules out control characters in C; it also
    # refuses a few harmless ones (DEL, U+2028, ...), which then merely take the json.dumps path.
    if not (joined.isprintable() and '"' not in joined and "\\" not in joined):
        dumps = json.dumps
        orders = [dumps(o, ensure_ascii=False)[1:-1] for o in orders]
    parts = [_NUMBER_ORDER] * (4 * len(numbers))
    parts[0::4], parts[1::4], parts[3::4] = heads, numbers, orders
    return '[{"msgId":"' + "".join(parts)[len('"},{"msgId":"'):] + '"}]'


def get_report(call: Call) -> dict[str, Any]:
    acct = call.account
    if text(call.params, "appId") != acct.sms_app_id:
        return reply("sms", -22)
    ids = csv_list(text(call.params, "msgIds") or "")
    if not ids or len(ids) > MAX_REPORT_IDS:
        return reply("sms", -14)
    return status_report(call, "sms", ids, "msgId", "number", app_id=acct.sms_app_id)


def get_sent_rcd(call: Call) -> dict[str, Any]:
    acct, state = call.account, call.state
    if text(call.params, "appId") != acct.sms_app_id:
        return reply("sms", -22)
    start, end = parse_time(call.params.get("startTime")), parse_time(call.params.get("endTime"))
    if start is None or end is None or end < start:
        return reply("sms", -11)
    if end - start > MAX_WINDOW_SECONDS:
        return reply("sms", -25)
    first = integer(call.params.get("startIndex", 0) or 0)
    if first is None or first < 0:
        return reply("sms", -22)
    led = state.ledger.settle("sms")  # the delivery columns are read below
    now = state.now()
    n = len(led)
    key, app = acct.api_key, acct.sms_app_id
    # Only final messages are listed: the call reports what was delivered or failed in the slot.
    # Whole columns first: Runs columns answer slices in bulk but bisect for every single row.
    submit_at, deliver_at, apps, keys = led.submit_at[:n], led.deliver_at[:n], led.app_id[:n], led.api_key[:n]
    rows = [i for i in range(n) if start <= submit_at[i] <= end and deliver_at[i] <= now
            and apps[i] == app and keys[i] == key]
    array = []
    ok = bad = 0
    for i in rows[first:first + MAX_SENT_ROWS]:
        delivered = led.outcome[i] == "delivered"
        ok, bad = ok + delivered, bad + (not delivered)
        array.append({"msgId": led.msg_id[i], "number": led.recipient[i], "receiveTime": iso8(led.deliver_at[i]),
                      "status": "0" if delivered else "2"})
    return reply("sms", 0, success=str(ok), fail=str(bad), array=array)


def record_mo(call: Call) -> dict[str, Any]:
    """Inbound replies: the simulator has none, so a well-formed query gets an empty page."""
    if call.account.locked:
        return reply_b("sms", -13)
    if text(call.params, "appId") != call.account.sms_app_id:
        return reply_b("sms", -22)
    params = call.params.get("params") if isinstance(call.params.get("params"), dict) else {}
    start, end = parse_time(params.get("strTime")), parse_time(params.get("endTime"))
    if start is None or end is None or end < start:
        return reply_b("sms", -11)
    return reply_b("sms", 0, page([], call.params.get("current"), call.params.get("size"), 15))


def postback(call: Call) -> dict[str, Any]:
    if text(call.params, "appId") != call.account.sms_app_id:
        return reply("sms", -22)
    if not text(call.params, "number") or not text(call.params, "time"):
        return reply("sms", -14)
    return reply("sms", 0)


def dlr_payload(state: Any, row: int) -> dict[str, Any]:
    """The §7.1 delivery report for one ledger row (valid JSON, string ids, epoch-ms timestamp)."""
    r = state.ledger.row("sms", row)
    acct = state.accounts.get(r["api_key"])
    number = r["recipient"]
    mcc = next((MCC[number[:k]] for k in (3, 2, 1) if number[:k] in MCC), "-1")
    delivered = r["outcome"] == "delivered"
    price = r["cost_micros"] // max(r["units"], 1)
    return {"appId": r["app_id"], "orderId": r["order_id"], "msgid": r["msg_id"], "mobile": number,
            "status": 0 if delivered else 1, "reason": r["reason"], "timestamp": int(r["deliver_at"] * 1000),
            "mcc": mcc, "mnc": "-1",
            "pricedetail": {"pay": price_text(r["cost_micros"]), "chargeCnt": r["units"],
                            "currency": acct.currency if acct else "EUR", "price": price_text(price)}}


ROUTES = [
    Route("getBalance", "sms", "A", get_balance, ("GET", "POST")),
    Route("sendSms", "sms", "A", send_sms, ("GET", "POST")),
    Route("sendSms/batch", "sms", "A", send_batch, ("POST",)),
    Route("getReport", "sms", "A", get_report, ("GET", "POST")),
    Route("getSentRcd", "sms", "A", get_sent_rcd, ("GET", "POST")),
    Route("recordMo", "sms", "B", record_mo, ("POST",)),
    Route("postback/backfill", "sms", "A", postback, ("POST",)),
]
