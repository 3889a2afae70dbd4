"""Assembling result frames from per-batch outcomes, vectorised, in the one shared schema.

Each batch (and the chunk's refused rows) is kept as it arrives, as arrays aligned to its rows;
:meth:`ResultBuilder.frame` scatters them into row order once per column with Arrow ``take``,
so a 10^6-row campaign never converts a Python object per row and per column.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .catalog import lookup
from .engine import UNKNOWN_REASON, Batch, Joined, Outcome
from .journal import DONE, NOT_SENT, UNKNOWN
from .schema import REPORT_FIELDS, RESULT_SCHEMA, conform

if TYPE_CHECKING:
    import pandas as pd


def _strings(values: Any) -> Any:
    """A list or object array as Arrow strings; ids a platform sent as numbers become text."""
    import pyarrow as pa

    if isinstance(values, list):
        try:  # ASCII ids (msgIds): Arrow's buffers built directly, ~4x faster than converting each str
            data = "".join(values)
        except TypeError:  # a None (or a number) among them
            data = None
        if data is not None and data.isascii():
            offsets = np.zeros(len(values) + 1, dtype=np.int64)
            np.cumsum(np.fromiter(map(len, values), dtype=np.int64, count=len(values)), out=offsets[1:])
            return pa.LargeStringArray.from_buffers(len(values), pa.py_buffer(offsets), pa.py_buffer(data.encode()))
    try:
        return pa.array(values, pa.large_string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if v is None or v != v else str(v) for v in values], pa.large_string())


def _split_commas(texts: list[str]) -> Any:
    """Comma-joined texts, no item holding a comma, split into one Arrow string array of all their items.

    Arrow splits them where they are (``split_pattern`` on the texts as one array): no joined copy
    and no byte mask, half the time of doing it in numpy.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.split_pattern(pa.array(texts, pa.large_string()), ",").flatten()


def _buffers_key(arr: Any) -> tuple[int, ...]:
    """The memory an Arrow array's values live in: the same for every slice of one array."""
    return tuple(x for b in arr.buffers() for x in ((b.address, b.size) if b is not None else (0, 0)))


_NAT = np.iinfo(np.int64).min  # NaT, as datetime64's int64


def _missing(dtype: str, n: int) -> Any:
    """*n* NA values of a nullable numeric dtype (``Int64``/``Float64``), as its masked array."""
    import pandas as pd

    cls = pd.arrays.IntegerArray if dtype == "Int64" else pd.arrays.FloatingArray
    return cls(np.zeros(n, np.int64 if dtype == "Int64" else np.float64), np.ones(n, bool))


def _utc(nanos: np.ndarray, index: pd.Index) -> pd.Series:
    """Nanoseconds since the epoch (NaT as int64's minimum) as a UTC datetime column, without a copy."""
    import pandas as pd

    return pd.Series(nanos, index=index, copy=False).astype(RESULT_SCHEMA["submitted_at"])


class _Piece:
    """One batch's (or the refused rows') values: each column an array of its rows, a scalar or None."""

    __slots__ = ("positions", "values")

    def __init__(self, positions: np.ndarray, values: dict[str, Any]) -> None:
        self.positions, self.values = positions, values


