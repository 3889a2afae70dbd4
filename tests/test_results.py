"""Result frames: one campaign's chunk frames joined through its ResultStore, exactly as pd.concat would."""

from __future__ import annotations

import numpy as np
import pytest
import pandas as pd

from buka_nb.engine import Batch, Joined, Outcome
from buka_nb.results import ResultBuilder, ResultStore
from buka_nb.schema import RESULT_SCHEMA


def chunk(offset: int, n: int, store: ResultStore | None, unknown: bool = False) -> pd.DataFrame:
    """Row *offset* refused locally, the rest one batch: accepted (joined msgIds) or unknown."""
    b = ResultBuilder("sms", pd.RangeIndex(offset, offset + n), offset)
    b.add_invalid([offset], ["12"], [-9], ["column 'phone' value 12 has the wrong length"])
    rows = list(range(offset + 1, offset + n))
    batch = Batch(offset, rows, [f"4479{r}" for r in rows], [f"o-{r}" for r in rows])
    if unknown:
        outcome = Outcome("unknown", [None] * len(rows), [None] * len(rows), "no answer", attempts=2, sent_at=1.7e9)
    else:
        outcome = Outcome("done", [0] * len(rows), Joined(",".join(f"m{r}" for r in rows)), "success", attempts=1,
                          sent_at=1.7e9 + offset)
    b.add_batch(batch, outcome)
    return b.frame(store)


def test_the_store_joins_chunk_frames_as_pd_concat_does_without_copying_them():
    store = ResultStore(10)  # an upper bound, as a CSV's line count is
    frames = [chunk(0, 4, store), chunk(4, 3, store, unknown=True), chunk(7, 2, store)]
    joined = store.concat(frames)
    pd.testing.assert_frame_equal(joined, pd.concat(frames))
    assert dict(joined.dtypes.astype(str)) == RESULT_SCHEMA
    assert isinstance(joined.index, pd.RangeIndex) and list(joined.index) == list(range(9))
    assert joined.msg_id.fillna("").tolist() == ["", "m1", "m2", "m3", "", "", "", "", "m8"]
    assert joined.state.tolist() == ["invalid", "accepted", "accepted", "accepted", "invalid", "unknown", "unknown",
                                     "invalid", "accepted"]
    assert joined.code.tolist() == [-9, 0, 0, 0, -9, pd.NA, pd.NA, -9, 0]
    assert joined.attempts.tolist() == [pd.NA, 1, 1, 1, pd.NA, 2, 2, pd.NA, 1]
    # each chunk frame's numbers and the joined frame's are the same memory: nothing was copied at the end
    assert np.shares_memory(frames[2].code.array._data, joined.code.array._data)


def test_frames_the_store_does_not_hold_in_order_are_joined_by_pd_concat():
    store = ResultStore(10)
    frames = [chunk(0, 4, store), chunk(4, 3, None)]  # the second never went through the store
    pd.testing.assert_frame_equal(store.concat(frames), pd.concat(frames))
    assert store.concat(frames[:1] + frames[:1]).index.tolist() == [0, 1, 2, 3, 0, 1, 2, 3]


def test_setting_a_value_in_one_column_leaves_every_other_column_alone():
    store = ResultStore(7)
    frames = [chunk(0, 4, store), chunk(4, 3, store, unknown=True)]
    for results in (frames[0].copy(deep=False), store.concat(frames)):
        before = results.copy()
        results.loc[results.index[1], "delivery"] = "delivered"
        results.loc[results.index[1], "code"] = 7
        assert [c for c in results if not results[c].equals(before[c])] == ["code", "delivery"]


