"""Intelligent-voice (AI call) campaigns from a DataFrame or CSV: one task, imports of 100, call results.

A campaign is one BUKA AI-voice task: the first import creates it (or finds the one an earlier run
of the same campaign created: by the jobId in the journal, else by its name), the shared send path
imports the valid rows in chunks of at most 100 with per-row ``properties``, and
:meth:`VoicePlanner.end` starts the task.
:func:`collect_call_records` later fills ``delivery`` from the call records.

Result rows: ``task_id`` is the task's jobId; BUKA gives no per-row id on import, so ``msg_id`` is
``"<jobId>:<phone>"`` (unique within a task, since a task refuses a repeated phone with -53), which
is also how call records are matched back to rows.

>>> from buka_nb.simulator import Simulator                                    # doctest: +SKIP
>>> with Simulator() as sim:                                                   # doctest: +SKIP
...     results = send_voice(df, properties=["name", "amount"], credentials=sim.credentials)
...     sim.advance(3600)
...     results = collect_call_records(results, credentials=sim.credentials)
"""

from __future__ import annotations

import asyncio
import re
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import errors
from .campaign import DEFAULT, DryRun, Plan, Planner, plan_frame, run_csv, send_frame
from .catalog import DUPLICATE_CODE
from .client import BUKA_TZ
from .engine import Batch
from .envelope import Envelope
from .errors import InputError
from .io import require_columns
from .journal import Journal
from .phones import normalise_numbers

if TYPE_CHECKING:
    import pandas as pd

    from .client import AsyncBukaClient

MAX_IMPORT = 100
IMPORT_FAILED = -35      # Customer information import failed
PROPERTY_MISSING = -51   # Customer custom property is incomplete
ALREADY_IN_TASK = DUPLICATE_CODE["voice"]  # -53 The customer already exists in this task
CANNOT_START = -39       # The current task cannot be started (already running or finished)
NAME_EXISTS = -33        # Outbound task name already exists
DAILY_LIMITS = ("09:00", "20:00")
#: recordQuery ``resultStatus`` values that count as delivered.
ANSWERED = frozenset({"ANSWERED"})
RECORD_WINDOW = timedelta(days=30)  # BUKA answers record queries for windows of at most 31 days
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def check_daily_window(window: Sequence[str]) -> tuple[str, str]:
    """Validate a daily dialling window locally; BUKA refuses one outside 09:00-20:00 with -48.

    >>> check_daily_window(("09:30", "18:00"))
    ('09:30', '18:00')
    """
    try:
        start, end = (str(t).strip() for t in window)
    except (TypeError, ValueError):
        raise InputError(f"daily_window={window!r}: give (start, end) as 'HH:MM' strings, e.g. ('09:00', '20:00')") from None
    for t in (start, end):
        if not _HHMM.match(t):
            raise InputError(f"daily_window time {t!r} is not HH:MM (24-hour), e.g. '09:00'")
    if not DAILY_LIMITS[0] <= start < end <= DAILY_LIMITS[1]:
        raise InputError(f"daily_window {start}-{end}: BUKA dials only between {DAILY_LIMITS[0]} and "
                         f"{DAILY_LIMITS[1]} (-48), and start must be before end")
    return start, end


