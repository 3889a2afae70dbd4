"""The durable send journal (SQLite): every batch is written before its request leaves.

A campaign is a fingerprinted run of one channel over one input. Batches move
``planned → inflight → done | unknown | not_sent``; ``inflight`` is committed before the HTTP
request is sent, so a process killed at any moment leaves either a batch that was never attempted
(``planned``) or one whose outcome must be reconciled (``inflight``/``unknown``), never a silent
resend. Rows refused locally are stored too, so the result frame can be rebuilt from the journal
alone. WAL mode with ``synchronous=NORMAL``: a killed process loses nothing it committed (a power
cut may lose the last transactions).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .errors import ConfigError, InputError

SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY, channel TEXT NOT NULL, fingerprint TEXT NOT NULL, n_rows INTEGER,
    created_at REAL NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS batch_states (
    campaign_id TEXT NOT NULL, batch INTEGER NOT NULL, state TEXT NOT NULL,
    sent_at REAL, attempts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (campaign_id, batch)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS batch_rows (
    campaign_id TEXT NOT NULL, batch INTEGER NOT NULL,
    rows TEXT NOT NULL, recipients TEXT NOT NULL, order_ids TEXT NOT NULL, PRIMARY KEY (campaign_id, batch));
CREATE TABLE IF NOT EXISTS batch_outcomes (
    campaign_id TEXT NOT NULL, batch INTEGER NOT NULL, outcome TEXT NOT NULL, PRIMARY KEY (campaign_id, batch));
CREATE TABLE IF NOT EXISTS invalid (
    campaign_id TEXT NOT NULL, row INTEGER NOT NULL, recipient TEXT, code INTEGER, detail TEXT,
    PRIMARY KEY (campaign_id, row));
"""

#: Journals written before the state moved to its own table kept everything in one ``batches`` row,
#: rewritten whole (30-60 kB) on every state change; they are moved over when opened.
MIGRATE_V1 = """
INSERT OR IGNORE INTO batch_states SELECT campaign_id, batch, state, sent_at, attempts FROM batches;
INSERT OR IGNORE INTO batch_rows SELECT campaign_id, batch, rows, recipients, order_ids FROM batches;
INSERT OR IGNORE INTO batch_outcomes SELECT campaign_id, batch, outcome FROM batches WHERE outcome IS NOT NULL;
DROP TABLE batches;
"""

PLANNED, INFLIGHT, DONE, UNKNOWN, NOT_SENT = "planned", "inflight", "done", "unknown", "not_sent"


def default_path() -> Path:
    """``$BUKA_JOURNAL``, else ``~/.buka_nb/journal.sqlite3``."""
    env = os.environ.get("BUKA_JOURNAL")
    return Path(env) if env else Path.home() / ".buka_nb" / "journal.sqlite3"


@dataclass
class BatchRecord:
    """One journaled batch: global row positions, recipients and orderIds, and what became of it.

    ``outcome`` is ``{"codes": [...], "msg_ids": [...], "reason": str, "task_id": str}`` aligned
    to ``rows`` once the response is recorded (``msg_ids`` may be written as one comma-joined string:
    it is read back as a list).
    """

    batch: int
    state: str
    rows: list[int]
    recipients: list[str]  # or, on the way in, comma-joined text (see _pack)
    order_ids: list[str]
    sent_at: float | None = None
    attempts: int = 0
    outcome: dict[str, Any] = field(default_factory=dict)


