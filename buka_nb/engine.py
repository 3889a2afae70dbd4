"""The one send path every channel shares: journal first, bounded concurrency, per-row outcomes.

A channel supplies a :class:`ChannelAdapter` (how to send one batch, how to read its response,
how to reconcile a batch whose outcome is unknown); the :class:`Sender` does the rest for all of
them: it journals each batch before its request leaves, keeps at most ``max_in_flight`` requests
under way, records every response (in the same transaction as the next batch's departure), stops
early on errors that would repeat for every later batch (bad credentials, a locked account, no
balance) and never resends a request whose outcome is unknown.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .catalog import lookup
from .envelope import Envelope
from .journal import DONE, NOT_SENT, UNKNOWN, BatchRecord, Journal

UNKNOWN_REASON = "Outcome unknown: the request was sent but no response arrived"
NOT_REACHED_REASON = "Not sent: BUKA could not be reached"


class Joined(Sequence[str]):
    """Strings kept comma-joined, as the platform's ids travel (none holds a comma): ``text == ",".join(self)``.

    A 1000-row batch's msgIds stay one string instead of 1000, for the journal to store as it is and
    the result frame to split with a whole chunk's others in one pass; indexing splits it once.
    """

    __slots__ = ("text", "_items")

    def __init__(self, text: str) -> None:
        self.text = text
        self._items: list[str] | None = None

    def _list(self) -> list[str]:
        if self._items is None:
            self._items = self.text.split(",")
        return self._items

    def __len__(self) -> int:
        return self.text.count(",") + 1

    def __getitem__(self, i: Any) -> Any:
        return self._list()[i]

    def __iter__(self) -> Iterator[str]:
        return iter(self._list())

    def __eq__(self, other: object) -> bool:
        return list(self) == list(other) if isinstance(other, (list, Joined)) else NotImplemented

    def __repr__(self) -> str:
        return f"Joined({self.text[:60]!r}{'...' if len(self.text) > 60 else ''}, n={len(self)})"


@dataclass
class Batch:
    """One request's worth of rows: global row positions, recipients, orderIds and channel payload."""

    number: int
    rows: list[int]
    recipients: list[str]
    order_ids: list[str]
    payload: dict[str, Any] = field(default_factory=dict)

    def record(self) -> BatchRecord:
        return BatchRecord(self.number, "planned", self.rows, self.recipients, self.order_ids)


@dataclass
class Outcome:
    """What became of one batch, aligned to its rows. ``codes[i]`` None means unknown."""

    state: str
    codes: list[int | None]
    msg_ids: list[str | None]  # or Joined
    reason: str = ""
    detail: str = ""
    task_id: str | None = None
    attempts: int = 0
    sent_at: float | None = None

    def to_journal(self) -> dict[str, Any]:
        msg_ids = self.msg_ids.text if isinstance(self.msg_ids, Joined) else self.msg_ids  # see Journal.batches
        return {"codes": self.codes, "msg_ids": msg_ids, "reason": self.reason, "detail": self.detail,
                "task_id": self.task_id}

    @classmethod
    def from_record(cls, rec: BatchRecord) -> Outcome:
        o = rec.outcome or {}
        n = len(rec.rows)
        return cls(rec.state, o.get("codes") or [None] * n, o.get("msg_ids") or [None] * n, o.get("reason", ""),
                   o.get("detail", ""), o.get("task_id"), rec.attempts, rec.sent_at)


class ChannelAdapter(ABC):
    """What the shared send path needs to know about one channel."""

    channel: str = ""

    @abstractmethod
    async def send(self, client: Any, batch: Batch) -> Envelope:
        """Send one batch with ``check=False``; transport errors propagate."""

    @abstractmethod
    def read(self, batch: Batch, envelope: Envelope) -> tuple[list[int], list[str | None]]:
        """Per-row codes and platform ids from a successful (status 0) response."""

    async def reconcile(self, client: Any, records: Sequence[BatchRecord], claimed: Collection[str] = frozenset()
                        ) -> dict[int, Outcome]:
        """Resolve batches whose outcome is unknown; return the ones it could resolve.

        *claimed*: platform ids other journaled batches hold, which are never these batches'.
        """
        return {}

    #: What a row whose outcome is unknown should tell the user to do (the result frame's ``detail``).
    unknown_advice: str = ("run the same campaign again later to reconcile it; it is not resent unless you pass "
                           "force_unknown=True (--force-unknown)")

    def resend_is_safe(self) -> bool:
        """True when the platform itself refuses a repeated row (so unknown batches may be resent)."""
        return False

    def task_id(self) -> str | None:
        return None