class VoicePlanner(Planner):
    """AI voice: row validation, imports of at most 100 customers, the task's lifecycle."""

    channel = "voice"

    def __init__(self, *, phone_col: str = "phone", name_col: str | None = "name",
                 properties: Sequence[str] | str | None = None, task_name: str | None = None,
                 dialog_flow_id: int | None = None, line_id: int | str | None = None, robot_count: int = 1,
                 daily_window: Sequence[str] = DAILY_LIMITS, start: bool = True, duplicates: str = "first",
                 batch_size: int = MAX_IMPORT, app_id: str | None = None) -> None:
        if duplicates not in ("first", "error"):
            raise InputError(f"duplicates={duplicates!r}: use 'first' or 'error' (a voice task refuses a repeated "
                             "phone number with -53, so 'allow' is not possible)")
        if not 1 <= batch_size <= MAX_IMPORT:
            raise InputError(f"batch_size must be 1-{MAX_IMPORT} (BUKA's import limit, -56), got {batch_size}")
        if not isinstance(robot_count, int) or robot_count < 1:
            raise InputError(f"robot_count must be a positive integer, got {robot_count!r}")
        if task_name is not None and not str(task_name).strip():
            raise InputError("task_name is empty: give a name, or leave it None to derive one from the campaign id")
        self.phone_col, self.name_col = phone_col, name_col
        self.properties = [properties] if isinstance(properties, str) else (
            None if properties is None else list(properties))
        self.task_name = None if task_name is None else str(task_name).strip()
        self.dialog_flow_id, self.line_id, self.robot_count = dialog_flow_id, line_id, robot_count
        self.daily_window = check_daily_window(daily_window)
        self.start, self.duplicates, self.batch_size, self.app_id = start, duplicates, batch_size, app_id
        self.order_prefix = "o"
        #: The campaign's task: job_id, name, created (by this run), started, start_code, start_reason.
        self.task: dict[str, Any] = {}
        self.job_id: int | None = None
        self._reused = False  # the task existed before this run, so -53 means "imported earlier"
        self._lock: asyncio.Lock | None = None

    def options(self) -> dict[str, Any]:
        return {"phone_col": self.phone_col, "name_col": self.name_col, "properties": self.properties,
                "task_name": self.task_name, "dialog_flow_id": self.dialog_flow_id, "line_id": self.line_id,
                "robot_count": self.robot_count, "daily_window": list(self.daily_window),
                "duplicates": self.duplicates, "batch_size": self.batch_size, "app_id": self.app_id}

    def required_columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.phone_col, *([self.name_col] if self.name_col else []),
                                    *(self.properties or []))))

    def check_columns(self, frame: pd.DataFrame, source: str = "the frame") -> None:
        require_columns(frame, (self.phone_col,), source=source, option="phone_col")
        if self.name_col:
            require_columns(frame, (self.name_col,), source=source, option="name_col")
        for column in self.properties or []:
            require_columns(frame, (column,), source=source,
                            fix="Add the column, or leave it out of properties= (CLI: drop its --property).")

    def sent_columns(self, frame: pd.DataFrame) -> list[str]:
        return list(dict.fromkeys((self.phone_col, *([self.name_col] if self.name_col else []),
                                   *self.property_columns(frame))))

    def property_columns(self, frame: pd.DataFrame) -> list[str]:
        """The columns sent as ``properties``: the given list, else every column but the phone column."""
        if self.properties is not None:
            return list(self.properties)
        return [c for c in frame.columns if c != self.phone_col]

    # -- pure planning ----------------------------------------------------------------------
    def plan(self, chunk: pd.DataFrame, offset: int, first_batch: int, seen: dict[str, tuple[int, Any]]) -> Plan:
        self.check_columns(chunk)
        n = len(chunk)
        labels = chunk.index.tolist()  # plain Python values, for messages
        numbers = normalise_numbers(chunk[self.phone_col], column=self.phone_col)
        code = np.where(numbers.code.to_numpy() == 0, 0, IMPORT_FAILED).astype(np.int64)
        detail = numbers.detail.astype(object).to_numpy().copy()
        detail[code == 0] = None
        recipients = numbers.number.to_numpy(dtype=object, na_value=None)
        if self.name_col:
            names = chunk[self.name_col].astype("string").str.strip()
            blank = (names.isna() | (names == "")).to_numpy() & (code == 0)
            code[blank] = IMPORT_FAILED
            detail[blank] = (f"column {self.name_col!r} is empty: BUKA needs a customer name for every row "
                             "(fill it in, or pass name_col=None to use the phone number as the name)")
            name_values = names.to_numpy(dtype=object, na_value=None)
        else:
            name_values = recipients
        columns = self.property_columns(chunk)
        prop_values = {c: chunk[c].astype("string").str.strip().to_numpy(dtype=object, na_value=None)
                       for c in columns}
        if self.properties is not None:  # named explicitly: the script needs them, an empty one is refused
            for column in columns:
                vals = prop_values[column]
                blank = np.array([v is None or v == "" for v in vals], dtype=bool) & (code == 0)
                code[blank] = PROPERTY_MISSING
                detail[blank] = f"property column {column!r} is empty in this row: fill it in (the script uses it)"
        for i in np.flatnonzero(code == 0):
            # (row position, label) of the number's first row: positions decide, labels only name it
            first_row, first = seen.setdefault(recipients[i], (offset + int(i), labels[i]))
            if first_row != offset + i:
                if self.duplicates == "error":
                    raise InputError(f"row {labels[i]!r}: column {self.phone_col!r} repeats {recipients[i]} "
                                     f"from row {first!r}; remove it or pass duplicates='first'")
                code[i] = ALREADY_IN_TASK
                detail[i] = f"duplicate of row {first!r} ({recipients[i]}): imported once only (a task holds a number once)"
        bad = np.flatnonzero(code != 0)
        raw = chunk[self.phone_col].astype("string").to_numpy(dtype=object, na_value=None)
        plan = Plan([], (bad + offset).tolist(), [recipients[i] or raw[i] for i in bad], code[bad].tolist(),
                    detail[bad].tolist())
        good = np.flatnonzero(code == 0)
        for k, start in enumerate(range(0, len(good), self.batch_size)):
            idx = good[start:start + self.batch_size]
            persons = []
            for i in idx:
                props = {c: prop_values[c][i] for c in columns if prop_values[c][i] not in (None, "")}
                persons.append({"name": name_values[i], "phoneNumber": recipients[i], "properties": props})
            plan.batches.append(Batch(first_batch + k, (idx + offset).tolist(), recipients[idx].tolist(), [],
                                      {"persons": persons}))
        plan.stats = {"rows": n, "valid": len(good), "invalid": len(bad), "batches": len(plan.batches)}
        return plan

    def batch_stats(self, batch: Batch) -> dict[str, int]:
        return {"customers": len(batch.rows)}

    # -- the task ---------------------------------------------------------------------------
    async def begin(self, client: Any, journal: Journal | None, campaign_id: str) -> None:
        """Name the task and take its jobId from the journal when an earlier run of this campaign has one.

        The task itself is found or created on the first import (:meth:`ensure_task`), so a file
        with no valid row leaves no empty task behind.
        """
        self.task = {"job_id": None, "name": self.task_name or campaign_id, "created": False, "started": False,
                     "start_code": None, "start_reason": ""}
        self.job_id, self._reused, self._lock = None, False, asyncio.Lock()
        if journal is not None:
            for rec in journal.batches(campaign_id):
                if rec.outcome.get("task_id"):
                    self.job_id, self._reused = int(rec.outcome["task_id"]), True
                    self.task["job_id"] = self.job_id
                    break

    async def ensure_task(self, client: Any) -> int:
        """This campaign's jobId: the journal's, else the task of this name, else a new task."""
        if self.job_id is None:
            self._lock = self._lock or asyncio.Lock()
            async with self._lock:  # concurrent imports wait for one lookup / creation
                if self.job_id is None:
                    name = self.task["name"]
                    job = await find_task(client, name)
                    if job is None:
                        job = await self._create(client, name)
                        self.task["created"] = True
                    # a task found under the campaign's own name is this campaign's (an earlier run without
                    # the journal); one found under a name the caller chose may hold another campaign's rows
                    self._reused = not self.task["created"] and self.task_name is None
                    self.job_id = self.task["job_id"] = job
        return self.job_id

    async def _create(self, client: Any, name: str) -> int:
        flow = self.dialog_flow_id
        if flow is None:
            flows = await client.dialog_flows()
            if not flows:
                raise errors.ConfigError("the voice app has no scripts (dialogFlowList is empty): create one in the "
                                         "BUKA console, or pass dialog_flow_id=")
            flow = flows[0].get("dialogFlowId")
        line = self.line_id
        if line is None:
            lines = await client.voice_lines()
            if not lines:
                raise errors.ConfigError("the voice app has no outbound lines (channelList is empty): add one in the "
                                         "BUKA console, or pass line_id=")
            line = lines[0].get("tenantPhoneNumberId")
        fields = {"name": name, "dialogFlowId": _as_int(flow), "mode": "MANUAL",
                  "dailyStartDateTime": self.daily_window[0], "dailyEndDateTime": self.daily_window[1],
                  "robotCount": self.robot_count, "jobPhoneNumberId": _as_int(line), "redial": False}
        try:
            return await client.create_task(**fields)
        except (errors.OutcomeUnknownError, errors.ApiError) as exc:
            # the answer was lost, or another run created it meanwhile: the name says which task it is
            if isinstance(exc, errors.ApiError) and exc.code != NAME_EXISTS:
                raise
            job = await find_task(client, name)
            if job is None:
                raise
            return job

    async def end(self, client: Any) -> None:
        """Start the task (``start=True``); a failure is recorded in :attr:`task` and warned about."""
        if not self.start:
            return
        if self.job_id is None:  # nothing was imported, so no task was made
            self.task["start_reason"] = "no task: no row was imported"
            return
        try:
            await client.start_task(self.job_id)
        except errors.ApiError as exc:
            self.task.update(start_code=exc.code, start_reason=exc.reason)
            if exc.code == CANNOT_START and not self.task["created"]:
                # a task this run found (its journal's, or one of that name) was started already: it is running
                self.task.update(started=True, start_reason=f"already started ({exc.reason})")
                return
            warnings.warn(f"voice task {self.task['name']!r} (jobId {self.job_id}) was not started: BUKA status "
                          f"{exc.code} ({exc.reason}); fix that and start it in the console or run the same "
                          "campaign again", stacklevel=2)
        except errors.TransportError as exc:
            self.task.update(start_reason=str(exc))
            warnings.warn(f"voice task {self.task['name']!r} (jobId {self.job_id}) may not have started: {exc}; "
                          "check it in the console or run the same campaign again", stacklevel=2)
        else:
            self.task.update(started=True, start_code=0)

    def task_id(self) -> str | None:
        return None if self.job_id is None else str(self.job_id)

    def resend_is_safe(self) -> bool:
        """A task refuses a phone it already holds (-53), so an import whose answer was lost may be resent."""
        return True

    # -- I/O -------------------------------------------------------------------------------
    async def send(self, client: Any, batch: Batch) -> Envelope:
        job = await self.ensure_task(client)  # an ApiError here (-48, -52 ...) becomes this batch's rows' code
        env = await client.import_customers(job, batch.payload["persons"], check=False)
        if not env.ok and env.code == ALREADY_IN_TASK and self._reused:
            # every row refused as already present in a task an earlier run filled: turn it into per-row data
            return Envelope(True, 0, env.reason, [{"phoneNumber": p, "status": ALREADY_IN_TASK}
                                                  for p in batch.recipients], env.raw, env.attempts)
        return env

    def read(self, batch: Batch, envelope: Envelope) -> tuple[list[int], list[str | None]]:
        refused: dict[str, int] = {}
        for item in envelope.items("data"):
            phone = _digits(item.get("phoneNumber") or item.get("calledPhoneNumber") or item.get("phone"))
            code = _as_code(item.get("status", item.get("code")))
            refused[phone] = code if code not in (None, 0) else IMPORT_FAILED
        codes: list[int] = []
        for phone in batch.recipients:
            code = refused.get(phone, 0)
            if code == ALREADY_IN_TASK and self._reused:
                code = 0  # imported by an earlier run of this campaign (a resent import)
            codes.append(code)
        return codes, [f"{self.job_id}:{p}" if c == 0 else None for p, c in zip(batch.recipients, codes)]