class Journal:
    """A SQLite send journal; safe to share between the threads of one process."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_path()
        self._lock = threading.Lock()
        self._checkpoint_lock = threading.Lock()
        self._checkpointer: sqlite3.Connection | None = None
        try:
            if str(self.path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None, timeout=30)
            # A batch's rows and outcome (20-40 kB of text each) are written once; its state row is
            # updated twice, and every update writes whole pages to the WAL: 16 kB pages measured
            # fastest for the two together. Only a new file takes it.
            self._db.execute("PRAGMA page_size=16384")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (sqlite3.Error, OSError) as exc:  # not a database, a read-only folder, a locked file ...
            raise ConfigError(f"cannot use {self.path} as the send journal ({exc}); pass another file "
                              "(journal=..., CLI --journal PATH), or journal=None (--no-journal) to send "
                              "without one (no resume, no crash safety)") from None

    def _migrate(self) -> None:
        def old() -> bool:
            return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='batches'").fetchone()

        if not old():
            return
        with self._transaction():  # another process may be migrating the same file
            if old():
                for statement in MIGRATE_V1.strip().split(";\n"):
                    self._db.execute(statement.rstrip(";"))

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    def close(self) -> None:
        with self._checkpoint_lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
        with self._lock:
            self._db.close()

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database now, on a connection of its own.

        PASSIVE: it neither waits for nor blocks the writer. A campaign calls it from a worker thread
        after each chunk, so neither SQLite's automatic checkpoint (run by whichever commit crosses
        1000 pages, usually the event loop's) nor the one on close has much left to copy.
        """
        if str(self.path) == ":memory:":
            return
        with self._checkpoint_lock:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None,
                                                     timeout=30)
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, under the lock: committed when the block ends, rolled back if it raises."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _write(self, sql: str, args: Sequence[Any] | Iterable[Sequence[Any]] = (), many: bool = False) -> None:
        with self._transaction() as db:
            (db.executemany if many else db.execute)(sql, args)

    # -- campaigns --------------------------------------------------------------------------
    def open_campaign(self, campaign_id: str, channel: str, fingerprint: str, n_rows: int | None,
                      meta: dict[str, Any] | None = None) -> bool:
        """Create the campaign, or check a resumed one matches. Returns True when it already existed."""
        with self._lock:
            row = self._db.execute("SELECT channel, fingerprint FROM campaigns WHERE id=?", (campaign_id,)).fetchone()
        if row is not None:
            if row != (channel, fingerprint):
                raise InputError(
                    f"campaign {campaign_id!r} was started with different data or settings ({row[0]}); "
                    "pass a new campaign_id to send this as a new campaign")
            return True
        self._write("INSERT INTO campaigns (id, channel, fingerprint, n_rows, created_at, meta) VALUES (?,?,?,?,?,?)",
                    (campaign_id, channel, fingerprint, n_rows, time.time(), json.dumps(meta or {})))
        return False

    def campaign_meta(self, campaign_id: str) -> dict[str, Any] | None:
        """The settings a campaign was started with (``{"chunksize": ...}``), or None when it is not journaled."""
        with self._lock:
            row = self._db.execute("SELECT meta FROM campaigns WHERE id=?", (campaign_id,)).fetchone()
        return None if row is None else json.loads(row[0] or "{}")

    def campaigns(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.channel, c.n_rows, c.created_at, "
                "SUM(b.state='done'), SUM(b.state IN ('unknown','inflight')), COUNT(b.batch) "
                "FROM campaigns c LEFT JOIN batch_states b ON b.campaign_id=c.id GROUP BY c.id ORDER BY c.created_at").fetchall()
        keys = ("campaign_id", "channel", "rows", "created_at", "batches_done", "batches_unknown", "batches")
        return [dict(zip(keys, r)) for r in rows]

    # -- rows refused locally ---------------------------------------------------------------
    def add_invalid(self, campaign_id: str, rows: Sequence[int], recipients: Sequence[str | None],
                    codes: Sequence[int], details: Sequence[str]) -> None:
        self._write("INSERT OR IGNORE INTO invalid (campaign_id, row, recipient, code, detail) VALUES (?,?,?,?,?)",
                    [(campaign_id, int(r), p, int(c), d) for r, p, c, d in zip(rows, recipients, codes, details)],
                    many=True)

    def invalid(self, campaign_id: str) -> list[tuple[int, str | None, int, str]]:
        with self._lock:
            return self._db.execute("SELECT row, recipient, code, detail FROM invalid WHERE campaign_id=? ORDER BY row",
                                    (campaign_id,)).fetchall()

    # -- batches ----------------------------------------------------------------------------
    def plan(self, campaign_id: str, batches: Iterable[BatchRecord]) -> None:
        """Record batches as ``planned`` (one transaction); batches already journaled are kept."""
        batches = list(batches)
        with self._transaction() as db:
            db.executemany("INSERT OR IGNORE INTO batch_states (campaign_id, batch, state) VALUES (?,?,?)",
                           [(campaign_id, b.batch, PLANNED) for b in batches])
            db.executemany(
                "INSERT OR IGNORE INTO batch_rows (campaign_id, batch, rows, recipients, order_ids) VALUES (?,?,?,?,?)",
                [(campaign_id, b.batch, _pack(b.rows), _pack(b.recipients), _pack(b.order_ids)) for b in batches])

    def replan(self, campaign_id: str, batches: Iterable[BatchRecord]) -> None:
        """Store the rows of batches about to be sent again (a resumed campaign may order them anew)."""
        self._write("UPDATE batch_rows SET rows=?, recipients=?, order_ids=? WHERE campaign_id=? AND batch=?",
                    [(_pack(b.rows), _pack(b.recipients), _pack(b.order_ids), campaign_id, b.batch) for b in batches],
                    many=True)

    def mark_inflight(self, campaign_id: str, batch: int, sent_at: float) -> None:
        """Committed before the request is sent: from here on a crash means 'outcome unknown'."""
        self.update(campaign_id, inflight=(batch, sent_at))

    def record(self, campaign_id: str, batch: int, state: str, outcome: dict[str, Any], attempts: int,
               sent_at: float | None = None) -> None:
        """Record what became of a batch as soon as it is known (state and outcome in one transaction)."""
        self.update(campaign_id, [(batch, state, outcome, attempts, sent_at)])

    def update(self, campaign_id: str, outcomes: Sequence[tuple[int, str, dict[str, Any], int, float | None]] = (),
               inflight: tuple[int, float] | None = None) -> None:
        """Several :meth:`record` s (``(batch, state, outcome, attempts, sent_at)``), then one
        :meth:`mark_inflight` (``(batch, sent_at)``), in one transaction."""
        with self._transaction() as db:
            if outcomes:
                db.executemany("UPDATE batch_states SET state=?, attempts=attempts+?, sent_at=COALESCE(?, sent_at) "
                               "WHERE campaign_id=? AND batch=?",
                               [(state, attempts, at, campaign_id, batch) for batch, state, _, attempts, at in outcomes])
                db.executemany("INSERT OR REPLACE INTO batch_outcomes (campaign_id, batch, outcome) VALUES (?,?,?)",
                               [(campaign_id, batch, _dumps(_compact(outcome))) for batch, _, outcome, _, _ in outcomes])
            if inflight is not None:
                db.execute("UPDATE batch_states SET state=?, sent_at=? WHERE campaign_id=? AND batch=?",
                           (INFLIGHT, inflight[1], campaign_id, inflight[0]))

    def batches(self, campaign_id: str, states: Iterable[str] | None = None) -> list[BatchRecord]:
        sql = ("SELECT s.batch, s.state, r.rows, r.recipients, r.order_ids, s.sent_at, s.attempts, o.outcome "
               "FROM batch_states s JOIN batch_rows r USING (campaign_id, batch) "
               "LEFT JOIN batch_outcomes o USING (campaign_id, batch) WHERE s.campaign_id=?")
        args: list[Any] = [campaign_id]
        if states is not None:
            states = list(states)
            sql += f" AND s.state IN ({','.join('?' * len(states))})"
            args += states
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY s.batch", args).fetchall()
        return [BatchRecord(b, s, _unpack(r), _unpack(p), _unpack(o), t, a, _outcome(out))
                for b, s, r, p, o, t, a, out in rows]

    def claimed_ids(self, channel: str, since: float | None = None, until: float | None = None) -> set[str]:
        """Every platform id (msgId ...) the journaled batches of *channel* hold.

        Only batches sent between *since* and *until* (Unix seconds) when given. Reconciliation
        uses it: BUKA lists messages by number and time only, so a message another campaign sent to
        the same number is not this batch's, however well it fits the window.
        """
        sql = ("SELECT o.outcome FROM batch_outcomes o JOIN batch_states s USING (campaign_id, batch) "
               "JOIN campaigns c ON c.id = o.campaign_id WHERE c.channel=?")
        args: list[Any] = [channel]
        if since is not None:
            sql += " AND s.sent_at >= ?"
            args.append(since)
        if until is not None:
            sql += " AND s.sent_at <= ?"
            args.append(until)
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return {m for (text,) in rows for m in _outcome(text).get("msg_ids") or () if m}

    def states(self, campaign_id: str) -> dict[str, int]:
        with self._lock:
            return dict(self._db.execute("SELECT state, COUNT(*) FROM batch_states WHERE campaign_id=? GROUP BY state",
                                         (campaign_id,)).fetchall())


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()


