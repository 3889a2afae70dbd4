"""Intelligent (AI) voice endpoints, ``/AiVoice/...`` (buka-api.md §5.6, seed AI-voice table), style B.

Routed case-insensitively (``/aivoice/`` works too). Task model and call scheduling live in
:mod:`.aitasks`; this module validates requests in the platform's order and shapes the answers.
A locked account answers -49 (the AI table has no "locked" code; -49 is "account not authenticated").
"""

from __future__ import annotations

import re
from typing import Any

from .aitasks import (CAN_NOT_START, CAN_START, COMPLETED, DIALOG_FLOWS, FIXTURE_TIME, IN_PROCESS, LINES, PAUSED,
                      Customer, Task, place_calls, push_report, record, refresh, unplace_calls)
from .common import Call, Route, integer, page, reply_b, text
from .state import SimState, local8, parse_time

MAX_IMPORT = 100
REDIAL_CONDITIONS = frozenset({"CALL_LOSS", "NO_ANSWER", "BUSY", "REFUSED", "POWER_OFF", "OUT_OF_SERVICE",
                               "CAN_NOT_CONNECT", "FROM_PHONE_ERROR", "SYSTEM_ERROR", "VACANT_NUMBER",
                               "TRANSFER_ARTIFICIAL"})
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


def _ok(data: Any = None) -> dict[str, Any]:
    return reply_b("voice", 0, data)


def _err(code: int) -> dict[str, Any]:
    return reply_b("voice", code)


def _app(call: Call) -> int:
    """0, or the code for a locked account / unknown app (appId top-level or under ``params``)."""
    if call.account.locked:
        return -49
    nested = call.params.get("params") if isinstance(call.params.get("params"), dict) else {}
    app_id = text(call.params, "appId") or text(nested, "appId")
    return 0 if app_id == call.account.voice_app_id else -37


def _tasks(call: Call) -> list[Task]:
    """This account's live tasks, brought up to sim time (AUTO tasks start here)."""
    state, now = call.state, call.state.now()
    out = []
    for task in list(state.tasks.values()):  # a copy: other threads may add tasks
        if task.deleted or task.api_key != call.account.api_key:
            continue
        if (task.settings["mode"] == "AUTO" and task.status == CAN_START and task.start_at is not None
                and task.start_at <= now):
            with state.lock:
                if place_calls(state, task, max(task.start_at, task.imported_at), call.account) is not None:
                    task.status = IN_PROCESS
        refresh(task, now)
        out.append(task)
    return out


def _task(call: Call, job_id: Any) -> tuple[int, Task | None]:
    jid = integer(job_id)
    if jid is None:
        return -27, None
    task = next((t for t in _tasks(call) if t.job_id == jid), None)
    return (0, task) if task else (-32, None)


def _app_task(call: Call) -> tuple[int, Task | None]:
    """The app check, then the task named by ``jobId``: (0, task) or (code, None)."""
    code = _app(call)
    return (code, None) if code else _task(call, call.params.get("jobId"))


def _settings(call: Call, current: Task | None) -> tuple[int, dict[str, Any]]:
    """Validate taskAdd/taskEdit fields; returns (code, normalised settings)."""
    p, acct = call.params, call.account
    name = text(p, "name")
    if not name:
        return -27, {}
    if any(t.name == name and t is not current for t in _tasks(call)):
        return -33, {}
    flow, line, robots = integer(p.get("dialogFlowId")), integer(p.get("jobPhoneNumberId")), integer(p.get("robotCount"))
    mode = text(p, "mode")
    if flow not in DIALOG_FLOWS or line not in LINES or mode not in ("MANUAL", "AUTO") or robots is None or robots < 1:
        return -27, {}
    start_at = None
    if mode == "AUTO":
        if not text(p, "startDateTime"):
            return -28, {}
        start_at = parse_time(p["startDateTime"])
        if start_at is None:
            return -27, {}
    daily = [_HHMM.fullmatch(text(p, k) or "") for k in ("dailyStartDateTime", "dailyEndDateTime")]
    if not all(daily):
        return -27, {}
    first, last = (int(m.group(1)) * 60 + int(m.group(2)) for m in daily)
    if first < 9 * 60 or last > 20 * 60 or first >= last:
        return -48, {}
    if robots > acct.max_robots:
        return -52, {}
    conditions = p.get("redialCondition") or []
    if not isinstance(conditions, list) or not set(conditions) <= REDIAL_CONDITIONS:
        return -29, {}
    if p.get("redialInterval") not in (None, "") and integer(p.get("redialInterval")) is None:
        return -30, {}
    if p.get("redialTimes") not in (None, "") and integer(p.get("redialTimes")) is None:
        return -31, {}
    if len(p.get("inactiveTimeList") or []) > 3 or len(p.get("inactiveDateList") or []) > 3:
        return -27, {}
    settings = {k: v for k, v in p.items() if k not in ("appId", "jobId")}
    settings.update(name=name, dialogFlowId=flow, jobPhoneNumberId=line, robotCount=robots, mode=mode)
    return 0, settings | {"_start_at": start_at}


