"""Pure AI-voice model: tasks, customers, robot-lane call scheduling, seeded call outcomes, record formats.

Calls are placed when a task starts (or auto-starts): each of ``robotCount`` lanes dials its next
customer one second after its previous call ended. A call's result, ring time and talk time are
drawn from (seed, script, task name, phone) so reruns reproduce them; scenarios can force a result.
The 09:00-20:00 daily window is validated at taskAdd but not enforced when placing calls, so
tests never depend on the hour of the machine clock.

Scripts (``dialogFlowList``): 1 "Customer survey" needs no properties; 2 "Payment reminder" needs
``amount`` and ``dueDate``; 3 "Appointment confirmation" needs ``date`` (else -51 per row).
"""

from __future__ import annotations

import json
import math
import zlib
from dataclasses import dataclass, field
from typing import Any

from .accounts import MICROS
from .state import SimState, local8

DIALOG_FLOWS = {
    1: {"name": "Customer survey", "properties": ()},
    2: {"name": "Payment reminder", "properties": ("amount", "dueDate")},
    3: {"name": "Appointment confirmation", "properties": ("date",)},
}
LINES = {1: "Line 1 (85230001111)", 2: "Line 2 (85230002222)"}
FIXTURE_TIME = "2024-01-01 10:00:00"

#: Result mix of placed calls (resultStatus values from the platform's call-record push).
RESULTS = (("ANSWERED", 0.60), ("NO_ANSWER", 0.18), ("BUSY", 0.07), ("POWER_OFF", 0.05),
           ("REFUSED", 0.04), ("VACANT_NUMBER", 0.03), ("OUT_OF_SERVICE", 0.02), ("CAN_NOT_CONNECT", 0.01))
SIP_CODE = {"ANSWERED": "200", "NO_ANSWER": "480", "BUSY": "486", "POWER_OFF": "480", "REFUSED": "603",
            "VACANT_NUMBER": "404", "OUT_OF_SERVICE": "503", "CAN_NOT_CONNECT": "408"}

# Task states; taskNoCall rows use the first three (platform enum CAN_NOT_START/CAN_START/IN_PROCESS).
CAN_NOT_START, CAN_START, IN_PROCESS, PAUSED, COMPLETED = (
    "CAN_NOT_START", "CAN_START", "IN_PROCESS", "PAUSED", "COMPLETED")


@dataclass
class Customer:
    person_id: str
    name: str
    phone: str
    gender: Any
    properties: dict[str, Any]
    row: int                                  # ledger row (channel "voice")
    call: dict[str, Any] | None = None        # set when the call is placed


@dataclass
class Task:
    job_id: int
    api_key: str
    app_id: str
    settings: dict[str, Any]
    create_time: float
    status: str = CAN_NOT_START
    customers: list[Customer] = field(default_factory=list)
    phones: set[str] = field(default_factory=set)
    lanes: list[float] = field(default_factory=list)   # when each robot lane is next free
    deleted: bool = False
    start_at: float | None = None                      # AUTO mode start
    imported_at: float = 0.0                           # last importCustomer (AUTO never dials earlier)

    @property
    def name(self) -> str:
        return self.settings["name"]

    def by_person(self, person_id: str) -> Customer | None:
        return next((c for c in self.customers if c.person_id == person_id), None)


def refresh(task: Task, now: float) -> str:
    """Bring a task's status up to sim time *now*: auto-start AUTO tasks, complete finished ones."""
    if task.status == IN_PROCESS and task.customers and all(
            c.call is not None and c.call["end"] <= now for c in task.customers):
        task.status = COMPLETED
    return task.status


def draw_call(state: SimState, task: Task, customer: Customer) -> dict[str, Any]:
    """The seeded result and durations of one call (not yet placed in time)."""
    flow = task.settings["dialogFlowId"]
    base = zlib.crc32(f"{state.seed}|voice|{flow}|{task.name}".encode("utf-8"))
    h = (zlib.crc32(customer.phone.encode(), base) * 2654435761) & 0xFFFFFFFF
    u, v = (h & 0xFFFF) / 65536.0, (h >> 16) / 65536.0
    w = ((zlib.crc32(customer.phone.encode(), base ^ 0x5BD1E995) * 2246822519) & 0xFFFFFFFF) / 4294967296.0
    result, acc = RESULTS[-1][0], 0.0
    for name, share in RESULTS:
        acc += share
        if u < acc:
            result = name
            break
    forced = state.forced("voice", customer.phone, customer.name)
    if forced is not None:
        if forced.action == "pending":
            return {"result": None}
        result = "ANSWERED" if forced.action == "deliver" else (forced.reason or "NO_ANSWER")
    if result == "ANSWERED":
        ring, chat = 3 + v * 20, 15 + w * 165
    elif result == "NO_ANSWER":
        ring, chat = 30 + v * 25, 0.0
    elif result in ("BUSY", "REFUSED"):
        ring, chat = 2 + v * 8, 0.0
    else:
        ring, chat = 1 + v * 3, 0.0
    return {"result": result, "ring": round(ring), "chat": round(chat), "w": w}


