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


def render_texts(frame: pd.DataFrame, template: str) -> Texts:
    """Fill ``{column}`` placeholders, rendering each distinct combination of field values once."""
    import pandas as pd

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
        combo = pd.factorize(combo * (len(encoded.dictionary) + 1) + codes)[0].astype(np.int64, copy=False)
        columns[name] = arr
    first = _first_rows(combo)  # combo is numbered in order of first appearance (factorize, or all 0)
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
    """Where each id of *dense* first occurs, for ids numbered 0, 1, ... in order of first appearance.

    Such an id is new exactly where it tops every id before it: one linear pass, no hashing.
    """
    return np.flatnonzero(dense > np.r_[-1, np.maximum.accumulate(dense)[:-1]])


#: The most numbers :class:`SeenNumbers` makes room for before the first is added.
MAX_SIZE_HINT = 1 << 21


class SeenNumbers:
    """Numbers already planned in a campaign (as int64), each with the global row of its first appearance.

    pandas' int64 hash table gives every distinct number a dense id (in order of first appearance)
    and ``rows[id]`` is that number's first row, so a chunk costs one hash pass over its own rows
    however many were seen before: under 60 bytes per distinct number (16-byte slots 38-77% full,
    8-16 for the row) instead of a Python dict entry, and no Python work per row.
    """

    def __init__(self, size_hint: int | None = None) -> None:
        # the hash table behind pd.factorize (a private pandas module; tests/test_batching.py pins the
        # behaviour used): pd.factorize itself cannot keep its table from one chunk to the next
        from pandas._libs.hashtable import Int64HashTable

        # Sized for the campaign up front (up to 2^21 numbers, 34 MB): growing rehashes every number
        # seen so far, 40-80 ms at each doubling of a 10^6-number campaign, ~0.1 s of its CPU in all.
        self._ids = Int64HashTable(min(size_hint, MAX_SIZE_HINT)) if size_hint else Int64HashTable()
        self._rows = np.empty(0, dtype=np.int64)  # capacity grows by doubling; ids < len(self) are filled
        self._offsets: list[int] = []
        self._indexes: list[pd.Index] = []

    def __len__(self) -> int:
        return len(self._ids)

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
        from pandas._libs.hashtable import Int64Vector

        prior = len(self._ids)
        # get_labels numbers unseen values prior, prior+1, ... as it meets them (their values go to
        # the throw-away vector), so every id ever handed out is below len(self._ids)
        ids = self._ids.get_labels(np.ascontiguousarray(values, dtype=np.int64), Int64Vector(), prior, -1)
        new = np.flatnonzero(ids >= prior)
        if len(new):
            firsts = new[_first_rows(ids[new] - prior)]
            if len(self._ids) > len(self._rows):
                grown = np.empty(max(2 * len(self._rows), len(self._ids)), dtype=np.int64)
                grown[:prior] = self._rows[:prior]
                self._rows = grown
            self._rows[prior:len(self._ids)] = rows[firsts]
        return self._rows[ids]


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
    # inserting at byte 0 is a third of the cost of binary_join_element_wise with a scalar prefix
    return pc.binary_replace_slice(digits, start=0, stop=0, replacement=prefix)


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
    import pandas as pd

    if not len(good):
        return []
    n = len(good)
    if row_text is None:
        wire = np.arange(n)
        starts = np.arange(0, n, batch_size)
        group_text = [texts[0]] * len(starts)
        batch_bounds = list(range(len(starts) + 1))
    else:
        batch_of = np.arange(n, dtype=np.int64) // batch_size
        tid = row_text[good]
        # groups numbered in order of first appearance: (batch, text) pairs, and batches come in order
        group_of = pd.factorize(batch_of * max(len(texts), 1) + tid)[0]
        # a stable sort by group; small ids take numpy's linear-time radix sort
        wire = np.argsort(group_of.astype(np.uint16) if group_of[-1] < 2 ** 16 else group_of, kind="stable")
        sorted_groups = group_of[wire]
        starts = np.flatnonzero(np.r_[True, sorted_groups[1:] != sorted_groups[:-1]])
        first = wire[starts]  # each group's first row, in good's order
        group_text = [texts[t] for t in tid[first].tolist()]
        group_batch = batch_of[first]
        batch_bounds = np.r_[0, np.flatnonzero(np.diff(group_batch)) + 1, len(starts)].tolist()
    positions = good[wire]
    rows = positions + offset
    wire_numbers = numbers.take(pa.array(positions))
    wire_orders = order_ids(prefix, rows)
    bounds = np.r_[starts, n]
    groups = list(map(WireGroup._make, zip(group_text, _joined(wire_numbers, bounds), _joined(wire_orders, bounds))))
    row_bounds = bounds[batch_bounds].tolist()
    return [WireBatch(rows[r0:r1], wire_numbers.slice(r0, r1 - r0), wire_orders.slice(r0, r1 - r0), groups[g0:g1])
            for g0, g1, r0, r1 in zip(batch_bounds, batch_bounds[1:], row_bounds, row_bounds[1:])]
