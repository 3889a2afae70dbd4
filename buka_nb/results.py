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

    def __init__(self, channel: str, index: pd.Index, offset: int = 0) -> None:
        n = len(index)
        self.channel, self.index, self.offset = channel, index, offset
        self.cols: dict[str, np.ndarray] = {
            name: np.full(n, None, dtype=object)
            for name in ("recipient", "order_id", "msg_id", "task_id", "state", "code", "reason", "detail",
                         "batch", "attempts", "submitted_at")}

    def _put(self, positions: Any, **values: Any) -> None:
        pos = np.asarray(positions, dtype=np.int64) - self.offset
        for name, value in values.items():
            self.cols[name][pos] = value

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

        cols = self.cols
        code = pd.array(cols["code"], dtype="Int64")
        unique = pd.unique(code[~pd.isna(code)])
        info = {int(c): lookup(self.channel, int(c)) for c in unique}
        code_s = pd.Series(code, index=self.index)
        reason = code_s.map({c: i.reason for c, i in info.items()}).astype("string")
        category = code_s.map({c: i.category for c, i in info.items()}).astype("string")
        retryable = code_s.map({c: i.retryable for c, i in info.items()}).astype("boolean")
        own_reason = pd.Series(cols["reason"], index=self.index, dtype="string")
        reason = own_reason.fillna(reason) if own_reason.notna().any() else reason
        state = pd.Series(cols["state"], index=self.index, dtype="string")
        unknown = (state == UNKNOWN).fillna(False)
        category[unknown] = "unknown"
        retryable[unknown] = False
        unreached = ((state == NOT_SENT) & code_s.isna()).fillna(False)
        category[unreached] = "transport"
        retryable[unreached] = True
        stamp = pd.to_datetime(pd.Series(cols["submitted_at"], index=self.index, dtype="float64"), unit="s", utc=True)
        frame = pd.DataFrame({
            "channel": self.channel, "recipient": cols["recipient"], "order_id": cols["order_id"],
            "msg_id": cols["msg_id"], "task_id": cols["task_id"], "state": state, "code": code_s,
            "reason": reason, "category": category, "retryable": retryable, "detail": cols["detail"],
            "batch": pd.array(cols["batch"], dtype="Int64"), "attempts": pd.array(cols["attempts"], dtype="Int64"),
            "submitted_at": stamp}, index=self.index)
        return conform(frame)
