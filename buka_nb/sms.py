"""Bulk SMS from a DataFrame or CSV: validate every row, batch within BUKA's limits, send, one row back each.

>>> from buka_nb.simulator import Simulator                                   # doctest: +SKIP
>>> with Simulator() as sim:                                                  # doctest: +SKIP
...     results = send_sms(df, template="Hi {name}", credentials=sim.credentials)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from string import Formatter
from typing import TYPE_CHECKING, Any

import numpy as np

from .campaign import DEFAULT, DryRun, Plan, Planner, plan_frame, run_csv, send_frame
from .catalog import DUPLICATE_CODE
from .engine import Batch, Outcome
from .envelope import Envelope
from .errors import InputError
from .io import require_columns
from .journal import DONE
from .phones import normalise_numbers
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
        return [f for _, f, _, _ in Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise InputError(f"template {template!r} is malformed ({exc}): write placeholders as {{column}} "
                         "and double literal braces ({{ or }})") from None


def render(frame: pd.DataFrame, template: str) -> tuple[pd.Series, pd.Series]:
    """Fill a template from columns, vectorised; returns (contents, name of the first empty field or NA)."""
    import pandas as pd

    contents = pd.Series("", index=frame.index, dtype="string")
    missing = pd.Series(pd.NA, index=frame.index, dtype="string")
    for literal, name, spec, conv in Formatter().parse(template):
        contents = contents + literal
        if name is None:
            continue
        if spec or conv:
            raise InputError(f"template placeholder {{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}} "
                             "uses a format spec; buka_nb fills plain {column} placeholders only")
        values = frame[name].astype("string")
        empty = values.isna() | (values.str.strip() == "")
        missing = missing.mask(missing.isna() & empty, name)
        contents = contents + values.fillna("")
    return contents, missing


def _candidates(positions: np.ndarray, recipients: np.ndarray, labels: pd.Index) -> Any:
    """``(position, recipient, label)`` for the rows to de-duplicate, ``label`` exactly ``labels[position]``.

    Indexing a pandas Index once per row costs more than the rest of the de-duplication together,
    so the common indexes (a RangeIndex, whose items are ints, or an object or string Index) are
    read in one go; others (whose scalars are numpy or pandas objects) keep the per-row lookup.
    """
    import pandas as pd

    if isinstance(labels, pd.RangeIndex) or labels.dtype == object or isinstance(labels.dtype, pd.StringDtype):
        return zip(positions.tolist(), recipients[positions].tolist(), labels[positions].tolist())
    return ((i, recipients[i], labels[i]) for i in positions)


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

    # -- pure planning ----------------------------------------------------------------------
    def plan(self, chunk: pd.DataFrame, offset: int, first_batch: int, seen: dict[str, int]) -> Plan:
        import pandas as pd

        require_columns(chunk, self.required_columns())
        n = len(chunk)
        numbers = normalise_numbers(chunk[self.number_col], column=self.number_col, strict=self.strict_numbers)
        code = numbers.code.to_numpy().copy()
        detail = numbers.detail.astype(object).to_numpy().copy()
        if self.template is not None and self.fields:
            contents, missing = render(chunk, self.template)
        else:
            missing = None
            text = self.content if self.content is not None else self.template
            contents = pd.Series(text, index=chunk.index, dtype="string")
        lengths = contents.str.len().to_numpy()
        blank = (contents.str.strip() == "").to_numpy() & (code == 0)
        code[blank] = -4
        detail[blank] = "the message is empty: give content= or a template that produces text"
        if missing is not None:
            gap = missing.notna().to_numpy() & (code == 0)
            code[gap] = -22
            detail[gap] = [f"column {m!r} is empty in this row but the template uses {{{m}}}: fill it in"
                           for m in missing.to_numpy()[gap]]
        long = (lengths > MAX_CONTENT_CHARS) & (code == 0)
        code[long] = -5
        detail[long] = [f"the message is {k} characters; BUKA allows {MAX_CONTENT_CHARS}: shorten it"
                        for k in lengths[long]]
        recipients = numbers.number.to_numpy(dtype=object, na_value=None)
        labels = chunk.index
        if self.duplicates != "allow":
            dup_code = DUPLICATE_CODE["sms"]
            for i, number, label in _candidates(np.flatnonzero(code == 0), recipients, labels):
                first = seen.setdefault(number, label)
                if first != label:
                    if self.duplicates == "error":
                        raise InputError(f"row {label!r}: column {self.number_col!r} repeats {number} "
                                         f"from row {first!r}; remove it or pass duplicates='first'")
                    code[i] = dup_code
                    detail[i] = (f"duplicate of row {first!r} ({number}): sent once only "
                                 "(duplicates='first'; pass duplicates='allow' to send it again)")
        bad = np.flatnonzero(code != 0)
        raw = chunk[self.number_col].astype("string").to_numpy(dtype=object, na_value=None)
        plan = Plan([], (bad + offset).tolist(), [recipients[i] or raw[i] for i in bad], code[bad].tolist(),
                    detail[bad].tolist())
        good = np.flatnonzero(code == 0)
        content_arr = contents.to_numpy(dtype=object)
        single = self.content is not None or not self.fields
        for k, start in enumerate(range(0, len(good), self.batch_size)):
            idx = good[start:start + self.batch_size]
            rows = (idx + offset).tolist()
            order_ids = [f"{self.order_prefix}{r}" for r in rows]
            payload = {"content": content_arr[idx[0]]} if single else {"contents": content_arr[idx].tolist()}
            plan.batches.append(Batch(first_batch + k, rows, recipients[idx].tolist(), order_ids, payload))
        plan.stats = {"rows": n, "valid": len(good), "invalid": len(bad), "batches": len(plan.batches)}
        return plan

    def batch_stats(self, batch: Batch) -> dict[str, int]:
        """Messages and billed segments per encoding, for dry runs."""
        n = len(batch.rows)
        texts = [batch.payload["content"]] * n if "content" in batch.payload else batch.payload["contents"]
        stats: dict[str, int] = defaultdict(int)
        for text in set(texts):
            enc, parts = sms_segments(text)
            k = texts.count(text)
            stats[f"messages {enc}"] += k
            stats[f"segments {enc}"] += parts * k
        return stats

    # -- I/O -------------------------------------------------------------------------------
    async def send(self, client: Any, batch: Batch) -> Envelope:
        if "content" in batch.payload:
            return await client.send_sms(batch.recipients, batch.payload["content"], sender_id=self.sender_id,
                                         order_ids=batch.order_ids, app_id=self.app_id, check=False)
        groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: {"numbers": [], "order_ids": []})
        for number, order_id, text in zip(batch.recipients, batch.order_ids, batch.payload["contents"]):
            groups[text]["numbers"].append(number)
            groups[text]["order_ids"].append(order_id)
        return await client.send_sms_batch(
            [{"content": t, "sender_id": self.sender_id, **g} for t, g in groups.items()], app_id=self.app_id,
            check=False)

    def read(self, batch: Batch, envelope: Envelope) -> tuple[list[int], list[str | None]]:
        by_order: dict[str, str] = {}
        by_number: dict[str, list[str]] = defaultdict(list)
        for item in envelope.items("array"):
            msg_id = str(item.get("msgId", ""))
            order = str(item.get("orderId") or "")
            if order:
                by_order[order] = msg_id
            else:
                by_number[str(item.get("number", ""))].append(msg_id)
        msg_ids = [by_order.get(o) or (by_number[n].pop(0) if by_number.get(n) else None)
                   for o, n in zip(batch.order_ids, batch.recipients)]
        # BUKA lists only accepted numbers; the rest were refused as abnormal (buka-api.md §8 row 27)
        return [0 if m else -9 for m in msg_ids], msg_ids

    async def reconcile(self, client: Any, records: Sequence[Any]) -> dict[int, Outcome]:
        """Find unknown batches' numbers in ``getSentRcd`` around the time they were sent.

        A number found there was sent (its msgId is adopted); when none of a batch's numbers is
        found the batch stays unknown: the platform lists only final messages, so absence is not
        proof that nothing went out.
        """
        if not records:
            return {}
        sent = [r.sent_at for r in records if r.sent_at]
        now = datetime.now(timezone.utc)
        start = datetime.fromtimestamp(min(sent), timezone.utc) - timedelta(minutes=5) if sent else now - timedelta(days=1)
        end = min(now + timedelta(minutes=5), (datetime.fromtimestamp(max(sent), timezone.utc) if sent else now)
                  + timedelta(days=1))
        found: dict[str, str] = {}
        index = 0
        while True:
            env = await client.get_sent_rcd(start, end, start_index=index, app_id=self.app_id)
            items = env.items("array")
            for item in items:
                found.setdefault(str(item.get("number", "")), str(item.get("msgId", "")))
            if len(items) < 50_000:
                break
            index += len(items)
        resolved: dict[int, Outcome] = {}
        for rec in records:
            msg_ids = [found.get(n) for n in rec.recipients]
            if any(msg_ids):
                resolved[rec.batch] = Outcome(
                    DONE, [0 if m else None for m in msg_ids], msg_ids, "reconciled from getSentRcd",
                    "" if all(msg_ids) else "request reached BUKA; rows without a msgId are not in getSentRcd yet",
                    attempts=rec.attempts, sent_at=rec.sent_at)
        return resolved


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


