"""Ledger column types that store a batch without copying per row: :class:`Runs`, :class:`Chunks`, :class:`IdRange`.

A batch of ~38 rows used to cost one Python list extend per column, and one 19-digit id string per
row. Values constant over the batch are kept once per batch (:class:`Runs`), message ids as the
block they were allocated in (:class:`IdRange`, spelled out only when read), orderIds as one
comma-joined text per batch (:class:`Joined`), delivery times as packed doubles, all stored as whole
chunks (:class:`Chunks`). Each reads like the list it replaces: ``column[row]`` and slices. Columns
that change after the fact (the AI-voice ledger's) are :class:`ListColumn`, a list taking the same
appends. Writers hold the simulator's lock; a concurrent reader sees only complete batches.
"""

from __future__ import annotations

import bisect
from typing import Any, Iterable, Iterator

#: "000" ... "999", the last three digits of message ids.
TAILS = [f"{i:03d}" for i in range(1000)]


class IdRange:
    """Consecutive message ids ``prefix + str(counter + k)`` for k < n, not spelled out.

    A batch's ids are stored so and spelled only when read (a lookup, a frame, a report): making
    the 19-digit strings of 10^6 messages costs more than the rest of their ledger rows.
    """

    __slots__ = ("serial", "prefix", "counter", "n")

    def __init__(self, serial: int, prefix: str, counter: int, n: int) -> None:
        self.serial, self.prefix, self.counter, self.n = serial, prefix, counter, n

    def pieces(self) -> Iterator[tuple[str, int, int]]:
        """(first 16 digits, first 3-digit tail, count) per run of ids sharing their first 16 digits."""
        counter, end = self.counter, self.counter + self.n
        while counter < end:
            head, tail = divmod(counter, 1000)
            k = min(1000 - tail, end - counter)
            yield f"{self.prefix}{head}", tail, k
            counter += k

    def tolist(self) -> list[str]:
        # A 16-digit head plus a ready-made tail: one concatenation per id, where str() of a
        # 19-digit int costs four times as much.
        out: list[str] = []
        for head, tail, k in self.pieces():
            out += map(head.__add__, TAILS[tail:tail + k])
        return out

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            return self.tolist()[key]
        k = key + self.n if key < 0 else key
        if not 0 <= k < self.n:
            raise IndexError("id out of range")
        return self.prefix + str(self.counter + k)


class Joined:
    """A batch of comma-free strings kept as their one comma-joined text, split only when read.

    A string object per orderId costs ~70 bytes a row for the life of the ledger; the joined text
    ~1 byte a character. Build it with :meth:`of`, which keeps the list when an item holds a comma.
    Unlike the client's ``buka_nb.engine.Joined`` it never keeps the split list: the ledger holds
    its batches for the simulator's lifetime, and a read must not bring the strings back for good.
    """

    __slots__ = ("text", "n")

    def __init__(self, text: str, n: int) -> None:
        self.text, self.n = text, n

    @classmethod
    def of(cls, items: list[str]) -> Joined | list[str]:
        text = ",".join(items)
        return cls(text, len(items)) if items and text.count(",") == len(items) - 1 else items

    def tolist(self) -> list[str]:
        return self.text.split(",")

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[str]:
        return iter(self.tolist())

    def __getitem__(self, key: int | slice) -> Any:
        return self.tolist()[key]


class ListColumn(list):
    """A plain list with the appends of :class:`Runs` and :class:`Chunks`, for columns rows may change in."""

    __slots__ = ()

    def append_run(self, value: Any, n: int) -> None:
        self.extend([value] * n)

    def append_chunk(self, chunk: Iterable[Any]) -> None:
        self.extend(chunk)


class _Column:
    """What :class:`Chunks` and :class:`Runs` share: ``rows`` rows, read by row or by slice (``_slice``)."""

    __slots__ = ()
    rows: int

    def __len__(self) -> int:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self[:])

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.rows)
            return self._slice(start, stop) if step == 1 else self[:][key]
        row = key + self.rows if key < 0 else key
        if not 0 <= row < self.rows:
            raise IndexError("ledger row out of range")
        return self._row(row)

    def _slice(self, start: int, stop: int) -> list[Any]:
        raise NotImplementedError

    def _row(self, row: int) -> Any:
        raise NotImplementedError


class Chunks(_Column):
    """A read-only column kept as the appended batches themselves (lists, arrays, :class:`IdRange`, :class:`Joined`).

    ``column[row]`` bisects the chunk starts; a slice joins the chunks it covers.
    """

    __slots__ = ("starts", "chunks", "rows")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.chunks: list[Any] = []
        self.rows = 0

    def append_chunk(self, chunk: Any) -> None:
        if len(chunk):
            self.chunks.append(chunk)  # chunk before start: a concurrent reader never sees a start alone
            self.starts.append(self.rows)
            self.rows += len(chunk)

    def _slice(self, start: int, stop: int) -> list[Any]:
        out: list[Any] = []
        i = bisect.bisect_right(self.starts, start) - 1
        first = self.starts[i] if i >= 0 else 0
        while 0 <= i < len(self.starts) and self.starts[i] < stop:  # starts: the committed chunks
            chunk = self.chunks[i]
            out += chunk.tolist() if isinstance(chunk, (IdRange, Joined)) else chunk
            i += 1
        return out[start - first:stop - first]

    def _row(self, row: int) -> Any:
        i = bisect.bisect_right(self.starts, row) - 1
        return self.chunks[i][row - self.starts[i]]


class Runs(_Column):
    """A read-only column that is constant over each appended batch: one (start row, value) per run.

    Appending a run is O(1) where a list would copy the value into every row (~10^6 times for a
    big campaign). ``column[row]`` bisects the run starts; ``column[a:b]`` builds a list.
    """

    __slots__ = ("starts", "values", "rows")

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.values: list[Any] = []
        self.rows = 0

    def append_run(self, value: Any, n: int) -> None:
        if n <= 0:
            return
        if not self.values or self.values[-1] is not value:  # the same object again extends the run
            self.values.append(value)  # value before start: a concurrent reader never sees a start alone
            self.starts.append(self.rows)
        self.rows += n

    def _slice(self, start: int, stop: int) -> list[Any]:
        out: list[Any] = []
        i = max(bisect.bisect_right(self.starts, start) - 1, 0)
        at = start
        while at < stop:
            end = self.starts[i + 1] if i + 1 < len(self.starts) else self.rows
            out += [self.values[i]] * (min(end, stop) - at)
            at, i = end, i + 1
        return out

    def _row(self, row: int) -> Any:
        return self.values[bisect.bisect_right(self.starts, row) - 1]
