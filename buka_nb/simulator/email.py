"""Email endpoints (buka-api.md §4, seed EMAIL table): sendEmail, getSendEmailRcd, batchSendEmail, listings.

Templates, sender addresses and stored recipient lists are simulator fixtures: templates ``"1"``
(verification code), ``"2"`` (welcome), ``"3"`` (newsletter) are approved, ``"4"`` is still under
review (-12); senders come from each account (default ``noreply@demo.buka.test``); recipient list
``"1"`` holds three demo addresses for batchSendEmail.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .common import Call, Route, csv_list, integer, reply, reply_b, status_report, text
from .accounts import MICROS

MAX_ADDRESSES = 50
MAX_QUERY_IDS = 200
MAX_SUBJECT_CHARS = 100

TEMPLATES = {
    "1": {"templateName": "Verification code", "templateStatus": 1, "language": "en", "variables": ["code"]},
    "2": {"templateName": "Welcome", "templateStatus": 1, "language": "en", "variables": ["name"]},
    "3": {"templateName": "Newsletter", "templateStatus": 1, "language": "en", "variables": []},
    "4": {"templateName": "Draft promotion", "templateStatus": 0, "language": "en", "variables": []},
}
RECEIVER_LISTS = {"1": {"receiversName": "Demo list",
                        "addresses": ["alice@example.com", "bob@example.com", "carol@example.com"]}}

# the top-level domain: letters, or an internationalised one in its ASCII form (xn--p1ai is .рф)
_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.(?:[A-Za-z]{2,}|xn--[A-Za-z0-9-]+)")


def valid_address(address: str) -> bool:
    return bool(_ADDRESS.fullmatch(address)) and ".." not in address


def _common(call: Call, *, subject_required: bool) -> tuple[int, dict[str, Any]]:
    """Checks shared by sendEmail and batchSendEmail, in the platform's order; (code, fields)."""
    p, acct = call.params, call.account
    if acct.locked:
        return -4, {}
    if text(p, "appId") != acct.email_app_id:
        return -5, {}
    sender = text(p, "fromEmailAddress")
    if sender is None:
        return -5, {}
    if not sender:
        return -9, {}
    if sender.lower() not in acct.senders:
        return -10, {}
    template_id = text(p, "templateID")
    if not template_id:
        return -5, {}
    if integer(template_id) is None:
        return -25, {}
    template = TEMPLATES.get(str(integer(template_id)))
    if template is None:
        return -11, {}
    if template["templateStatus"] != 1:
        return -12, {}
    subject = text(p, "subject")
    if subject is None or len(subject) > MAX_SUBJECT_CHARS or (subject_required and not subject):
        return -17, {}
    if "adFlag" in p and p["adFlag"] not in (None, "") and integer(p["adFlag"]) not in (0, 1, 2):
        return -27, {}
    return 0, {"sender": sender, "template_id": str(integer(template_id)), "subject": subject}


def send_email(call: Call) -> dict[str, Any]:
    code, f = _common(call, subject_required=True)
    if code:
        return reply("email", code)
    to = text(call.params, "toAddress")
    if not to:
        return reply("email", -13 if to == "" else -5)
    addresses = csv_list(to)
    if len(addresses) > MAX_ADDRESSES:
        return reply("email", -14)
    data = call.params.get("templateData")
    if data not in (None, ""):
        # templateData is JSON *text* holding an object (§4.1), not a nested JSON object.
        try:
            parsed = json.loads(data) if isinstance(data, str) else None
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            return reply("email", -18)
    content = f"[{f['template_id']}] {f['subject']} {data or ''}".rstrip()
    state = call.state
    code = state.scenario_code("email", addresses, content)
    if code is not None:
        return reply("email", code)
    rejected = state.scenario_rejects("email", addresses) if state.scenarios else set()
    good = [a for i, a in enumerate(addresses) if valid_address(a) and i not in rejected]
    if not good:
        return reply("email", -15)
    array = _accept(call, good, content, f["sender"])
    if isinstance(array, dict):
        return array
    failed = len(addresses) - len(good)
    return reply("email", 0, success=str(len(good)), fail=str(failed), emailState="success",
                 remark=f"{failed} invalid address(es) dropped" if failed else "", array=array)