def _pack(values: Any) -> str:
    """A batch's rows, recipients or orderIds as text: a JSON list, or (strings) joined by commas.

    SMS numbers and orderIds never hold a comma: they come as Arrow strings, joined in one
    vectorised call, or as text a planner joined already. A JSON list always starts with ``[``, so
    both read back.
    """
    if isinstance(values, str):
        return values
    if hasattr(values, "to_pylist"):  # an Arrow string array
        import pyarrow as pa
        import pyarrow.compute as pc

        if not len(values):
            return "[]"
        lists = pa.LargeListArray.from_arrays(pa.array([0, len(values)], pa.int64()), values.cast(pa.large_string()))
        return pc.binary_join(lists, pa.scalar(",", pa.large_string()))[0].as_py()
    return _dumps(values if hasattr(values, "dtype") else list(values))


def _compact(outcome: dict[str, Any]) -> dict[str, Any]:
    """An outcome whose codes are all the same stored as ``{"all": code, "n": rows}``.

    The usual answer accepts every row (1000 zeros, 2 kB of the ~22 kB written on the event loop
    per request); :func:`_outcome` gives the list back.

    >>> _compact({"codes": [0, 0, 0], "reason": "success"})
    {'codes': {'all': 0, 'n': 3}, 'reason': 'success'}
    >>> _compact({"codes": [0, -9]})
    {'codes': [0, -9]}
    """
    codes = outcome.get("codes")
    if type(codes) is list and len(codes) > 1 and codes.count(codes[0]) == len(codes):
        return {**outcome, "codes": {"all": codes[0], "n": len(codes)}}
    return outcome


def _outcome(text: str | None) -> dict[str, Any]:
    """A stored outcome with its codes and msgIds as lists (see :func:`_compact` and Outcome.to_journal).

    >>> _outcome('{"codes": {"all": 0, "n": 2}, "msg_ids": "a,b"}')
    {'codes': [0, 0], 'msg_ids': ['a', 'b']}
    """
    outcome = orjson.loads(text) if text else {}
    codes = outcome.get("codes")
    if isinstance(codes, dict):
        outcome["codes"] = [codes["all"]] * codes["n"]
    if isinstance(outcome.get("msg_ids"), str):
        outcome["msg_ids"] = outcome["msg_ids"].split(",")
    return outcome


def _unpack(text: str) -> list[Any]:
    return orjson.loads(text) if text.startswith("[") else text.split(",")