def test_a_chunk_whose_batches_interleave_its_rows_is_put_back_in_row_order():
    # rows 0..7: row 3 refused locally; batch 0 holds rows 6, 0, 4 (grouped by text, as SMS sends them),
    # batch 1 rows 1, 7, 2, 5 and is answered twice: unknown first, then reconciled with row 2 still missing
    b = ResultBuilder("sms", pd.RangeIndex(8), 0)
    b.add_batch(Batch(0, [6, 0, 4], ["n6", "n0", "n4"], ["o6", "o0", "o4"]),
                Outcome("done", [0, 0, 0], Joined("m6,m0,m4"), "success", attempts=1, sent_at=1.7e9))
    b.add_invalid([3], ["12"], [-9], ["column 'phone' value 12 has the wrong length"])
    batch1 = Batch(1, [1, 7, 2, 5], ["n1", "n7", "n2", "n5"], ["o1", "o7", "o2", "o5"])
    b.add_batch(batch1, Outcome("unknown", [None] * 4, [None] * 4, "no answer", attempts=1, sent_at=1.7e9 + 5))
    b.add_batch(batch1, Outcome("done", [0, 0, None, -10], ["m1", "m7", None, None], "reconciled", attempts=1,
                                sent_at=1.7e9 + 5))
    f = b.frame()
    assert f.recipient.tolist() == ["n0", "n1", "n2", "12", "n4", "n5", "n6", "n7"]
    assert f.order_id.fillna("-").tolist() == ["o0", "o1", "o2", "-", "o4", "o5", "o6", "o7"]
    assert f.msg_id.fillna("-").tolist() == ["m0", "m1", "-", "-", "m4", "-", "m6", "m7"]
    assert f.state.tolist() == ["accepted", "accepted", "unknown", "invalid", "accepted", "rejected", "accepted",
                                "accepted"]
    assert f.code.tolist() == [0, 0, pd.NA, -9, 0, -10, 0, 0]
    assert f.batch.tolist() == [0, 1, 1, pd.NA, 0, 1, 0, 1]
    assert f.detail.fillna("-").tolist() == ["-"] * 3 + ["column 'phone' value 12 has the wrong length"] + ["-"] * 4
    assert f.reason[2] == "Outcome unknown: the request was sent but no response arrived"
    assert f.submitted_at.tolist()[:2] == [pd.Timestamp(1.7e9, unit="s", tz="UTC"),
                                           pd.Timestamp(1.7e9 + 5, unit="s", tz="UTC")]
    assert f.submitted_at.isna().tolist() == [False, False, False, True, False, False, False, False]


def test_a_batch_with_more_values_than_rows_is_an_error_not_a_shifted_column():
    b = ResultBuilder("sms", pd.RangeIndex(2), 0)
    b.add_batch(Batch(0, [0, 1], ["n0", "n1", "n2"], ["o0", "o1"]),
                Outcome("done", [0, 0], ["m0", "m1"], "success", attempts=1, sent_at=1.7e9))
    with pytest.raises(AssertionError, match="recipient: a batch has 3 values for 2 rows"):
        b.frame()


def test_batches_sliced_from_one_planned_array_are_read_from_it_where_they_start():
    # as wire_groups cuts them: one Arrow array of the chunk's numbers (with a null) in wire order,
    # each batch a slice of it; a second plan of the same chunk (its rest) has an array of its own
    import pyarrow as pa

    numbers = pa.array(["n4", "n0", None, "n1", "n5", "n2"], pa.large_string())
    orders = pa.array(["o4", "o0", "o6", "o1", "o5", "o2"], pa.string())  # not large: each slice is cast, a copy
    rest = pa.array(["x", "n7", "n8"], pa.large_string()).slice(1)  # a slice not starting at its buffers' start
    b = ResultBuilder("sms", pd.RangeIndex(9), 0)
    b.add_batch(Batch(0, [4, 0], numbers.slice(0, 2), orders.slice(0, 2)),
                Outcome("done", [0, 0], Joined("m4,m0"), "success", attempts=1, sent_at=1.7e9))
    b.add_batch(Batch(1, [6, 1, 5, 2], numbers.slice(2), orders.slice(2)),
                Outcome("done", [0, 0, 0, 0], Joined("m6,m1,m5,m2"), "success", attempts=1, sent_at=1.7e9))
    b.add_batch(Batch(2, [7, 8], rest, ["o7", "o8"]),
                Outcome("not_sent", [None, None], [None, None], "not reached", attempts=1, sent_at=None))
    b.add_invalid([3], ["12"], [-9], ["wrong length"])  # row 3 refused; every other row is in a batch
    f = b.frame()
    assert f.recipient.fillna("-").tolist() == ["n0", "n1", "n2", "12", "n4", "n5", "-", "n7", "n8"]
    assert f.order_id.fillna("-").tolist() == ["o0", "o1", "o2", "-", "o4", "o5", "o6", "o7", "o8"]
    assert f.msg_id.fillna("-").tolist() == ["m0", "m1", "m2", "-", "m4", "m5", "m6", "-", "-"]
    assert f.state.tolist() == ["accepted"] * 3 + ["invalid"] + ["accepted"] * 3 + ["not_sent"] * 2