class ResultBuilder:
    """Collects one chunk's rows (local positions ``0..n-1``) and builds its result frame."""

    NUMERIC = ("code", "batch", "attempts", "submitted_at")
    TEXT = ("recipient", "order_id", "msg_id", "task_id", "state", "reason", "detail")

    def __init__(self, channel: str, index: pd.Index, offset: int = 0) -> None:
        self.channel, self.index, self.offset = channel, index, offset
        self._pieces: list[_Piece] = []
        self._by_batch: dict[int, int] = {}
        self._layout_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def _add(self, positions: Any, key: int | None, **values: Any) -> None:
        piece = _Piece(np.asarray(positions, dtype=np.int64) - self.offset, values)
        self._layout_cache = None
        if key is not None and key in self._by_batch:  # a batch resolved again (reconciliation) replaces itself
            self._pieces[self._by_batch[key]] = piece
            return
        if key is not None:
            self._by_batch[key] = len(self._pieces)
        self._pieces.append(piece)

    def add_invalid(self, positions: Any, recipients: Any, codes: Any, details: Any) -> None:
        self._add(positions, None, recipient=recipients, state="invalid", code=np.asarray(codes, dtype=float),
                  detail=details)

    def add_batch(self, batch: Batch, outcome: Outcome) -> None:
        n = len(batch.rows)
        if isinstance(outcome.codes, list) and len(outcome.codes) == n == outcome.codes.count(0):  # all accepted
            codes = np.zeros(n)  # (count: under 1 µs for 1000 codes; converting them takes ~20)
        else:
            codes = np.asarray(outcome.codes, dtype=float)  # None → NaN
        reason: Any = None
        if outcome.state == DONE:
            # a reconciled request can leave rows it could not find: those stay unknown
            missing = np.isnan(codes)
            if not missing.any():
                state: Any = "accepted" if not codes.any() else "rejected" if codes.all() else \
                    np.where(codes == 0, "accepted", "rejected").astype(object)
            else:
                state = np.where(missing, UNKNOWN, np.where(codes == 0, "accepted", "rejected")).astype(object)
                reason = np.where(missing, UNKNOWN_REASON, None).astype(object)
        else:
            state = outcome.state
            reason = outcome.reason if outcome.state == UNKNOWN or (n and np.isnan(codes[0])) else None
        self._add(batch.rows, batch.number, recipient=batch.recipients, order_id=batch.order_ids if len(batch.order_ids) else None,
                  msg_id=outcome.msg_ids, task_id=outcome.task_id, state=state, code=codes, reason=reason,
                  detail=outcome.detail or None, batch=float(batch.number), attempts=float(outcome.attempts),
                  submitted_at=np.nan if outcome.sent_at is None else float(outcome.sent_at))

    # -- assembly -----------------------------------------------------------------------------
    def _layout(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every piece's rows in piece order, each piece's length, and each row's place within its piece.

        A column is then assembled with a handful of whole-chunk numpy calls, not several per piece
        (a chunk of 10^5 rows has ~100 batches). Pieces never share a row: a batch resolved again
        replaces its own piece.
        """
        if self._layout_cache is None:
            lens = np.fromiter((len(p.positions) for p in self._pieces), np.int64, len(self._pieces))
            starts = np.cumsum(lens) - lens
            positions = np.concatenate([p.positions for p in self._pieces]) if self._pieces else np.empty(0, np.int64)
            within = np.arange(len(positions), dtype=np.int64) - np.repeat(starts, lens)
            self._layout_cache = (positions, lens, within)
        return self._layout_cache

    def _numeric(self, name: str, n: int) -> np.ndarray:
        positions, lens, _ = self._layout()
        values = [p.values.get(name) for p in self._pieces]
        out = np.full(n, np.nan)
        if all(v is None or isinstance(v, float) for v in values):  # one value per piece (batch, attempts, ...)
            out[positions] = np.repeat(np.array([np.nan if v is None else v for v in values], dtype=float), lens)
        elif values:
            out[positions] = np.concatenate([v if isinstance(v, np.ndarray) else np.full(k, np.nan if v is None else v)
                                             for v, k in zip(values, lens.tolist())])
        return out

    def _text(self, name: str, n: int) -> Any:
        """One string column: every piece's values gathered into row order with one Arrow ``take``.

        Pieces sliced from one array (a plan's numbers and orderIds, cut into requests) are taken
        from that array as it is, and comma-joined msgIds are split once for the whole chunk: the
        take reads them where they are, so no piece is copied into a concatenation first. Rows no
        piece holds are null. None when no piece has a value (the caller shares one all-null column).
        """
        import pyarrow as pa

        values = [p.values.get(name) for p in self._pieces]
        if all(v is None for v in values):
            return None
        positions, lens, within = self._layout()
        sliced: list[tuple[int, Any]] = []  # (piece, its values as a large_string array)
        joined: list[tuple[int, str]] = []  # (piece, comma-joined text): all split at once
        scalars: dict[str, int] = {}
        base = np.zeros(len(values), dtype=np.int64)  # where each piece's values start in the sources
        step = np.zeros(len(values), dtype=np.int64)  # 1: a value per row; 0: one value for the whole piece
        scalar_of = np.full(len(values), -1, dtype=np.int64)  # -1: null
        for k, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, str):
                scalar_of[k] = scalars.setdefault(value, len(scalars))
                continue
            if isinstance(value, Joined):
                joined.append((k, value.text))
                continue
            arr = value if isinstance(value, (pa.Array, pa.ChunkedArray)) else _strings(value)
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            if len(arr) != lens[k]:
                raise AssertionError(f"{name}: a batch has {len(arr)} values for {lens[k]} rows")
            sliced.append((k, arr if arr.type == pa.large_string() else arr.cast(pa.large_string())))
        sources: list[Any] = []
        size = 0
        # each slice's parent: its own buffers, as long as the furthest slice of it reaches
        parents: dict[tuple[int, ...], list[Any]] = {}
        keys = [_buffers_key(arr) for _, arr in sliced]
        for (_, arr), key in zip(sliced, keys):
            parent = parents.setdefault(key, [0, arr.buffers()])
            parent[0] = max(parent[0], arr.offset + len(arr))
        for parent in parents.values():
            length, (validity, offsets, data) = parent
            sources.append(pa.LargeStringArray.from_buffers(length, offsets, data, validity))
            parent[0] = size  # from here on: where the parent starts in the sources
            size += length
        for (k, arr), key in zip(sliced, keys):
            base[k], step[k] = parents[key][0] + arr.offset, 1
        if joined:
            sources.append(_split_commas([text for _, text in joined]))
            if len(sources[-1]) != sum(int(lens[k]) for k, _ in joined):
                raise AssertionError(f"{name}: a batch's joined values do not match its rows")
            for k, _ in joined:
                base[k], step[k] = size, 1
                size += int(lens[k])
        if scalars:
            sources.append(pa.array(list(scalars), pa.large_string()))
        pieces = step == 0
        base[pieces] = np.where(scalar_of[pieces] >= 0, size + scalar_of[pieces], -1)
        where = np.full(n, -1, dtype=np.int64)
        where[positions] = np.repeat(base, lens) + np.repeat(step, lens) * within
        missing = where < 0
        indices = pa.array(where, mask=missing) if missing.any() else pa.array(where)
        source = sources[0] if len(sources) == 1 else pa.concat_arrays(sources)
        return source.take(indices)

    def _states(self) -> set[str]:
        """Every state some row has: scalars as they are, arrays by their distinct values."""
        found: set[str] = set()
        for p in self._pieces:
            state = p.values.get("state")
            found.update((state,) if isinstance(state, str) else () if state is None else set(state.tolist()))
        return found

    def frame(self, store: ResultStore | None = None) -> pd.DataFrame:
        """The chunk's result frame; with *store*, its numeric columns are views of the store's rows."""
        import pandas as pd
        import pyarrow as pa

        index, n = self.index, len(self.index)
        if store is not None and not store.fits(self.offset, n):
            store = None

        def put(name: str, data: np.ndarray, mask: np.ndarray | None = None) -> tuple[np.ndarray, Any]:
            return store.put(name, self.offset, data, mask) if store is not None else (data, mask)
        nulls = pa.nulls(n, pa.large_string())

        def none() -> pd.Series:  # each column its own array (Arrow's data is immutable, so it may be shared)
            return pd.Series(pd.arrays.ArrowStringArray(nulls), index=index, copy=False)

        def text(name: str) -> pd.Series:
            values = self._text(name, n)
            return none() if values is None else pd.Series(pd.arrays.ArrowStringArray(values), index=index, copy=False)

        def integers(name: str, values: np.ndarray) -> pd.arrays.IntegerArray:
            missing = np.isnan(values)
            return pd.arrays.IntegerArray(*put(name, np.where(missing, 0, values).astype(np.int64), missing))

        codes = self._numeric("code", n)
        known = ~np.isnan(codes)
        # reason, category and retryable from the catalog: look up each distinct code once, then take
        unique, which = np.unique(codes[known].astype(np.int64), return_inverse=True)
        info = [lookup(self.channel, int(c)) for c in unique]
        pick = np.full(n, len(info), dtype=np.intp)  # len(info): the trailing NA
        pick[known] = which

        def from_catalog(values: list[Any], dtype: str) -> pd.Series:
            return pd.Series(pd.array(values + [None], dtype=dtype).take(pick), index=index, copy=False)

        reason = from_catalog([i.reason for i in info], "string")
        category = from_catalog([i.category for i in info], "string")
        retryable = from_catalog([i.retryable for i in info], "boolean")
        own_reason = self._text("reason", n)
        if own_reason is not None:
            reason = pd.Series(pd.arrays.ArrowStringArray(own_reason), index=index, copy=False).fillna(reason)
        state = text("state")
        code_s = pd.Series(integers("code", codes), index=index, copy=False)
        states = self._states()
        if UNKNOWN in states:
            unknown = (state == UNKNOWN).fillna(False)
            category[unknown] = "unknown"
            retryable[unknown] = False
        if NOT_SENT in states:
            unreached = ((state == NOT_SENT) & code_s.isna()).fillna(False)
            if unreached.any():
                category[unreached] = "transport"
                retryable[unreached] = True
        if store is not None:  # into the store's rows, as the other numeric columns
            flags = retryable.array
            retryable = pd.Series(pd.arrays.BooleanArray(*put("retryable", flags.to_numpy(bool, na_value=False),
                                                              flags.isna())), index=index, copy=False)
        seconds = self._numeric("submitted_at", n)
        nanos, _ = put("submitted_at", (seconds * 1e9).astype("datetime64[ns]").view(np.int64))
        stamp = _utc(nanos, index)
        channel = pd.arrays.ArrowStringArray(pa.repeat(pa.scalar(self.channel, pa.large_string()), n))
        columns = {
            "channel": pd.Series(channel, index=index, copy=False), "recipient": text("recipient"),
            "order_id": text("order_id"), "msg_id": text("msg_id"), "task_id": text("task_id"), "state": state,
            "code": code_s, "reason": reason, "category": category, "retryable": retryable, "detail": text("detail"),
            "batch": pd.Series(integers("batch", self._numeric("batch", n)), index=index, copy=False),
            "attempts": pd.Series(integers("attempts", self._numeric("attempts", n)), index=index, copy=False),
            "submitted_at": stamp, "delivery": none(), "delivery_reason": none(),
            "delivered_at": _utc(put("delivered_at", np.full(n, _NAT))[0], index)}
        for name in REPORT_FIELDS[3:]:  # filled by delivery reports later
            columns[name] = none() if RESULT_SCHEMA[name] == "string" else pd.Series(
                _missing(RESULT_SCHEMA[name], n),
                index=index, copy=False)
        # from the arrays, not the Series, which pandas copies (copy-on-write) even with copy=False: so no
        # two columns may share an array, or setting a value in one would change the other
        frame = pd.DataFrame({name: column.array for name, column in columns.items()}, index=index, copy=False)
        # built in the schema's dtypes already; conform() only when something differs (it copies every column)
        if list(map(str, frame.dtypes)) != list(RESULT_SCHEMA.values()):
            frame = conform(frame)
        return frame


class ResultStore:
    """A campaign's numeric result columns, allocated once for all its rows (*rows* may be an upper bound).

    Each chunk's :meth:`ResultBuilder.frame` copies its values into its rows (while later requests
    are in flight) and :meth:`concat` joins the chunk frames without copying them again:
    ``pd.concat`` copies every column after the last response, 50-90 ms at 10^6 rows on the
    benchmark machine, most of it page faults on the fresh memory.
    """

    MASKED = ("code", "batch", "attempts", "retryable")

    def __init__(self, rows: int) -> None:
        self.rows = rows
        types = {"code": np.int64, "batch": np.int64, "attempts": np.int64, "retryable": bool, "submitted_at": np.int64,
                 "delivered_at": np.int64}
        self._data = {name: np.empty(rows, dtype) for name, dtype in types.items()}
        self._mask = {name: np.empty(rows, bool) for name in self.MASKED}
        self._placed: dict[int, int] = {}  # chunk offset -> rows

    def fits(self, offset: int, n: int) -> bool:
        return offset + n <= self.rows

    def put(self, name: str, offset: int, data: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, Any]:
        """Copy a chunk's column into its rows; return the views that now hold it."""
        end = offset + len(data)
        self._placed[offset] = len(data)
        self._data[name][offset:end] = data
        if mask is None:
            return self._data[name][offset:end], None
        self._mask[name][offset:end] = mask
        return self._data[name][offset:end], self._mask[name][offset:end]

    def concat(self, frames: list[pd.DataFrame]) -> pd.DataFrame:
        """The chunk frames, in order, as one frame: the store's columns as they are, strings as chunked Arrow arrays.

        ``pd.concat`` when the frames are not exactly the chunks the store holds, in order.
        """
        import pandas as pd
        import pyarrow as pa

        offsets, total = [], 0
        for frame in frames:
            offsets.append(total)
            total += len(frame)
        if [self._placed.get(o) for o in offsets] != [len(f) for f in frames] or len(self._placed) != len(frames):
            return pd.concat(frames)
        index = frames[0].index.append([f.index for f in frames[1:]])
        columns: dict[str, Any] = {}
        for name in RESULT_SCHEMA:
            if name in self._mask:
                cls = pd.arrays.BooleanArray if name == "retryable" else pd.arrays.IntegerArray
                columns[name] = cls(self._data[name][:total], self._mask[name][:total])
            elif name in self._data:  # the two datetimes
                columns[name] = _utc(self._data[name][:total], index).array
            elif RESULT_SCHEMA[name] != "string":  # report numbers: NA after a send, a small concat
                columns[name] = pd.concat([f[name] for f in frames], ignore_index=True).array
            else:
                chunks = [c for f in frames for c in pa.chunked_array(pa.array(f[name].array)).chunks]
                columns[name] = pd.arrays.ArrowStringArray(
                    pa.chunked_array([c.cast(pa.large_string()) for c in chunks], pa.large_string()))
        return pd.DataFrame(columns, index=index, copy=False)
