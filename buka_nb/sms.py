"""Bulk SMS from a DataFrame or CSV: validate every row, batch within BUKA's limits, send, one row back each.

>>> from buka_nb.simulator import Simulator                                   # doctest: +SKIP
>>> with Simulator() as sim:                                                  # doctest: +SKIP
...     results = send_sms(df, template="Hi {name}", credentials=sim.credentials)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from string import Formatter
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from .batching import SeenNumbers, Texts, render_texts, wire_groups
from .campaign import DEFAULT, DryRun, Plan, Planner, plan_frame, run_csv, send_frame
from .catalog import DUPLICATE_CODE
from .engine import Batch, Joined, Outcome
from .envelope import Envelope
from .errors import InputError
from .io import require_columns
from .journal import DONE, PLANNED, BatchRecord
from .phones import CleanNumbers, clean_numbers
from .segments import MAX_CONTENT_CHARS, sms_segments

if TYPE_CHECKING:
    import pandas as pd

MAX_NUMBERS_PER_POST = 1000
MAX_SENDER_ID = 32
DUPLICATE_POLICIES = ("first", "allow", "error")


def template_fields(template: str) -> list[str]:
    """The ``{column}`` placeholders of a template, in order.

    >>> template_fields("Hi {name}, you owe {amount}")
    ['name', 'amount']
    """
    try:
        parts = [(f, spec, conversion) for _, f, spec, conversion in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise InputError(f"template {template!r} is malformed ({exc}): write placeholders as {{column}} "
                         "and double literal braces ({{ or }})") from None
    for field, spec, conversion in parts:
        written = "{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if not field.strip():
            raise InputError(f"template {template!r}: placeholder {written} names no column: write {{column}}, "
                             "e.g. {name}, and double literal braces ({{ or }})")
        if spec or conversion:
            raise InputError(f"template {template!r}: placeholder {written} has a format; the column's text is "
                             f"used as it is: write {{{field}}} and format the column before sending")
    return [f for f, _, _ in parts]


class SmsBatch(Batch):
    """A request's rows; its groups hold the numbers and orderIds already joined, in wire order."""

    def record(self) -> BatchRecord:
        # the journal stores them comma-joined: the groups' texts, joined again, are exactly that
        groups = self.payload["groups"]
        return BatchRecord(self.number, PLANNED, self.rows, ",".join(g.numbers for g in groups),
                           ",".join(g.order_ids for g in groups))  # type: ignore[arg-type]


