"""Assembling result frames from per-batch outcomes, vectorised, in the one shared schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .catalog import lookup
from .engine import UNKNOWN_REASON, Batch, Outcome
from .journal import DONE, NOT_SENT, UNKNOWN
from .schema import conform

if TYPE_CHECKING:
    import pandas as pd


class ResultBuilder:
    """Collects one chunk's rows (local positions ``0..n-1``) and builds its result frame."""

    #: Columns kept as float64 (NaN for missing) until :meth:`frame` makes them Int64 or timestamps.
    NUMERIC = ("code", "batch", "attempts", "submitted_at")
    TEXT = ("recipient", "order_id", "msg_id", "task_id", "state", "reason", "detail")

    def __init__(self, channel: str, index: pd.Index, offset: int = 0) -> None:
        n = len(index)
        self.channel, self.index, self.offset = channel, index, offset
        self.cols: dict[str, np.ndarray] = {name: np.full(n, None, dtype=object) for name in self.TEXT}
        self.cols.update({name: np.full(n, np.nan) for name in self.NUMERIC})

    def _put(self, positions: Any, **values: Any) -> None:
        pos = np.asarray(positions, dtype=np.int64) - self.offset
        for name, value in values.items():
            self.cols[name][pos] = value  # None becomes NaN in the numeric columns

    def add_invalid(self, positions: Any, recipients: Any, codes: Any, details: Any) -> None:
        self._put(positions, recipient=np.asarray(recipients, dtype=object), state="invalid",
                  code=np.asarray(codes, dtype=object), detail=np.asarray(details, dtype=object))

    def add_batch(self, batch: Batch, outcome: Outcome) -> None:
        codes = np.asarray(outcome.codes, dtype=object)
        if outcome.state == DONE:
            # a reconciled request can leave rows it could not find: those stay unknown
            missing = np.array([c is None for c in codes], dtype=bool)
            state = np.where(missing, UNKNOWN, np.where(codes == 0, "accepted", "rejected")).astype(object)
            reason = np.where(missing, UNKNOWN_REASON, None).astype(object) if missing.any() else None
        else:
            state = outcome.state
            reason = outcome.reason if outcome.state == UNKNOWN or codes[0] is None else None
        submitted = None if outcome.sent_at is None else outcome.sent_at
        self._put(batch.rows, recipient=np.asarray(batch.recipients, dtype=object),
                  order_id=np.asarray(batch.order_ids, dtype=object) if batch.order_ids else None,
                  msg_id=np.asarray(outcome.msg_ids, dtype=object), task_id=outcome.task_id, state=state,
                  code=codes, reason=reason, detail=outcome.detail or None, batch=batch.number,
                  attempts=outcome.attempts, submitted_at=submitted)

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        cols, index, n = self.cols, self.index, len(self.index)

        def text(name: str) -> pd.Series:
            values = cols[name]
            missing = pd.isna(values)
            present = int(n - missing.sum())
            if present > n // 2:
                return pd.Series(values, index=index, dtype="string")
            # Mostly empty (task_id, reason, detail): converting every None one by one is the slow way
            # to NA, so convert the values there are and spread them out.
            pick = np.full(n, present, dtype=np.intp)
            pick[~missing] = np.arange(present)
            return pd.Series(pd.array([*values[~missing], None], dtype="string").take(pick), index=index)

        def integers(name: str) -> pd.arrays.IntegerArray:
            values = cols[name]
            missing = np.isnan(values)
            return pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing)

        code = integers("code")
        known = ~np.isnan(cols["code"])
        # reason, category and retryable from the catalog: look up each distinct code once, then take
        unique, which = np.unique(cols["code"][known].astype(np.int64), return_inverse=True)
        info = [lookup(self.channel, int(c)) for c in unique]
        pick = np.full(n, len(info), dtype=np.intp)  # len(info): the trailing NA
        pick[known] = which
        reason = pd.Series(pd.array([i.reason for i in info] + [None], dtype="string").take(pick), index=index)
        category = pd.Series(pd.array([i.category for i in info] + [None], dtype="string").take(pick), index=index)
        retryable = pd.Series(pd.array([i.retryable for i in info] + [None], dtype="boolean").take(pick), index=index)
        own_reason = text("reason")
        reason = own_reason.fillna(reason) if own_reason.notna().any() else reason
        state = text("state")
        code_s = pd.Series(code, index=index)
        unknown = (state == UNKNOWN).fillna(False)
        category[unknown] = "unknown"
        retryable[unknown] = False
        unreached = ((state == NOT_SENT) & code_s.isna()).fillna(False)
        category[unreached] = "transport"
        retryable[unreached] = True
        stamp = pd.to_datetime(pd.Series(cols["submitted_at"], index=index, dtype="float64"), unit="s", utc=True)
        frame = pd.DataFrame({
            "channel": pd.Series(self.channel, index=index, dtype="string"), "recipient": text("recipient"),
            "order_id": text("order_id"), "msg_id": text("msg_id"), "task_id": text("task_id"), "state": state,
            "code": code_s, "reason": reason, "category": category, "retryable": retryable, "detail": text("detail"),
            "batch": integers("batch"), "attempts": integers("attempts"), "submitted_at": stamp}, index=index)
        return conform(frame)
