"""Pure, vectorised building blocks of SMS planning: template texts, de-duplication, request groups.

A campaign of 10^6 rows must not pay Python work per row, so each step here works on whole
columns with numpy and Arrow:

* :func:`render_texts` fills a template once per distinct combination of its fields, not per row;
* :class:`SeenNumbers` finds repeated numbers within and across the chunks of a campaign;
* :func:`wire_groups` cuts valid rows into requests and, inside each request, into one
  ``sendSms/batch`` group per distinct text, with every group's numbers and orderIds already
  joined by commas (the order of rows inside a request is the order they travel in).

>>> import pandas as pd
>>> texts = render_texts(pd.DataFrame({"name": ["Ann", "Bob", "Ann", None]}), "Hi {name}")
>>> texts.texts, texts.row_text.tolist(), texts.missing
(['Hi Ann', 'Hi Bob', 'Hi '], [0, 1, 0, 2], [None, None, 'name'])
"""

from __future__ import annotations

from string import Formatter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    import pandas as pd


class Texts(NamedTuple):
    """Distinct message texts of a chunk: ``row_text[i]`` indexes ``texts`` (and ``missing``, ``lengths``).

    ``missing[k]`` names the first template field that is empty for text *k* (None when all are
    filled); ``blank[k]`` says text *k* is only whitespace; ``lengths[k]`` is its length in characters.
    """

    texts: list[str]
    row_text: np.ndarray
    missing: list[str | None]
    blank: np.ndarray
    lengths: np.ndarray