def _accept(call: Call, addresses: list[str], content: str, sender: str) -> list[dict[str, str]] | dict:
    """Charge and record accepted addresses; returns the response array, or an error body."""
    state, acct = call.state, call.account
    price = round(acct.email_price * MICROS)
    now = state.now()
    deliver, outcomes, reasons = state.decide("email", addresses, content, now)
    with state.lock:
        if not acct.charge(price * len(addresses)):
            return reply("email", -19)
        ids = state.new_ids(len(addresses), now)
        state.ledger.append("email", msg_ids=ids, recipients=addresses, app_id=acct.email_app_id,
                            api_key=acct.api_key, content=content, sender=sender, submit_at=now,
                            request_no=call.request_no, deliver_at=deliver, outcomes=outcomes, reasons=reasons,
                            units=1, cost_micros=price)
    return [{"emailId": i, "toAddress": a} for i, a in zip(ids, addresses)]


def get_send_email_rcd(call: Call) -> dict[str, Any]:
    acct = call.account
    if acct.locked:
        return reply("email", -4)
    if text(call.params, "appId") != acct.email_app_id:
        return reply("email", -5)
    ids = csv_list(text(call.params, "emailId") or "")
    if not ids:
        return reply("email", -5)
    if len(ids) > MAX_QUERY_IDS:
        return reply("email", -28)
    return status_report(call, "email", ids, "emailId", "toAddress")


def batch_send_email(call: Call) -> dict[str, Any]:
    code, f = _common(call, subject_required=False)
    if code:
        return reply("email", code)
    if not text(call.params, "url"):
        return reply("email", -29)
    trigger = call.params.get("triggerID")
    if trigger not in (None, "") and integer(trigger) is None:
        return reply("email", -30)
    receivers = RECEIVER_LISTS.get(text(call.params, "receiverId") or "")
    if receivers is None:
        return reply("email", -16)
    content = f"[{f['template_id']}] {f['subject']} list:{text(call.params, 'receiverId')}".rstrip()
    array = _accept(call, list(receivers["addresses"]), content, f["sender"])
    if isinstance(array, dict):
        return array
    # emailIds reach the customer through the callback; the call itself only names the task.
    return reply("email", 0, taskId=array[0]["emailId"])


def list_templates(call: Call) -> dict[str, Any]:
    if text(call.params, "appId") != call.account.email_app_id:
        return reply_b("email", -5)
    rows = [{"templateID": tid, "templateName": t["templateName"], "templateStatus": t["templateStatus"],
             "language": t["language"]} for tid, t in TEMPLATES.items()]
    return reply_b("email", 0, rows)


def list_addresses(call: Call) -> dict[str, Any]:
    if text(call.params, "appId") != call.account.email_app_id:
        return reply_b("email", -5)
    return reply_b("email", 0, [{"emailAddress": s} for s in call.account.senders])


def list_receivers(call: Call) -> dict[str, Any]:
    if text(call.params, "appId") != call.account.email_app_id:
        return reply_b("email", -5)
    return reply_b("email", 0, [{"receiverId": rid, "receiversName": r["receiversName"],
                                 "count": len(r["addresses"])} for rid, r in RECEIVER_LISTS.items()])


ROUTES = [
    Route("email/sendEmail", "email", "A", send_email, ("GET", "POST")),
    Route("email/batchSendEmail", "email", "A", batch_send_email, ("POST",)),
    Route("email/getSendEmailRcd", "email", "A", get_send_email_rcd, ("GET", "POST")),
    Route("email/getListEmailTemplates", "email", "B", list_templates, ("POST",)),
    Route("email/getListEmailAddress", "email", "B", list_addresses, ("POST",)),
    Route("email/getListReceivers", "email", "B", list_receivers, ("POST",)),
]