class SmsPlanner(Planner):
    """SMS: validation, batching (``sendSms`` / ``sendSms/batch``) and reconciliation by ``getSentRcd``."""

    channel = "sms"

    def __init__(self, *, content: str | None = None, template: str | None = None, number_col: str = "phone",
                 sender_id: str | None = None, duplicates: str = "first", strict_numbers: bool = False,
                 batch_size: int = MAX_NUMBERS_PER_POST, app_id: str | None = None) -> None:
        if (content is None) == (template is None):
            raise InputError("pass exactly one of content= (one text for everyone) or template= (with {column} placeholders)")
        if duplicates not in DUPLICATE_POLICIES:
            raise InputError(f"duplicates={duplicates!r}: use one of {', '.join(DUPLICATE_POLICIES)}")
        if sender_id and len(sender_id) > MAX_SENDER_ID:
            raise InputError(f"sender id {sender_id!r} is {len(sender_id)} characters; BUKA allows {MAX_SENDER_ID}")
        if not 1 <= batch_size <= MAX_NUMBERS_PER_POST:
            raise InputError(f"batch_size must be 1-{MAX_NUMBERS_PER_POST} (BUKA's limit per POST), got {batch_size}")
        self.content, self.template = content, template
        self.fields = template_fields(template) if template is not None else []
        self.number_col, self.sender_id, self.duplicates = number_col, sender_id, duplicates
        self.strict_numbers, self.batch_size, self.app_id = strict_numbers, batch_size, app_id
        self.order_prefix = "o"

    def options(self) -> dict[str, Any]:
        return {"content": self.content, "template": self.template, "number_col": self.number_col,
                "sender_id": self.sender_id, "duplicates": self.duplicates, "strict": self.strict_numbers,
                "batch_size": self.batch_size, "app_id": self.app_id}

    def required_columns(self) -> tuple[str, ...]:
        return (self.number_col, *self.fields)

    def check_columns(self, frame: pd.DataFrame, source: str = "the frame") -> None:
        require_columns(frame, (self.number_col,), source=source, option="number_col")
        for field in dict.fromkeys(self.fields):
            require_columns(frame, (field,), source=source,
                            fix=f"The template's {{{field}}} reads it: add the column, or change the template.")

    # -- pure planning ----------------------------------------------------------------------
    def request_rows(self) -> int:
        return self.batch_size

    def new_seen(self, rows: int | None = None) -> SeenNumbers:
        return SeenNumbers(rows)

    def plan(self, chunk: pd.DataFrame, offset: int, first_batch: int, seen: SeenNumbers) -> Plan:
        """Validate and batch a chunk, vectorised: no Python work per valid row.

        Numbers are cleaned column-wise, the template is filled once per distinct combination of
        its fields, repeats are found with one int64 hash table per campaign, and each request's groups arrive
        with their numbers and orderIds already joined (see :mod:`buka_nb.batching`).
        """
        self.check_columns(chunk)
        n = len(chunk)
        numbers = clean_numbers(chunk[self.number_col], column=self.number_col, strict=self.strict_numbers)
        code, detail = numbers.code, numbers.detail
        if self.template is not None and self.fields:
            texts = render_texts(chunk, self.template)
            row_text: np.ndarray | None = texts.row_text
        else:
            text = self.content if self.content is not None else self.template
            texts = Texts([text], np.zeros(n, dtype=np.int64), [None], np.array([text.strip() == ""]),
                          np.array([len(text)]))
            row_text = None
        # per distinct text, then spread to its rows: blank first, then an empty field, then length
        text_code = np.zeros(len(texts.texts), dtype=np.int64)
        text_detail = np.full(len(texts.texts), None, dtype=object)
        for k, (blank, field, length) in enumerate(zip(texts.blank, texts.missing, texts.lengths.tolist())):
            if blank:
                text_code[k], text_detail[k] = -4, "the message is empty: give content= or a template that produces text"
            elif field is not None:
                text_code[k] = -22
                text_detail[k] = f"column {field!r} is empty in this row but the template uses {{{field}}}: fill it in"
            elif length > MAX_CONTENT_CHARS:
                text_code[k] = -5
                text_detail[k] = f"the message is {length} characters; BUKA allows {MAX_CONTENT_CHARS}: shorten it"
        if text_code.any():
            refused = (code == 0) & (text_code[texts.row_text] != 0)
            code[refused] = text_code[texts.row_text[refused]]
            detail[refused] = text_detail[texts.row_text[refused]]
        seen.add_chunk(offset, chunk.index)
        if self.duplicates != "allow":
            self._mark_repeats(offset, seen, numbers, code, detail)
        bad = np.flatnonzero(code != 0)
        shown = numbers.number.take(pa.array(bad)).to_pylist()
        if len(bad):
            raw = chunk[self.number_col].iloc[bad].astype("string").to_numpy(dtype=object, na_value=None)
            shown = [s if s is not None else r for s, r in zip(shown, raw)]
        plan = Plan([], (bad + offset).tolist(), shown, code[bad].tolist(), detail[bad].tolist())
        good = np.flatnonzero(code == 0)
        for k, wire in enumerate(wire_groups(good, offset, numbers.number, row_text, texts.texts, self.batch_size,
                                             self.order_prefix)):
            plan.batches.append(SmsBatch(first_batch + k, wire.rows, wire.numbers, wire.order_ids,
                                         {"groups": wire.groups, "single": row_text is None}))
        plan.stats = {"rows": n, "valid": len(good), "invalid": len(bad), "batches": len(plan.batches)}
        return plan

    def _mark_repeats(self, offset: int, seen: SeenNumbers, numbers: CleanNumbers, code: np.ndarray,
                      detail: np.ndarray) -> None:
        ok = np.flatnonzero(code == 0)
        first = seen.first_rows(numbers.value[ok], ok + offset)
        labels = seen.labels
        repeats = np.flatnonzero(first != ok + offset)
        if not len(repeats):
            return
        at = ok[repeats]
        shown = numbers.number.take(pa.array(at)).to_pylist()
        if self.duplicates == "error":
            row, earlier = labels(np.array([at[0] + offset, first[repeats[0]]]))
            raise InputError(f"row {row!r}: column {self.number_col!r} repeats {shown[0]} "
                             f"from row {earlier!r}; remove it or pass duplicates='first'")
        code[at] = DUPLICATE_CODE["sms"]
        detail[at] = [f"duplicate of row {label!r} ({number}): sent once only "
                      "(duplicates='first'; pass duplicates='allow' to send it again)"
                      for label, number in zip(labels(first[repeats]), shown)]

    def batch_stats(self, batch: Batch) -> dict[str, int]:
        """Messages and billed segments per encoding, for dry runs."""
        stats: dict[str, int] = defaultdict(int)
        for group in batch.payload["groups"]:
            enc, parts = sms_segments(group.text)
            k = group.numbers.count(",") + 1
            stats[f"messages {enc}"] += k
            stats[f"segments {enc}"] += parts * k
        return stats

    # -- I/O -------------------------------------------------------------------------------
    async def send(self, client: Any, batch: Batch) -> Envelope:
        groups = batch.payload["groups"]
        if batch.payload["single"]:
            g = groups[0]
            return await client.send_sms(g.numbers, g.text, sender_id=self.sender_id, order_ids=g.order_ids,
                                         app_id=self.app_id, check=False)
        return await client.send_sms_batch(
            [{"content": g.text, "sender_id": self.sender_id, "numbers": g.numbers, "order_ids": g.order_ids}
             for g in groups], app_id=self.app_id, check=False)

    def read(self, batch: Batch, envelope: Envelope) -> tuple[list[int], Sequence[str | None]]:
        items = envelope.items("array")
        n = len(batch.rows)
        if len(items) == n:
            # The usual answer: every number accepted, listed in the order sent. Checked by comparing
            # the orderIds as one string; anything else takes the matching below.
            try:
                sent = ",".join(g.order_ids for g in batch.payload["groups"])
                if ",".join(map(itemgetter("orderId"), items)) == sent:
                    ids = ",".join(map(itemgetter("msgId"), items))  # TypeError unless all are strings
                    # n non-empty ids, none holding a comma: n - 1 commas, none doubled or at an end
                    if ids.count(",") == n - 1 and ids[:1] not in ("", ",") and ids[-1] != "," and ",," not in ids:
                        return [0] * n, Joined(ids)
            except (KeyError, TypeError):
                pass
        by_order: dict[str, str] = {}
        by_number: dict[str, list[str]] = defaultdict(list)
        for item in items:
            msg_id = str(item.get("msgId", ""))
            order = str(item.get("orderId") or "")
            if order:
                by_order[order] = msg_id
            else:
                by_number[str(item.get("number", ""))].append(msg_id)
        msg_ids = [by_order.get(o) or (by_number[r].pop(0) if by_number.get(r) else None)
                   for o, r in zip(_strings(batch.order_ids), _strings(batch.recipients))]
        # BUKA lists only accepted numbers; the rest were refused as abnormal (buka-api.md §8 row 27)
        return [0 if m else -9 for m in msg_ids], msg_ids

    async def reconcile(self, client: Any, records: Sequence[Any], claimed: Collection[str] = frozenset()
                        ) -> dict[int, Outcome]:
        """Find unknown batches' numbers in ``getSentRcd`` around the time they were sent.

        A number found there was sent (its msgId is adopted); when none of a batch's numbers is
        found the batch stays unknown: the platform lists only final messages, so absence is not
        proof that nothing went out. getSentRcd has no orderId, so a message listed for the number
        may be another campaign's: msgIds in *claimed* (another batch's, from the journal) are
        never adopted, and each listed message is adopted by one row at most.
        """
        if not records:
            return {}
        sent = [r.sent_at for r in records if r.sent_at]
        now = datetime.fromtimestamp(client.clock(), timezone.utc)  # the clock the client signs with
        start = datetime.fromtimestamp(min(sent), timezone.utc) - timedelta(minutes=5) if sent else now - timedelta(days=1)
        end = min(now + timedelta(minutes=5), (datetime.fromtimestamp(max(sent), timezone.utc) if sent else now)
                  + timedelta(days=1))
        found: dict[str, list[str]] = defaultdict(list)  # number -> its unclaimed msgIds, as listed
        index = 0
        while True:
            env = await client.get_sent_rcd(start, end, start_index=index, app_id=self.app_id)
            items = env.items("array")
            for item in items:
                msg_id = str(item.get("msgId") or "")
                if msg_id and msg_id not in claimed:
                    found[str(item.get("number", ""))].append(msg_id)
            if len(items) < 50_000:
                break
            index += len(items)
        resolved: dict[int, Outcome] = {}
        for rec in records:
            msg_ids = [found[n].pop(0) if found.get(n) else None for n in rec.recipients]
            if any(msg_ids):
                resolved[rec.batch] = Outcome(
                    DONE, [0 if m else None for m in msg_ids], msg_ids, "reconciled from getSentRcd",
                    "" if all(msg_ids) else "request reached BUKA; rows without a msgId are not in getSentRcd yet",
                    attempts=rec.attempts, sent_at=rec.sent_at)
        return resolved