class Sender:
    """Sends batches through one adapter with bounded concurrency, journaling every step."""

    def __init__(self, adapter: ChannelAdapter, client: Any, *, journal: Journal | None, campaign_id: str,
                 max_in_flight: int = 8, on_batch: Callable[[Batch, Outcome], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.adapter = adapter
        self.client = client
        self.journal = journal
        self.campaign_id = campaign_id
        self.max_in_flight = max(1, max_in_flight)
        self.on_batch = on_batch
        self.clock = clock
        self.stopped: errors.ApiError | None = None
        self.stopped_after: int | None = None

    def start(self) -> None:
        """Start ``max_in_flight`` workers; :meth:`submit` feeds them, :meth:`close` ends them."""
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._unjournaled: list[tuple[Any, ...]] = []  # outcomes the next transaction writes (see _journal)
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.max_in_flight)]

    def submit(self, batches: Sequence[Batch]) -> asyncio.Future[dict[int, Outcome]]:
        """Queue *batches* behind those already queued; the future resolves with all their outcomes."""
        done: asyncio.Future[dict[int, Outcome]] = asyncio.get_running_loop().create_future()
        outcomes: dict[int, Outcome] = {}
        left = [len(batches)]
        if not batches:
            done.set_result(outcomes)
        for batch in batches:
            self._queue.put_nowait((batch, outcomes, left, done))
        return done

    async def close(self, *, cancel: bool = False) -> None:
        """Let the workers finish what is queued, or (*cancel*) stop them now: the campaign is abandoned."""
        try:
            if not cancel:
                for _ in self._workers:
                    self._queue.put_nowait(None)
                try:
                    await asyncio.gather(*self._workers)
                    return
                except BaseException:
                    for task in self._workers:
                        task.cancel()
                    raise
            for task in self._workers:
                task.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        finally:
            self._write_journal()  # the outcomes that came in since the last departure

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            batch, outcomes, left, done = item
            if done.done():  # an earlier batch of the same submission failed unexpectedly
                continue
            try:
                outcome = await self._one(batch)
            except Exception as exc:  # a bug, not an outcome: the submitter re-raises it
                done.set_exception(exc)
                continue
            outcomes[batch.number] = outcome
            if self.on_batch:
                self.on_batch(batch, outcome)
            left[0] -= 1
            if left[0] == 0:
                done.set_result(outcomes)

    def _stopped_outcome(self, batch: Batch) -> Outcome:
        err = self.stopped
        assert err is not None
        detail = (f"not sent: the campaign stopped after batch {self.stopped_after} failed with "
                  f"{err.code} ({err.reason}); fix that, then run the same campaign again to send these rows")
        return Outcome(NOT_SENT, [err.code] * len(batch.rows), [None] * len(batch.rows), err.reason, detail)

    async def _one(self, batch: Batch) -> Outcome:
        n = len(batch.rows)
        if self.stopped is not None:
            outcome = self._stopped_outcome(batch)
            self._journal(batch, outcome)
            return outcome
        sent_at = self.clock()
        self._write_journal(inflight=(batch.number, sent_at))
        try:
            env = await self.adapter.send(self.client, batch)
        except errors.NotSentError as exc:
            outcome = Outcome(NOT_SENT, [None] * n, [None] * n, NOT_REACHED_REASON,
                              f"not sent: {exc}; run the same campaign again to send these rows",
                              attempts=getattr(exc, "attempts", 1), sent_at=sent_at)
        except errors.OutcomeUnknownError as exc:
            outcome = Outcome(UNKNOWN, [None] * n, [None] * n, UNKNOWN_REASON,
                              f"{exc}; {self.adapter.unknown_advice}",
                              attempts=getattr(exc, "attempts", 1), sent_at=sent_at)
        except errors.ApiError as exc:  # a stale clock that re-signing could not fix, or similar
            outcome = self._refused(batch, exc.code, exc.reason, getattr(exc, "attempts", 1), sent_at)
        else:
            if env.ok:
                codes, msg_ids = self.adapter.read(batch, env)
                outcome = Outcome(DONE, list(codes), msg_ids if isinstance(msg_ids, Joined) else list(msg_ids),
                                  env.reason, task_id=self.adapter.task_id(), attempts=env.attempts, sent_at=sent_at)
            else:
                outcome = self._refused(batch, env.code, env.reason, env.attempts, sent_at)
        self._journal(batch, outcome)
        return outcome

    def _refused(self, batch: Batch, code: int, reason: str, attempts: int, sent_at: float) -> Outcome:
        info = lookup(self.adapter.channel, code)
        if info.fatal and self.stopped is None:
            from .envelope import error_for
            self.stopped = error_for(self.adapter.channel, code, reason or info.reason)
            self.stopped_after = batch.number
        n = len(batch.rows)
        return Outcome(DONE, [code] * n, [None] * n, reason or info.reason, attempts=attempts, sent_at=sent_at,
                       task_id=self.adapter.task_id())

    def _journal(self, batch: Batch, outcome: Outcome) -> None:
        """Outcomes are written with the next batch marked in flight (or when the sender closes): one
        transaction instead of two. Until then a crash leaves the batch ``inflight``, to be reconciled."""
        if self.journal is not None:
            self._unjournaled.append((batch.number, outcome.state, outcome.to_journal(), outcome.attempts,
                                      outcome.sent_at))

    def _write_journal(self, inflight: tuple[int, float] | None = None) -> None:
        if self.journal is not None and (self._unjournaled or inflight):
            self.journal.update(self.campaign_id, self._unjournaled, inflight)
            self._unjournaled = []


def needs_sending(record: BatchRecord, channel: str) -> bool:
    """A journaled batch that was never accepted or refused row by row: safe to send (again).

    ``planned`` and ``not_sent`` batches never reached BUKA; a ``done`` batch refused as a whole with
    a code that would not repeat by itself (balance, throttling, platform) was not acted on either.
    """
    if record.state in ("planned", NOT_SENT):
        return True
    if record.state == DONE:
        codes = {c for c in record.outcome.get("codes", []) if c is not None}
        if len(codes) == 1:
            code = codes.pop()
            info = lookup(channel, code)
            whole = all(m is None for m in record.outcome.get("msg_ids", []))
            return code != 0 and whole and (info.fatal or info.retryable)
    return False