def dialog_flow_list(call: Call) -> dict[str, Any]:
    code = _app(call)
    return _err(code) if code else _ok([{"dialogFlowId": fid, "name": f["name"], "status": "PUBLISHED",
                                         "createTime": FIXTURE_TIME} for fid, f in DIALOG_FLOWS.items()])


def channel_list(call: Call) -> dict[str, Any]:
    code = _app(call)
    return _err(code) if code else _ok([{"tenantPhoneNumberId": str(lid), "phoneNumber": name}
                                         for lid, name in LINES.items()])


def task_add(call: Call) -> dict[str, Any]:
    code = _app(call)
    if not code:
        code, settings = _settings(call, None)
    if code:
        return _err(code)
    state = call.state
    with state.lock:
        job_id = state.next_job_id
        state.next_job_id += 1
        start_at = settings.pop("_start_at")
        state.tasks[job_id] = Task(job_id, call.account.api_key, call.account.voice_app_id, settings,
                                   state.now(), start_at=start_at)
    return _ok(job_id)


def task_edit(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    if not code and task.status in (IN_PROCESS, COMPLETED):
        code = -54
    if not code:
        code, settings = _settings(call, task)
    if code:
        return _err(code)
    with call.state.lock:
        task.start_at = settings.pop("_start_at")
        task.settings = settings
    return _ok()


def properties(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    return _err(code) if code else _ok(list(DIALOG_FLOWS[task.settings["dialogFlowId"]]["properties"]))


def import_customer(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    persons = call.params.get("customerPersons")
    if not code and not isinstance(persons, list):
        code = -27
    if not code and len(persons) > MAX_IMPORT:
        code = -56
    if code:
        return _err(code)
    state, acct = call.state, call.account
    required = DIALOG_FLOWS[task.settings["dialogFlowId"]]["properties"]
    rejects = set(state.scenario_rejects("voice", [str(p.get("phoneNumber", "")) if isinstance(p, dict) else ""
                                                   for p in persons])) if state.scenarios else set()
    called_before: set[str] = set()
    if call.params.get("callRecordDup") is True:
        called_before = {c.phone for t in _tasks(call) for c in t.customers if c.call is not None}
    refused, accepted = [], []
    with state.lock:
        seen = set(task.phones)
        for i, person in enumerate(persons):
            row_code = _check_person(person, required, seen, called_before, i in rejects)
            if row_code:
                base = person if isinstance(person, dict) else {"value": person}
                refused.append({**base, "status": str(row_code), "reason": reply_b("voice", row_code)["reason"]})
                continue
            phone = str(person["phoneNumber"]).strip()
            seen.add(phone)
            accepted.append((phone, person))
        if accepted:
            now = state.now()
            ids = state.new_ids(len(accepted), now)
            phones = [a[0] for a in accepted]
            start = state.ledger.append(
                "voice", msg_ids=ids, recipients=phones, app_id=acct.voice_app_id, api_key=acct.api_key,
                content=task.name, sender=str(task.settings["jobPhoneNumberId"]), task_id=str(task.job_id),
                submit_at=now, request_no=call.request_no, deliver_at=[float("inf")] * len(ids),
                outcomes=[""] * len(ids), reasons=[""] * len(ids), units=0, dup_scope=("job", task.job_id))
            for k, ((phone, person), person_id) in enumerate(zip(accepted, ids)):
                task.customers.append(Customer(person_id, str(person["name"]), phone, person.get("gender"),
                                               dict(person.get("properties") or {}), start + k))
                task.phones.add(phone)
            task.imported_at = now
            if task.status == CAN_NOT_START:
                task.status = CAN_START
            elif task.status == IN_PROCESS:  # numbers added to a running task are dialled too
                place_calls(state, task, now, acct)
    return _ok(refused)


def _check_person(person: Any, required: tuple[str, ...], seen: set[str], called: set[str],
                  rejected: bool) -> int:
    if not isinstance(person, dict) or not str(person.get("name") or "").strip():
        return -35
    phone = str(person.get("phoneNumber") or "").strip()
    # A plain number (7-15 digits) or the platform's encrypted id (alphanumeric, at most 32 chars).
    if not (phone.isascii() and phone.isalnum() and (7 <= len(phone) <= 15 or not phone.isdigit())
            and len(phone) <= 32) or rejected:
        return -35
    if phone in seen or phone in called:
        return -53
    props = person.get("properties") or {}
    if not isinstance(props, dict) or any(props.get(name) in (None, "") for name in required):
        return -51
    return 0


def import_customer_del(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    rows = call.params.get("jobPhoneNumberList")
    if not code and not isinstance(rows, list):
        code = -27
    if code:
        return _err(code)
    phones = {str(r.get("phoneNumber")) for r in rows if isinstance(r, dict)}
    state = call.state
    with state.lock:
        now = state.now()
        for customer in [c for c in task.customers if c.phone in phones and c.call is None]:
            task.customers.remove(customer)
            task.phones.discard(customer.phone)
            state.ledger.set_delivery("voice", customer.row, now, "REMOVED", "removed before dialling")
        if not task.customers and task.status == CAN_START:
            task.status = CAN_NOT_START
    return _ok()


def task_start(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    if code:
        return _err(code)
    if task.status in (IN_PROCESS, COMPLETED):
        return _err(-39)
    if not task.customers:
        return _err(-45)
    state = call.state
    with state.lock:
        if place_calls(state, task, state.now(), call.account) is None:
            return _err(-3)
        task.status = IN_PROCESS
    return _ok()


def task_stop(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    if code:
        return _err(code)
    if task.status != IN_PROCESS:
        return _err(-38)
    state = call.state
    with state.lock:
        unplace_calls(state, task, state.now(), call.account)
        task.status = PAUSED
    return _ok()


def task_del(call: Call) -> dict[str, Any]:
    code, task = _app_task(call)
    if code:
        return _err(code)
    if task.status == IN_PROCESS:
        return _err(-44)
    task.deleted = True
    return _ok()


def _summary(task: Task, now: float) -> dict[str, Any]:
    s = task.settings
    return {"jobId": task.job_id, "name": task.name, "dialogFlowName": DIALOG_FLOWS[s["dialogFlowId"]]["name"],
            "jobPhoneNumberName": LINES[s["jobPhoneNumberId"]], "robotCount": s["robotCount"], "mode": s["mode"],
            "hangupSms": bool(s.get("hangupSms", False)), "taskTotal": len(task.customers),
            "taskCompleted": sum(1 for c in task.customers if c.call is not None and c.call["end"] <= now),
            "status": task.status, "isDialogFlowUnbind": "false", "createTime": local8(task.create_time)}


def task_list(call: Call) -> dict[str, Any]:
    code = _app(call)
    if code:
        return _err(code)
    params = call.params.get("params") if isinstance(call.params.get("params"), dict) else {}
    name = text(params, "name") or ""
    now = call.state.now()
    rows = [_summary(t, now) for t in _tasks(call) if name in t.name]
    return _ok(page(rows, call.params.get("current"), call.params.get("size")))


def task_no_call(call: Call) -> dict[str, Any]:
    code = _app(call)
    if code:
        return _err(code)
    params = call.params.get("params") if isinstance(call.params.get("params"), dict) else {}
    job = integer(params.get("jobId")) if params.get("jobId") not in (None, "") else None
    wanted = text(params, "taskStatus") or ""
    now = call.state.now()
    rows = []
    for task in _tasks(call):
        status = {IN_PROCESS: IN_PROCESS, CAN_NOT_START: CAN_NOT_START}.get(task.status, CAN_START)
        if (job is not None and task.job_id != job) or (wanted and wanted != status):
            continue
        rows += [{"jobId": task.job_id, "customerPersonId": int(c.person_id), "customerPersonName": c.name,
                  "calledPhoneNumber": c.phone, "status": status, "properties": c.properties}
                 for c in task.customers if c.call is None or c.call["start"] > now]
    return _ok(page(rows, call.params.get("current"), call.params.get("size")))


def record_query(call: Call) -> dict[str, Any]:
    code = _app(call)
    if code:
        return _err(code)
    params = call.params.get("params") if isinstance(call.params.get("params"), dict) else {}
    start, end = parse_time(params.get("startTime")), parse_time(params.get("endTime"))
    if start is None or end is None or end < start:
        return _err(-27)
    now = call.state.now()
    # A record exists once the call has ended; the window selects by end time, so a poller
    # moving its window forward never misses a call that was still running last time.
    done = [(c.call["end"], t, c) for t in _tasks(call) for c in t.customers
            if c.call is not None and start <= c.call["end"] <= min(end, now)]
    done.sort(key=lambda item: (item[0], item[2].call["id"]))
    return _ok(page([record(t, c) for _, t, c in done], call.params.get("current"), call.params.get("size")))


def call_report(state: SimState, row: int) -> dict[str, Any]:
    """The push body for the AI call behind ledger row *row* (used by the push thread)."""
    led = state.ledger.channels["voice"]
    task = state.tasks.get(int(led.task_id[row]))
    customer = task.by_person(led.msg_id[row]) if task else None
    if customer is None or customer.call is None:
        return {"callId": "", "calledPhoneNumber": led.recipient[row], "resultStatus": led.outcome[row]}
    account = state.accounts.get(task.api_key)
    return push_report(task, customer, account.currency if account else "EUR")


ROUTES = [Route(f"AiVoice/{op}", "voice", "B", fn) for op, fn in (
    ("dialogFlowList", dialog_flow_list), ("channelList", channel_list), ("taskAdd", task_add),
    ("taskEdit", task_edit), ("properties", properties), ("importCustomer", import_customer),
    ("importCustomer/del", import_customer_del), ("taskStart", task_start), ("taskStop", task_stop),
    ("taskDel", task_del), ("taskList", task_list), ("taskNoCall", task_no_call), ("recordQuery", record_query))]
