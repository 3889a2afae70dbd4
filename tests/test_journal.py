"""The send journal's storage: compact batch rows, a small state row per batch, and old files moved over."""

from __future__ import annotations

import sqlite3

import numpy as np
import pyarrow as pa

from buka_nb.engine import Joined, Outcome
from buka_nb.journal import BatchRecord, Journal

# The one-table layout journals had before state, rows and outcomes were split (buka_nb 0.1.0 dev).
OLD_SCHEMA = """
CREATE TABLE campaigns (id TEXT PRIMARY KEY, channel TEXT NOT NULL, fingerprint TEXT NOT NULL, n_rows INTEGER,
    created_at REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE batches (campaign_id TEXT NOT NULL, batch INTEGER NOT NULL, state TEXT NOT NULL,
    rows TEXT NOT NULL, recipients TEXT NOT NULL, order_ids TEXT NOT NULL,
    sent_at REAL, attempts INTEGER NOT NULL DEFAULT 0, outcome TEXT, PRIMARY KEY (campaign_id, batch));
INSERT INTO campaigns VALUES ('c1', 'sms', 'fp', 3, 1.0, '{}');
INSERT INTO batches VALUES ('c1', 0, 'done', '[0,1]', '["447911000001","447911000002"]', '["o-0","o-1"]', 5.0, 1,
    '{"codes":[0,-9],"msg_ids":["m1",null],"reason":"success"}');
INSERT INTO batches VALUES ('c1', 1, 'inflight', '[2]', '["447911000003"]', '["o-2"]', 6.0, 0, NULL);
"""


def test_a_journal_in_the_old_layout_is_moved_over_when_opened(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.close()
    j = Journal(path)
    done, inflight = j.batches("c1")
    assert (done.batch, done.state, done.rows, done.recipients, done.order_ids, done.sent_at, done.attempts) == \
        (0, "done", [0, 1], ["447911000001", "447911000002"], ["o-0", "o-1"], 5.0, 1)
    assert done.outcome == {"codes": [0, -9], "msg_ids": ["m1", None], "reason": "success"}
    assert (inflight.state, inflight.rows, inflight.outcome) == ("inflight", [2], {})
    assert j.states("c1") == {"done": 1, "inflight": 1}
    j.close()
    tables = {r[0] for r in sqlite3.connect(path).execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "batches" not in tables and {"batch_states", "batch_rows", "batch_outcomes"} <= tables


def test_arrow_and_numpy_batches_round_trip(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
    j.open_campaign("c", "sms", "fp", 3)
    j.plan("c", [BatchRecord(0, "planned", np.array([5, 3, 4]), pa.array(["4479", "4478", "4477"], pa.large_string()),
                             pa.array(["p-5", "p-3", "p-4"])),
                 BatchRecord(1, "planned", [6], ["a@example.com,x"], [])])
    j.mark_inflight("c", 0, 7.5)
    j.record("c", 0, "done", {"codes": np.array([0, 0, -9]), "msg_ids": ["1", "2", None]}, 2)
    first, second = j.batches("c")
    assert (first.rows, first.recipients, first.order_ids) == ([5, 3, 4], ["4479", "4478", "4477"], ["p-5", "p-3", "p-4"])
    assert (first.state, first.sent_at, first.attempts, first.outcome) == \
        ("done", 7.5, 2, {"codes": [0, 0, -9], "msg_ids": ["1", "2", None]})
    assert (second.state, second.recipients, second.order_ids) == ("planned", ["a@example.com,x"], [])


def test_checkpoint_copies_the_log_into_the_database_while_the_writer_stays_open(tmp_path):
    import shutil

    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    j.open_campaign("c", "sms", "fp", 2)
    j.plan("c", [BatchRecord(0, "planned", [0, 1], ["447911123456", "447911123457"], ["o0", "o1"])])
    j.record("c", 0, "done", {"codes": [0, 0], "msg_ids": ["m0", "m1"]}, 1, 1.7e9)

    def database_alone() -> list[tuple]:  # the main file only, as if the log were lost
        copy = tmp_path / "copy.sqlite3"
        shutil.copy(path, copy)
        with sqlite3.connect(copy) as db:
            if not db.execute("SELECT count(*) FROM sqlite_master WHERE name='batch_states'").fetchone()[0]:
                return []
            return db.execute("SELECT batch, state FROM batch_states").fetchall()

    assert database_alone() == []  # everything, the tables too, is still in the write-ahead log
    j.checkpoint()
    assert database_alone() == [(0, "done")]
    j.record("c", 0, "done", {"codes": [0, 0], "msg_ids": ["m0", "m1"]}, 1)  # the writer goes on
    assert [r.state for r in j.batches("c")] == ["done"]
    j.close()


def test_outcomes_and_a_departure_in_one_update_and_joined_msg_ids_read_back_as_a_list(tmp_path):
    j = Journal(tmp_path / "j.sqlite3")
    j.open_campaign("c", "sms", "fp", 4)
    j.plan("c", [BatchRecord(0, "planned", [0, 1], ["1", "2"], ["o-0", "o-1"]),
                 BatchRecord(1, "planned", [2, 3], ["3", "4"], ["o-2", "o-3"])])
    j.mark_inflight("c", 0, 5.0)
    outcome = Outcome("done", [0, 0], Joined("m-1,m-2"), "success", attempts=1, sent_at=5.0)
    assert outcome.to_journal()["msg_ids"] == "m-1,m-2"  # stored as it arrived, one string
    j.update("c", [(0, "done", outcome.to_journal(), 1, 5.0)], inflight=(1, 6.0))
    first, second = j.batches("c")
    assert (first.state, first.attempts, first.outcome["msg_ids"], first.outcome["codes"]) == \
        ("done", 1, ["m-1", "m-2"], [0, 0])
    assert (second.state, second.sent_at) == ("inflight", 6.0)
    assert Outcome.from_record(first).msg_ids == ["m-1", "m-2"]
    j.close()


def test_codes_that_are_all_alike_are_stored_once_and_read_back_as_the_list(tmp_path):
    import doctest

    from buka_nb import journal

    assert doctest.testmod(journal).failed == 0
    j = Journal(tmp_path / "j.sqlite3")
    j.open_campaign("c", "sms", "fp", 6)
    j.plan("c", [BatchRecord(b, "planned", [2 * b, 2 * b + 1], ["1", "2"], ["o", "p"]) for b in range(3)])
    outcomes = {0: [0, 0], 1: [0, -9], 2: [None, None]}
    j.update("c", [(b, "done", {"codes": codes, "msg_ids": None, "reason": ""}, 1, 5.0) for b, codes in outcomes.items()])
    stored = dict(j._db.execute("SELECT batch, outcome FROM batch_outcomes").fetchall())
    assert '"codes":{"all":0,"n":2}' in stored[0] and '"codes":[0,-9]' in stored[1] and '{"all":null,"n":2}' in stored[2]
    assert {r.batch: r.outcome["codes"] for r in j.batches("c")} == outcomes
    j.close()