async def find_task(client: Any, name: str) -> int | None:
    """The jobId of the AI-voice task called exactly *name*, or None."""
    page = 1
    while True:
        env = await client.list_tasks(name=name, current=page, size=100)
        data = env.data if isinstance(env.data, dict) else {}
        records = data.get("records") or []
        for task in records:
            if str(task.get("name", "")) == name and task.get("jobId") is not None:
                return int(task["jobId"])
        if not records or page >= int(data.get("pages") or 1):
            return None
        page += 1


def _as_int(value: Any) -> Any:
    text = str(value).strip()
    return int(text) if text.lstrip("-").isdigit() else value


def _as_code(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _digits(value: Any) -> str:
    return re.sub(r"\D", "", str(value or ""))


# -- call records -------------------------------------------------------------------------------
def _buka_time(text: Any) -> str | None:
    """``yyyy-MM-dd HH:mm:ss`` in BUKA time (+08:00) → ISO-8601 with the offset."""
    if not text:
        return None
    try:
        moment = datetime.strptime(str(text).strip(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BUKA_TZ)
    except ValueError:
        return str(text)
    return moment.isoformat()


async def fetch_call_records(client: AsyncBukaClient, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Delivery rows (keyed by msg_id) for accepted voice rows, from ``recordQuery``.

    The latest call to each (task, phone) decides: ``ANSWERED`` → delivered; any other outcome
    (NO_ANSWER, BUSY, POWER_OFF ...) → failed with that outcome as the reason; no call yet → pending.
    The query window starts 5 minutes before the earliest import and spans 30 days.
    """
    import pandas as pd

    rows = rows[rows.msg_id.notna()]
    if rows.empty:
        return []
    submitted = pd.to_datetime(rows.submitted_at, utc=True).dropna()
    first = submitted.min().floor("s").to_pydatetime() if len(submitted) else \
        datetime.fromtimestamp(client.clock(), timezone.utc) - RECORD_WINDOW / 2
    start = first - timedelta(minutes=5)
    end = start + RECORD_WINDOW
    best: dict[tuple[str, str], dict[str, Any]] = {}
    page = 1
    while True:
        env = await client.call_records(start, end, current=page, size=100)
        data = env.data if isinstance(env.data, dict) else {}
        records = data.get("records") or []
        for rec in records:
            key = (str(rec.get("callJobId") or ""), _digits(rec.get("calledPhoneNumber")))
            if _better(rec, best.get(key)):
                best[key] = rec
        if not records or page >= int(data.get("pages") or 1):
            break
        page += 1
    by_phone = {phone: rec for (_, phone), rec in best.items()}
    out: list[dict[str, Any]] = []
    for msg_id, task_id, phone in zip(rows.msg_id.astype(str), rows.task_id.astype("string").fillna(""),
                                      rows.recipient.astype("string").fillna("")):
        rec = best.get((str(task_id), phone)) or (by_phone.get(phone) if not task_id else best.get(("", phone)))
        if rec is None:
            out.append({"msg_id": msg_id, "delivery": "pending", "delivery_reason": "not called yet",
                        "delivered_at": None})
            continue
        status = str(rec.get("resultStatus") or "").strip()
        out.append({"msg_id": msg_id, "delivery": "delivered" if status.upper() in ANSWERED else "failed",
                    "delivery_reason": status or "UNKNOWN",
                    "delivered_at": _buka_time(rec.get("endTime") or rec.get("startTime"))})
    return out


def _better(rec: dict[str, Any], current: dict[str, Any] | None) -> bool:
    """Prefer an answered call, then the latest one (redials leave several records per number)."""
    if current is None:
        return True
    answered = str(rec.get("resultStatus", "")).upper() in ANSWERED
    was = str(current.get("resultStatus", "")).upper() in ANSWERED
    if answered != was:
        return answered
    return str(rec.get("startTime") or "") >= str(current.get("startTime") or "")


def collect_call_records(results: pd.DataFrame, *, credentials: Any = None, client: Any = None, wait: float = 0.0,
                         poll: float = 2.0) -> pd.DataFrame:
    """Fill ``delivery``/``delivery_reason``/``delivered_at`` of accepted voice rows from the call records.

    The same as :func:`buka_nb.reports.collect_reports` (which uses this channel's fetcher for voice
    rows): returns a new frame, polling up to *wait* seconds while calls are still pending.
    """
    from .reports import collect_reports

    return collect_reports(results, credentials=credentials, client=client, wait=wait, poll=poll)


# -- DataFrame and CSV entry points -------------------------------------------------------------
_PLANNER_KEYS = ("phone_col", "name_col", "properties", "task_name", "dialog_flow_id", "line_id", "robot_count",
                 "daily_window", "start", "duplicates", "batch_size", "app_id")


def _planner(kwargs: dict[str, Any]) -> tuple[VoicePlanner, dict[str, Any]]:
    return VoicePlanner(**{k: kwargs.pop(k) for k in _PLANNER_KEYS if k in kwargs}), kwargs


def _finish(result: pd.DataFrame | None, planner: VoicePlanner) -> pd.DataFrame | None:
    if result is not None:
        result.attrs["voice_task"] = dict(planner.task)
    return result


def send_voice(frame: pd.DataFrame, *, phone_col: str = "phone", name_col: str | None = "name",
               properties: Sequence[str] | None = None, task_name: str | None = None,
               dialog_flow_id: int | None = None, line_id: int | str | None = None, robot_count: int = 1,
               daily_window: Sequence[str] = DAILY_LIMITS, start: bool = True, duplicates: str = "first",
               batch_size: int = MAX_IMPORT, app_id: str | None = None, credentials: Any = None, client: Any = None,
               journal: Any = DEFAULT, campaign_id: str | None = None, max_in_flight: int = 8,
               rate_limit: float | None = None, timeout: float = 15.0, force_unknown: bool = False,
               progress: bool | None = None, chunksize: int | None = None) -> pd.DataFrame:
    """Import every row of *frame* into one AI-voice task, start it, return one result row per input row.

    ``properties``: the columns sent as each customer's ``properties`` (an empty value in one of
    them is refused with -51); by default every column except the phone column, with empty values
    left out. The task is named *task_name* (default: the campaign id); running the same campaign
    again finds that task and imports only what is missing. The script and line default to the
    first ones the account lists. Invalid phones and empty names get -35 and repeats -53, without
    being sent. ``result.attrs["voice_task"]`` says which task was used and whether it started.
    The input is not modified.

    >>> import pandas as pd
    >>> df = pd.DataFrame({"phone": ["+44 7911 123456", "12", "447911123456"], "name": ["Ann", "Bo", "Cy"]})
    >>> plan_voice(df).results.code.tolist()
    [<NA>, -35, -53]
    """
    planner = VoicePlanner(phone_col=phone_col, name_col=name_col, properties=properties, task_name=task_name,
                           dialog_flow_id=dialog_flow_id, line_id=line_id, robot_count=robot_count,
                           daily_window=daily_window, start=start, duplicates=duplicates, batch_size=batch_size,
                           app_id=app_id)
    result = send_frame(planner, frame, chunksize=chunksize, credentials=credentials, client=client,
                      journal=journal, campaign_id=campaign_id, max_in_flight=max_in_flight,
                      rate_limit=rate_limit, timeout=timeout, force_unknown=force_unknown, progress=progress)
    return _finish(result, planner)


def plan_voice(frame: pd.DataFrame, **options: Any) -> DryRun:
    """Validate and batch without sending: what ``buka-nb voice send --dry-run`` shows."""
    planner, rest = _planner(dict(options))
    if rest:
        raise TypeError(f"plan_voice() got unexpected options {sorted(rest)}")
    return plan_frame(planner, frame)


def send_voice_csv(path: str | Path, *, out: str | Path | None = None, chunksize: int = 100_000,
                   encoding: str | None = None, dry_run_only: bool = False, **options: Any) -> pd.DataFrame | Path | DryRun:
    """Run a voice campaign from a CSV, streaming it in chunks (options as :func:`send_voice`).

    With ``out=`` (``.csv`` or ``.parquet``) results are written chunk by chunk and the path is
    returned; otherwise the result frame is returned.
    """
    planner, rest = _planner(dict(options))
    result = run_csv(planner, path, out=out, chunksize=chunksize, encoding=encoding, dry_run_only=dry_run_only,
                     **rest)
    return result if isinstance(result, (Path, DryRun)) else _finish(result, planner)


__all__ = ["VoicePlanner", "check_daily_window", "collect_call_records", "fetch_call_records", "find_task",
           "plan_voice", "send_voice", "send_voice_csv"]
