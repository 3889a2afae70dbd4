"""SMS planning's pure building blocks: repeats across chunks, first rows of dense ids, request groups."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from buka_nb.batching import MAX_SIZE_HINT, SeenNumbers, _first_rows, wire_groups
from buka_nb.results import _split_commas


def test_seen_numbers_gives_each_row_its_numbers_first_row_within_and_across_chunks():
    seen = SeenNumbers()
    seen.add_chunk(0, pd.Index(["a", "b", "c", "d"]))
    first = seen.first_rows(np.array([447900, 447901, 447900, 447902]), np.array([0, 1, 2, 3]))
    assert first.tolist() == [0, 1, 0, 3]
    assert len(seen) == 3
    seen.add_chunk(4, pd.Index(["e", "f", "g", "h"]))
    first = seen.first_rows(np.array([447903, 447901, 447903, 447902]), np.array([4, 5, 6, 7]))
    assert first.tolist() == [4, 1, 4, 3]
    assert len(seen) == 4
    assert seen.labels(np.array([6, 1, 4, 3])) == ["g", "b", "e", "d"]
    assert seen.first_rows(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).tolist() == []


@pytest.mark.parametrize("size_hint", [None, 10, 60_000, MAX_SIZE_HINT * 4])
def test_seen_numbers_keeps_first_rows_while_it_grows_past_many_chunks(size_hint):
    rng = np.random.default_rng(1)
    values = rng.integers(10**10, 10**10 + 30_000, 60_000)
    seen, got = SeenNumbers(size_hint), []
    for start in range(0, len(values), 7_000):
        rows = np.arange(start, min(start + 7_000, len(values)))
        got.append(seen.first_rows(values[rows], rows))
    _, first_at = np.unique(values, return_index=True)
    expected = first_at[np.unique(values, return_inverse=True)[1]]
    assert np.concatenate(got).tolist() == expected.tolist()
    assert len(seen) == len(first_at)


def test_first_rows_of_ids_numbered_in_order_of_appearance():
    assert _first_rows(np.array([0, 0, 1, 0, 2, 1, 3])).tolist() == [0, 2, 4, 6]
    assert _first_rows(np.array([], dtype=np.int64)).tolist() == []


def test_wire_groups_keep_first_appearance_order_of_texts_inside_each_request():
    numbers = pa.array([f"n{i}" for i in range(6)], pa.large_string())
    batches = wire_groups(np.array([0, 1, 2, 3, 5]), 10, numbers, np.array([1, 0, 1, 0, 0, 1]), ["A", "B"], 3, "o")
    assert [b.rows.tolist() for b in batches] == [[10, 12, 11], [13, 15]]
    assert [[tuple(g) for g in b.groups] for b in batches] == [
        [("B", "n0,n2", "o10,o12"), ("A", "n1", "o11")], [("A", "n3", "o13"), ("B", "n5", "o15")]]
    assert batches[0].numbers.to_pylist() == ["n0", "n2", "n1"]
    assert batches[1].order_ids.to_pylist() == ["o13", "o15"]


def test_split_commas_gives_every_string_including_multibyte_ones():
    assert _split_commas(["a,ümlaut,,z"]).to_pylist() == ["a", "ümlaut", "", "z"]
    assert _split_commas(["only"]).to_pylist() == ["only"]
    # several texts: the items of each in turn, as if they had been joined by commas first
    assert _split_commas(["1,2", "", "3", "ü,"]).to_pylist() == ["1", "2", "", "3", "ü", ""]
    assert str(_split_commas(["1,2"]).type) == "large_string"