def place_calls(state: SimState, task: Task, start: float, account: Any) -> int | None:
    """Schedule every uncalled customer from *start*; returns the cost in micros, or None if unaffordable.

    Caller holds the state lock. Nothing changes when the account cannot pay for the calls.
    """
    robots = int(task.settings["robotCount"])
    lanes = [max(t, start) for t in (task.lanes or [start] * robots)][:robots]
    lanes += [start] * (robots - len(lanes))
    price = round(account.voice_price * MICROS)
    plans = []
    for customer in task.customers:
        if customer.call is not None:
            continue
        drawn = draw_call(state, task, customer)
        if drawn["result"] is None:
            continue  # a "pending" scenario: this customer is never dialled
        lane = min(range(robots), key=lanes.__getitem__)
        begin = lanes[lane] + 1.0
        end = begin + drawn["ring"] + drawn["chat"]
        lanes[lane] = end
        charged = 60 * math.ceil(drawn["chat"] / 60) if drawn["chat"] else 0
        plans.append((customer, drawn, begin, end, charged, (charged // 60) * price))
    total = sum(p[-1] for p in plans)
    if not account.charge(total):
        return None
    task.lanes = lanes
    ids = state.new_ids(len(plans), start) if plans else []
    for (customer, drawn, begin, end, charged, cost), call_id in zip(plans, ids):
        customer.call = {"id": call_id, "start": begin, "end": end, "charged": charged, "cost": cost, **drawn}
        state.ledger.set_delivery("voice", customer.row, end, drawn["result"], SIP_CODE.get(drawn["result"], ""),
                                  units=charged, cost_micros=cost)
    state.queue_pushes("voice", [c.row for c, *_ in plans], [p[3] for p in plans])
    return total


def unplace_calls(state: SimState, task: Task, now: float, account: Any) -> None:
    """Pause: calls that have not started by *now* go back to uncalled and are refunded."""
    for customer in task.customers:
        call = customer.call
        if call is not None and call["start"] > now:
            account.balance_micros += call["cost"]
            customer.call = None
            state.ledger.set_delivery("voice", customer.row, float("inf"), "", "", units=0, cost_micros=0)
    task.lanes = [min(t, now) for t in task.lanes]


def record(task: Task, customer: Customer) -> dict[str, Any]:
    """One recordQuery row (strings, as the platform documents them)."""
    call = customer.call
    answered = call["result"] == "ANSWERED"
    w = call["w"]
    return {
        "keyId": call["id"], "appId": task.app_id, "callId": call["id"], "callRecordId": "",
        "robotCount": int(task.settings["robotCount"]), "callJobId": str(task.job_id),
        "dialogFlowId": str(task.settings["dialogFlowId"]),
        "tenantPhoneNumberId": str(task.settings["jobPhoneNumberId"]),
        "calledPhoneNumber": customer.phone, "customerPersonName": customer.name,
        "hangupBy": ("CUSTOMER" if w < 0.6 else "ROBOT") if answered else "",
        "analysisBasis": "keyword match" if answered else "", "resultStatus": call["result"],
        "startTime": local8(call["start"]), "endTime": local8(call["end"]),
        "chatDuration": str(call["chat"]), "chargedDuration": str(call["charged"]),
        "chatRound": str(max(1, call["chat"] // 12) if answered else 0), "attributes": "",
        "customerConcern": "", "properties": json.dumps(customer.properties, ensure_ascii=False),
        "intentLevelDetailName": "ABCD"[min(int(w * 4), 3)] if answered else "E",
        "fullAudioUrl": "", "customerAudioUrl": "", "dynamicProperties": "{}", "redialTimes": "0",
    }


def push_report(task: Task, customer: Customer, currency: str) -> dict[str, Any]:
    """The AI call-record push (platform push fields) with the §7.3 voice-report fields alongside."""
    call = customer.call
    answered = call["result"] == "ANSWERED"
    ms = lambda t: int(t * 1000)  # noqa: E731 - epoch milliseconds, like §7.3
    ring_end = call["start"] + call["ring"]
    return {
        "callId": call["id"], "appId": task.app_id, "robotCallJobId": task.job_id,
        "dialogFlowId": int(task.settings["dialogFlowId"]),
        "tenantPhoneNumberId": int(task.settings["jobPhoneNumberId"]),
        "calledPhoneNumber": customer.phone, "customerPersonName": customer.name,
        "startTime": int(call["start"]), "endTime": int(call["end"]), "resultStatus": call["result"],
        "hangupBy": ("CUSTOMER" if call["w"] < 0.6 else "ROBOT") if answered else "",
        "chatDuration": call["chat"], "billingTime": call["charged"],
        "pay": f"{call['cost'] / MICROS:.4f}", "chatRound": max(1, call["chat"] // 12) if answered else 0,
        "properties": customer.properties, "customerConcern": [], "attributes": [], "dynamicProperties": {},
        "callCount": 1, "redialTimes": 0,
        # §7.3-style fields so a voice-report receiver can store AI calls too.
        "voiceId": call["id"], "type": 5, "callee": customer.phone, "submitTime": ms(call["start"]),
        "callTime": ms(call["start"]), "ringingTime": ms(call["start"] + 1),
        "answerTime": ms(ring_end) if answered else 0, "hangupTime": ms(call["end"]),
        "callDuration": call["chat"], "chargedDuration": call["charged"],
        "terminationCode": SIP_CODE.get(call["result"], ""), "terminationReason": call["result"].lower(),
        "currency": currency,
    }