def _arrow_column(values: pd.Series) -> Any:

    arr = pa.array(values.astype("string").array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return arr.cast(pa.large_string())


def _factorize(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dense codes in order of first appearance, position of each code's first row)."""
    import pandas as pd

    dense = pd.factorize(codes)[0].astype(np.int64, copy=False)
    return dense, _first_rows(dense)


def render_texts(frame: pd.DataFrame, template: str) -> Texts:
    """Fill ``{column}`` placeholders, rendering each distinct combination of field values once."""

    parts = list(Formatter().parse(template))
    fields = [name for _, name, _, _ in parts if name is not None]
    n = len(frame)
    combo = np.zeros(n, dtype=np.int64)
    columns: dict[str, Any] = {}
    for name in dict.fromkeys(fields):  # each column once, in template order
        arr = _arrow_column(frame[name])
        encoded = pc.dictionary_encode(arr)
        # +1 so NA (a null index) is code 0
        codes = pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64) + 1
        combo, _ = _factorize(combo * (len(encoded.dictionary) + 1) + codes)
        columns[name] = arr
    combo, first = _factorize(combo)
    pieces: list[Any] = []
    missing = pa.nulls(len(first), pa.large_string())
    for literal, name, _, _ in parts:
        if literal:
            pieces.append(literal)
        if name is None:
            continue
        values = columns[name].take(pa.array(first))
        empty = pc.or_kleene(pc.is_null(values), pc.equal(pc.utf8_trim_whitespace(values), ""))
        missing = pc.if_else(pc.and_(pc.is_null(missing), empty), name, missing)
        pieces.append(pc.fill_null(values, ""))
    if all(isinstance(p, str) for p in pieces):  # no placeholder: one text
        rendered = pa.array(["".join(pieces)] * len(first), pa.large_string())
    else:
        rendered = pc.binary_join_element_wise(
            *(pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in pieces),
            pa.scalar("", pa.large_string()))
    # rows are grouped by the text they produce (two field combinations can give the same text);
    # Arrow's dictionary keeps first-appearance order, and combinations are in row order already
    encoded = pc.dictionary_encode(rendered)
    text_of_combo = encoded.indices.to_numpy().astype(np.int64)
    first_combo = _first_rows(text_of_combo)  # text k's first combination
    dictionary = encoded.dictionary
    blank = pc.equal(pc.utf8_trim_whitespace(dictionary), "").to_numpy(zero_copy_only=False)
    lengths = pc.utf8_length(dictionary).to_numpy().astype(np.int64)
    return Texts(dictionary.to_pylist(), text_of_combo[combo], missing.take(pa.array(first_combo)).to_pylist(),
                 blank, lengths)


def _first_rows(dense: np.ndarray) -> np.ndarray:
    import pandas as pd

    return np.flatnonzero(~pd.Series(dense).duplicated().to_numpy())


class SeenNumbers:
    """Numbers already planned in a campaign (as int64), each with the global row of its first appearance.

    Kept sorted, so a chunk is checked with one ``searchsorted`` and merged with one ``insert``:
    16 bytes per distinct number instead of a Python dict entry, and no Python work per row.
    """

    def __init__(self) -> None:
        self.values = np.empty(0, dtype=np.int64)
        self.rows = np.empty(0, dtype=np.int64)
        self._offsets: list[int] = []
        self._indexes: list[pd.Index] = []

    def __len__(self) -> int:
        return len(self.values)

    def add_chunk(self, offset: int, index: pd.Index) -> None:
        """Remember a chunk's labels, so :meth:`label` can name any row planned so far."""
        self._offsets.append(offset)
        self._indexes.append(index)

    def labels(self, rows: np.ndarray) -> list[Any]:
        """The index labels of global *rows* (plain Python values, for messages), chunk by chunk."""
        rows = np.asarray(rows, dtype=np.int64)
        out: list[Any] = [None] * len(rows)
        chunk_of = np.searchsorted(np.asarray(self._offsets), rows, side="right") - 1
        for k in np.unique(chunk_of).tolist():
            at = np.flatnonzero(chunk_of == k)
            for i, label in zip(at.tolist(), self._indexes[k].take(rows[at] - self._offsets[k]).tolist()):
                out[i] = label
        return out

    def first_rows(self, values: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """For each (number, global row), the row where the number first appeared; records the new ones.

        A row is a repeat where the answer differs from its own row.
        """
        if not len(values):
            return rows.copy()
        dense, first = _factorize(values)
        order = np.argsort(values[first])  # sorted look-ups walk the seen array once, cache-friendly
        unique, unique_rows = values[first][order], rows[first][order]
        pos = np.searchsorted(self.values, unique)
        hit = pos < len(self.values)
        hit[hit] = self.values[pos[hit]] == unique[hit]
        origin = unique_rows.copy()
        origin[hit] = self.rows[pos[hit]]
        new = ~hit
        if new.any():  # np.insert merges sorted values at their sorted positions
            self.values = np.insert(self.values, pos[new], unique[new])
            self.rows = np.insert(self.rows, pos[new], unique_rows[new])
        by_first = np.empty_like(origin)
        by_first[order] = origin
        return by_first[dense]


class WireGroup(NamedTuple):
    """One ``sendSms/batch`` group: its text and its numbers and orderIds joined by commas."""

    text: str
    numbers: str
    order_ids: str


class WireBatch(NamedTuple):
    """One request: global rows and their numbers/orderIds in the order they are sent, and its groups."""

    rows: np.ndarray
    numbers: Any
    order_ids: Any
    groups: list[WireGroup]


def order_ids(prefix: str, rows: np.ndarray) -> Any:
    """``<prefix><row>`` for every row, as an Arrow string array."""

    digits = pc.cast(pa.array(rows, pa.int64()), pa.large_string())
    return pc.binary_join_element_wise(pa.scalar(prefix, pa.large_string()), digits, pa.scalar("", pa.large_string()))


def _joined(strings: Any, bounds: np.ndarray) -> list[str]:
    """Each run ``strings[bounds[k]:bounds[k+1]]`` joined by commas, in one vectorised pass."""

    lists = pa.LargeListArray.from_arrays(pa.array(bounds, pa.int64()), strings)
    return pc.binary_join(lists, pa.scalar(",", pa.large_string())).to_pylist()


def wire_groups(good: np.ndarray, offset: int, numbers: Any, row_text: np.ndarray | None, texts: list[str],
                batch_size: int, prefix: str) -> list[WireBatch]:
    """Cut valid chunk positions *good* into requests of *batch_size*, grouped by text inside each.

    Groups follow the order in which their text first appears in the request, and rows keep their
    order inside a group: exactly the order a per-row loop over the request would produce.
    *row_text* None means one text for every row (plain ``sendSms``: a single group).
    """

    if not len(good):
        return []
    batch_of = np.arange(len(good), dtype=np.int64) // batch_size
    if row_text is None:
        wire = np.arange(len(good))
        group_of = batch_of
    else:
        tid = row_text[good]
        group_of, _ = _factorize(batch_of * max(len(texts), 1) + tid)
        # a stable sort by group; small ids take numpy's linear-time radix sort
        wire = np.argsort(group_of.astype(np.uint16) if len(group_of) and group_of[-1] < 2 ** 16 else group_of,
                          kind="stable")
    positions = good[wire]
    rows = positions + offset
    wire_numbers = numbers.take(pa.array(positions))
    wire_orders = order_ids(prefix, rows)
    sorted_groups = group_of[wire]
    starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
    bounds = np.r_[starts, len(wire)]
    joined_numbers = _joined(wire_numbers, bounds)
    joined_orders = _joined(wire_orders, bounds)
    group_text = [texts[0]] * len(starts) if row_text is None else [texts[t] for t in row_text[positions[starts]].tolist()]
    group_batch = batch_of[wire[starts]]
    batch_bounds = np.r_[0, np.flatnonzero(np.diff(group_batch)) + 1, len(starts)]
    out = []
    for b in range(len(batch_bounds) - 1):
        g0, g1 = batch_bounds[b], batch_bounds[b + 1]
        r0, r1 = bounds[g0], bounds[g1]
        groups = [WireGroup(group_text[g], joined_numbers[g], joined_orders[g]) for g in range(g0, g1)]
        out.append(WireBatch(rows[r0:r1], wire_numbers.slice(r0, r1 - r0), wire_orders.slice(r0, r1 - r0), groups))
    return out