def _strings(values: Any) -> list[Any]:
    return values.to_pylist() if hasattr(values, "to_pylist") else list(values)


def _planner(kwargs: dict[str, Any]) -> tuple[SmsPlanner, dict[str, Any]]:
    keys = ("content", "template", "number_col", "sender_id", "duplicates", "strict_numbers", "batch_size", "app_id")
    return SmsPlanner(**{k: kwargs.pop(k) for k in keys if k in kwargs}), kwargs


def send_sms(frame: pd.DataFrame, *, content: str | None = None, template: str | None = None,
             number_col: str = "phone", sender_id: str | None = None, duplicates: str = "first",
             strict_numbers: bool = False, batch_size: int = MAX_NUMBERS_PER_POST, app_id: str | None = None,
             credentials: Any = None, client: Any = None, journal: Any = DEFAULT, campaign_id: str | None = None,
             max_in_flight: int = 8, rate_limit: float | None = None, timeout: float = 15.0,
             force_unknown: bool = False, progress: bool | None = None, chunksize: int | None = None) -> pd.DataFrame:
    """Send one SMS per row of *frame*; return a result frame on the same index, one row per input row.

    Give ``content=`` (the same text for everyone) or ``template=`` with ``{column}`` placeholders.
    Invalid rows are refused locally with the code BUKA would give and never sent; duplicates are
    sent once (``duplicates='first'``). Sending the same frame again resumes the same campaign from
    the journal instead of sending twice; pass ``campaign_id=`` to name (or separate) campaigns.
    The input frame is never modified.
    """
    planner = SmsPlanner(content=content, template=template, number_col=number_col, sender_id=sender_id,
                         duplicates=duplicates, strict_numbers=strict_numbers, batch_size=batch_size, app_id=app_id)
    return send_frame(planner, frame, chunksize=chunksize, credentials=credentials, client=client, journal=journal,
                      campaign_id=campaign_id, max_in_flight=max_in_flight, rate_limit=rate_limit, timeout=timeout,
                      force_unknown=force_unknown, progress=progress)


def plan_sms(frame: pd.DataFrame, **options: Any) -> DryRun:
    """Validate and batch without sending: what ``buka-nb sms send --dry-run`` shows."""
    planner, rest = _planner(dict(options))
    if rest:
        raise TypeError(f"plan_sms() got unexpected options {sorted(rest)}")
    return plan_frame(planner, frame)


def send_sms_csv(path: str | Path, *, out: str | Path | None = None, chunksize: int = 100_000,
                 encoding: str | None = None, dry_run_only: bool = False, **options: Any) -> pd.DataFrame | Path | DryRun:
    """Send a CSV of recipients, streaming it in chunks (options as :func:`send_sms`).

    With ``out=`` (``.csv`` or ``.parquet``) results are written chunk by chunk and the path is
    returned, so memory stays flat however large the file; otherwise the result frame is returned.
    """
    planner, rest = _planner(dict(options))
    return run_csv(planner, path, out=out, chunksize=chunksize, encoding=encoding, dry_run_only=dry_run_only, **rest)


