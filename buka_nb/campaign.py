"""Running one campaign of any channel: plan each chunk, resume from the journal, send, collect results.

This is the orchestration shared by SMS, email and voice. A channel provides a
:class:`Planner` (pure: validate a chunk and cut it into batches) on top of its
:class:`~buka_nb.engine.ChannelAdapter` (I/O); :func:`run_campaign` does the rest: campaign ids and
fingerprints, reconciling unknown batches *before* anything is resent, skipping rows already
acknowledged, progress, and streaming result chunks to a sink so memory stays flat.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
import warnings
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._aio import run_sync
from .engine import UNKNOWN_REASON, Batch, ChannelAdapter, Outcome, Sender, needs_sending
from .errors import InputError
from .journal import DONE, INFLIGHT, UNKNOWN, Journal
from .results import ResultBuilder, ResultStore
from .schema import conform

if TYPE_CHECKING:
    import pandas as pd

    from .client import AsyncBukaClient, BukaClient
    from .credentials import Credentials

#: ``journal=`` default: the journal at :func:`buka_nb.journal.default_path`.
DEFAULT = "default"


@dataclass
class Plan:
    """One chunk, validated and cut into batches. Positions are global (chunk offset included)."""

    batches: list[Batch]
    invalid_rows: list[int] = field(default_factory=list)
    invalid_recipients: list[str | None] = field(default_factory=list)
    invalid_codes: list[int] = field(default_factory=list)
    invalid_details: list[str] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)


class Planner(ChannelAdapter):
    """A channel adapter that can also plan: the pure half of a channel."""

    #: Prefix of the per-row orderIds; :func:`run_campaign` sets it from the campaign fingerprint.
    order_prefix: str = "o"

    @abstractmethod
    def plan(self, chunk: pd.DataFrame, offset: int, first_batch: int, seen: Any) -> Plan:
        """Validate *chunk* and cut its valid rows into batches numbered from *first_batch*.

        *seen* (from :meth:`new_seen`) holds each recipient already planned in this campaign with
        the row where it first appeared, for de-duplication across chunks. Rows are told apart by
        position, never by label: an index may repeat a label, or hold NaN.
        """

    def request_rows(self) -> int | None:
        """Rows per request when requests are cut from consecutive valid rows (else None: grouped)."""
        return None

    def new_seen(self, rows: int | None = None) -> Any:
        """The de-duplication state :meth:`plan` shares across a campaign's chunks (a dict by default).

        *rows*, when known, is how many rows the campaign has: a size hint.
        """
        return {}

    def options(self) -> dict[str, Any]:
        """Settings that change what is sent; part of the campaign fingerprint."""
        return {}

    def required_columns(self) -> tuple[str, ...]:
        """Columns every input must have."""
        return ()

    def sent_columns(self, frame: pd.DataFrame) -> list[str]:
        """The columns whose values reach BUKA (or decide what does): a campaign's fingerprint covers these only."""
        return list(dict.fromkeys(self.required_columns()))

    def check_columns(self, frame: pd.DataFrame, source: str = "the frame") -> None:
        """Raise an :class:`~buka_nb.errors.InputError` naming a missing column and the fix."""
        from .io import require_columns

        require_columns(frame, self.required_columns(), source=source)

    def batch_stats(self, batch: Batch) -> dict[str, int]:
        """Extra counts a dry run reports for a batch (SMS: messages and segments per encoding)."""
        return {}

    async def begin(self, client: Any, journal: Journal | None, campaign_id: str) -> None:
        """Before the first batch (voice creates or finds its task here)."""

    async def end(self, client: Any) -> None:
        """After the last batch (voice starts its task here)."""


def fingerprint(channel: str, data_digest: str, options: dict[str, Any], base_url: str, api_key: str) -> str:
    """A stable hash of what a campaign sends, where, and how it is batched."""
    blob = json.dumps({"channel": channel, "data": data_digest, "options": options, "url": base_url,
                       "key": api_key}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def frame_digest(frame: pd.DataFrame) -> str:
    """A content hash of a DataFrame (values and index), fast for millions of rows."""
    import pandas as pd

    hashed = pd.util.hash_pandas_object(frame.astype("string"), index=True).to_numpy()
    return hashlib.sha256(hashed.tobytes() + "|".join(map(str, frame.columns)).encode()).hexdigest()


def resolve_journal(journal: Journal | str | Path | None) -> Journal | None:
    """A :class:`Journal` from what a send function was given: None/False for none, ``DEFAULT`` for the default file."""
    if journal is None or journal is False:
        return None
    if isinstance(journal, Journal):
        return journal
    return Journal(None if journal == DEFAULT else journal)


def run_campaign(planner: Planner, chunks: Iterable[tuple[int, pd.DataFrame]], *, data_digest: str,
                 n_rows: int | None, credentials: Credentials | None = None,
                 client: BukaClient | AsyncBukaClient | None = None, journal: Journal | str | Path | None = DEFAULT,
                 campaign_id: str | None = None, max_in_flight: int = 8, rate_limit: float | None = None,
                 timeout: float = 15.0, force_unknown: bool = False, progress: bool | None = None,
                 sink: Callable[[pd.DataFrame], None] | None = None,
                 patch: Callable[[list[pd.DataFrame]], None] | None = None, chunksize: int | None = None,
                 rechunk: Callable[[int | None], Iterable[tuple[int, pd.DataFrame]]] | None = None,
                 legacy_digest: str | None = None) -> pd.DataFrame | None:
    """Send every chunk; return the full result frame, or None when *sink* received the chunks.

    *chunks* were cut at *chunksize* rows. Where a batch ends depends on where a chunk does, so a
    journaled campaign resumes with the chunk size it started with: *rechunk* cuts the input again
    at that size when this run asked for another (a warning says so). *legacy_digest* is the data
    digest older versions fingerprinted the same input with; a campaign journaled under it resumes.
    """
    from .client import AsyncBukaClient, BukaClient
    from .credentials import Credentials as Creds

    owned = client is None
    if client is None:
        creds = Creds.resolve(credentials)
    else:
        creds = client.credentials
    fp = fingerprint(planner.channel, data_digest, planner.options(), creds.base_url, creds.api_key)
    jrn = resolve_journal(journal)
    if campaign_id is None and legacy_digest is not None and jrn is not None:
        old = fingerprint(planner.channel, legacy_digest, planner.options(), creds.base_url, creds.api_key)
        if jrn.campaign_meta(f"{planner.channel}-{old[:16]}") is not None:
            fp = old
    campaign_id = campaign_id or f"{planner.channel}-{fp[:16]}"
    planner.order_prefix = f"{fp[:8]}-"  # stable across resumes, distinct between campaigns
    started = jrn.campaign_meta(campaign_id) if jrn is not None else None
    if started is not None and "chunksize" in started and started["chunksize"] != chunksize and rechunk is not None:
        warnings.warn(f"campaign {campaign_id} resumes in chunks of {started['chunksize'] or 'all'} rows, as it "
                      f"started (chunksize={chunksize} is not used): its requests are the ones the journal holds",
                      stacklevel=3)
        chunks, chunksize = rechunk(started["chunksize"]), started["chunksize"]

    async def main(async_client: AsyncBukaClient) -> pd.DataFrame | None:
        return await _campaign(planner, chunks, async_client, jrn, campaign_id, fp, n_rows, max_in_flight,
                               force_unknown, progress, sink, {"chunksize": chunksize}, patch)

    async def with_own_client() -> pd.DataFrame | None:
        async with AsyncBukaClient(creds, timeout=timeout, rate_limit=rate_limit,
                                   max_connections=max(max_in_flight, 1)) as c:
            return await main(c)

    try:
        with _campaign_settings():
            if owned:
                result = run_sync(with_own_client())
            elif isinstance(client, BukaClient):
                result = client._runner.run(main(client._async))
            else:
                result = run_sync(main(client))
    finally:
        if jrn is not None and not isinstance(journal, Journal):
            jrn.close()
    if result is not None:
        result.attrs["campaign_id"] = campaign_id
    return result


_SETTINGS_LOCK = threading.Lock()
_SAVED: list[tuple[tuple[int, int, int], Any]] = []  # gc thresholds and Arrow pool before the first running campaign
_RUNNING = [0]
#: Allocations between two young-generation collections while a campaign runs (Python's default: 700).
#: Measured at 10^6 rows (rotated A/B runs): 700 → 50,000 saved ~0.3 s of CPU but let streaming peak
#: RSS grow by ~70 MB; 5,000 saves ~0.25 s and keeps all but ~25 MB of the memory.
CAMPAIGN_GC_THRESHOLD = 5_000


@contextmanager
def _campaign_settings() -> Iterator[None]:
    """Two process-wide settings while campaigns run, put back when the last one ends.

    * Cyclic garbage is collected less often. Every response is decoded into ~1000 dicts that
      reference counting frees at once, yet each still counts towards the next collection, so
      decoding one set off several, and each full one walks the whole heap (pandas, pyarrow, a
      notebook's own objects). What did form cycles, httpx's requests and responses, no longer
      does: requests go through httpcore, whose responses form none, and on the httpx path
      (:class:`~buka_nb.transport.HttpxWire`) each response's link to its stream is cut once read.
    * Arrow allocates from the system allocator instead of its default (mimalloc), unless
      ``ARROW_DEFAULT_MEMORY_POOL`` chose one. Each chunk's Arrow buffers (CSV columns, cleaned
      numbers, result strings) are freed a chunk later; mimalloc gave their memory back to the OS
      and took fresh huge pages for the next chunk's, ~155 of them (310 MB, each zeroed by the
      kernel) at 10^6 rows. glibc's heap keeps it: ~11% less client CPU in 12 rotated A/B rounds
      on the benchmark machine (benchmarks/RESULTS.md). A buffer is always freed by the pool that
      allocated it.
    """
    import gc
    import os

    import pyarrow as pa

    with _SETTINGS_LOCK:
        if not _RUNNING[0]:
            thresholds = gc.get_threshold()
            _SAVED[:] = [(thresholds, pa.default_memory_pool())]
            gc.set_threshold(max(CAMPAIGN_GC_THRESHOLD, thresholds[0]), *thresholds[1:])
            if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
                pa.set_memory_pool(pa.system_memory_pool())
        _RUNNING[0] += 1
    try:
        yield
    finally:
        with _SETTINGS_LOCK:
            _RUNNING[0] -= 1
            if not _RUNNING[0]:
                thresholds, pool = _SAVED.pop()
                gc.set_threshold(*thresholds)
                pa.set_memory_pool(pool)


async def _campaign(planner: Planner, chunks: Iterable[tuple[int, pd.DataFrame]], client: AsyncBukaClient,
                    journal: Journal | None, campaign_id: str, fp: str, n_rows: int | None, max_in_flight: int,
                    force_unknown: bool, progress: bool | None, sink: Callable[[pd.DataFrame], None] | None,
                    meta: dict[str, Any] | None = None,
                    patch: Callable[[list[pd.DataFrame]], None] | None = None) -> pd.DataFrame | None:
    import pandas as pd

    channel = planner.channel
    records: dict[int, Any] = {}
    if journal is not None and journal.open_campaign(campaign_id, channel, fp, n_rows, meta):
        records = {r.batch: r for r in journal.batches(campaign_id)}
        # unknown or in flight, or reconciled before with rows BUKA did not list yet
        open_records = [r for r in records.values() if r.state in (UNKNOWN, INFLIGHT) or _partly_unknown(r)]
        if open_records:  # reconcile before anything is resent
            resolved = await _reconcile(planner, client, journal, open_records)
            for rec in open_records:
                outcome = resolved.get(rec.batch)
                if outcome is None and rec.state == INFLIGHT:  # its run died while the request was under way
                    outcome = _unresolved(rec, planner)
                if outcome is not None:
                    journal.record(campaign_id, rec.batch, outcome.state, outcome.to_journal(), 0, outcome.sent_at)
                    records[rec.batch] = _rec(rec, outcome)
    await planner.begin(client, journal, campaign_id)
    bar = _progress(progress, n_rows)
    sender = Sender(planner, client, journal=journal, campaign_id=campaign_id, max_in_flight=max_in_flight,
                    on_batch=(lambda b, o: bar.update(len(b.rows))) if bar is not None else None)
    seen = planner.new_seen(n_rows)
    parts: list[ResultBuilder | pd.DataFrame] = []
    store = ResultStore(n_rows) if sink is None and n_rows else None  # the returned frame's numeric columns
    unknown: list[tuple[ResultBuilder, Batch]] = []
    next_batch = 0

    async def finish(builder: ResultBuilder, submitted: list[tuple[list[Batch], Any]]) -> None:
        for to_send, queued in submitted:
            outcomes = await queued
            for batch in to_send:
                builder.add_batch(batch, outcomes[batch.number])
                if outcomes[batch.number].state == UNKNOWN:
                    unknown.append((builder, batch))
        # the journal's log is checkpointed in a thread while the frame is built (SQLite releases the GIL)
        checkpoint = [asyncio.to_thread(journal.checkpoint)] if journal is not None else []
        if sink is not None:
            await asyncio.gather(_step(lambda: sink(builder.frame())), *checkpoint)
        elif unknown and unknown[-1][0] is builder:
            parts.append(builder)  # the reconciliation below may still resolve some of its rows
            await asyncio.gather(*checkpoint)
        else:  # now, so the chunk's arrays go before the next chunk's
            frame, *_ = await asyncio.gather(_step(builder.frame, store), *checkpoint)
            parts.append(frame)

    # Chunk k+1 is read and planned while chunk k's requests are in flight, so the platform is not
    # left idle between chunks; at most one chunk waits ahead, so memory stays flat. Reading,
    # planning and building frames run on the event loop itself (see _step), after the requests
    # already queued have gone out.
    sender.start()
    rows = iter(chunks)
    try:
        ahead: tuple[ResultBuilder, list[tuple[list[Batch], Any]]] | None = None
        while (item := await _step(next, rows, None)) is not None:
            offset, chunk = item
            builder = ResultBuilder(channel, chunk.index, offset)
            submitted = []
            async for plan in _plans(planner, chunk, offset, next_batch, seen,
                                     max_in_flight if ahead is None else 0):
                next_batch += len(plan.batches)
                if plan.invalid_rows:
                    builder.add_invalid(plan.invalid_rows, plan.invalid_recipients, plan.invalid_codes,
                                        plan.invalid_details)
                if bar is not None:
                    bar.update(len(plan.invalid_rows))
                if journal is not None:
                    _journal_plan(journal, campaign_id, plan)
                to_send = []
                for batch in plan.batches:
                    rec = records.get(batch.number)
                    if rec is not None and sorted(map(int, rec.rows)) != sorted(map(int, batch.rows)):
                        # planned differently from the run that journaled it: sending by number could repeat rows
                        raise InputError(f"campaign {campaign_id!r}: request {batch.number} holds other rows than "
                                         "the journal has for it (the input was cut into chunks differently); "
                                         "run it again with the chunk size it started with, or pass a new "
                                         "campaign_id to send it as a new campaign")
                    if rec is None or needs_sending(rec, channel) or (
                            rec.state in (UNKNOWN, INFLIGHT) and (force_unknown or planner.resend_is_safe())):
                        to_send.append(batch)
                    else:  # its outcome is aligned to the rows the journal holds for it
                        builder.add_batch(Batch(rec.batch, rec.rows, rec.recipients, rec.order_ids),
                                          Outcome.from_record(rec))
                        if bar is not None:
                            bar.update(len(batch.rows))
                resent = [b.record() for b in to_send if b.number in records]
                if resent and journal is not None:  # what goes out now is what the journal must hold
                    journal.replan(campaign_id, resent)
                submitted.append((to_send, sender.submit(to_send)))
            if ahead is not None:
                await finish(*ahead)
            ahead = (builder, submitted)
        if ahead is not None:
            await finish(*ahead)
    except BaseException:
        await sender.close(cancel=True)
        raise
    await sender.close()
    await planner.end(client)
    if bar is not None:
        bar.close()
    # one reconciliation pass for batches that became unknown during this run
    changed: list[ResultBuilder] = []
    if unknown and journal is not None:
        recs = {r.batch: r for r in journal.batches(campaign_id, [UNKNOWN])}
        resolved = await _reconcile(planner, client, journal, list(recs.values()))
        for b, batch in unknown:
            if batch.number in resolved:
                outcome = resolved[batch.number]
                journal.record(campaign_id, batch.number, outcome.state, outcome.to_journal(), 0, outcome.sent_at)
                outcome.attempts = recs[batch.number].attempts
                b.add_batch(batch, outcome)
                changed += [b] if b not in changed else []
    if sink is not None:
        if changed and patch is not None:  # those chunks went out with rows unknown: their rows again, as now
            patch([b.frame() for b in changed])
        return None
    frames = [p.frame(store) if isinstance(p, ResultBuilder) else p for p in parts]
    if not frames:
        return conform(pd.DataFrame(index=pd.RangeIndex(0)))
    if len(frames) == 1:
        return frames[0]
    return store.concat(frames) if store is not None else pd.concat(frames)


#: Turns of the event loop before a data step: a request handed to httpcore's pool reaches its socket
#: 6 turns later on a kept-alive connection, ~11 on a new one (its anyio locks and checkpoints each
#: yield once); tests/test_send_engine.py fails below 6.
STEP_TURNS = 16


async def _step(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the event loop, once the requests already queued are on the wire: reading a
    chunk, planning it, building its frame.

    The platform works on those requests while this runs. These steps once ran in a worker
    thread, to overlap with the event loop where Arrow and numpy release the GIL; at 10^6 rows
    against the simulator the overlap bought no wall time, and the two threads handing the GIL to
    each other cost ~12% more client CPU (12 rotated A/B rounds, benchmarks/RESULTS.md). With a
    real network's latency a step of 30-60 ms only delays the answers that arrive meanwhile.
    """
    for _ in range(STEP_TURNS):
        await asyncio.sleep(0)
    return fn(*args)


async def _plans(planner: Planner, chunk: pd.DataFrame, offset: int, first_batch: int, seen: Any,
                 head_requests: int) -> Any:
    """Plan a chunk (see :func:`_step`); the first chunk's opening requests first, so sending starts at once.

    Only for planners whose requests are cut from consecutive valid rows (``request_rows``), where
    a row's fate depends on it and the rows before it: the head's complete requests are exactly
    the whole chunk's first requests, and the rest is planned from the first row they do not hold.
    """
    size = planner.request_rows() if head_requests else None
    # one request's rows to spare: refused rows and an unfinished last request must not leave a sender idle
    head = (size or 0) * (head_requests + 1)
    if not size or len(chunk) <= 2 * head:
        yield await _step(planner.plan, chunk, offset, first_batch, seen)
        return
    plan = await _step(planner.plan, chunk.iloc[:head], offset, first_batch, seen)
    cut = head
    if plan.batches and len(plan.batches[-1].rows) < size:  # unfinished: planned again with the rest
        cut = int(min(plan.batches.pop().rows)) - offset
    keep = [k for k, row in enumerate(plan.invalid_rows) if row - offset < cut]
    if len(keep) < len(plan.invalid_rows):
        plan.invalid_rows, plan.invalid_recipients, plan.invalid_codes, plan.invalid_details = (
            [values[k] for k in keep] for values in (plan.invalid_rows, plan.invalid_recipients,
                                                     plan.invalid_codes, plan.invalid_details))
    yield plan
    yield await _step(planner.plan, chunk.iloc[cut:], offset + cut, first_batch + len(plan.batches), seen)


def _journal_plan(journal: Journal, campaign_id: str, plan: Plan) -> None:
    """A plan's refused rows and its batches, journaled before any of its batches is sent."""
    if plan.invalid_rows:
        journal.add_invalid(campaign_id, plan.invalid_rows, plan.invalid_recipients, plan.invalid_codes,
                            plan.invalid_details)
    journal.plan(campaign_id, [b.record() for b in plan.batches])


#: How far around the reconciled batches' departures other batches' ids are gathered: a message BUKA
#: lists for a number may have been sent days before (getSentRcd's window reaches a day past them).
_CLAIM_MARGIN = 7 * 86_400.0


async def _reconcile(planner: Planner, client: Any, journal: Journal, records: list[Any]) -> dict[int, Outcome]:
    """The planner's reconciliation, told which platform ids other journaled batches already hold.

    BUKA finds messages by number and time, not by orderId: a message another campaign (or another
    batch) sent to the same number is theirs, never this batch's. The batches reconciled here hold
    no ids of their own yet (their outcome is unknown).
    """
    sent = [r.sent_at for r in records if r.sent_at]
    before = {r.batch: list((r.outcome or {}).get("msg_ids") or []) for r in records}
    own = {m for ids in before.values() for m in ids if m}  # a partly reconciled batch's ids are its own
    claimed = journal.claimed_ids(planner.channel, min(sent) - _CLAIM_MARGIN if sent else None,
                                  max(sent) + _CLAIM_MARGIN if sent else None) - own
    resolved = await planner.reconcile(client, records, claimed)
    for batch, outcome in list(resolved.items()):
        found = before.get(batch) or []
        if not any(found):
            continue
        ids = [old or new for old, new in zip(found, outcome.msg_ids)]  # what was found before stays
        if ids == found:  # nothing new: the journal already says all there is
            del resolved[batch]
            continue
        resolved[batch] = dataclass_replace(
            outcome, msg_ids=ids, codes=[0 if m else None for m in ids],
            detail="" if all(ids) else "request reached BUKA; rows without a msgId are not in getSentRcd yet")
    return resolved


def _partly_unknown(record: Any) -> bool:
    """A batch reconciled before with some rows BUKA did not list yet: those rows are looked for again."""
    return record.state == DONE and any(c is None for c in (record.outcome or {}).get("codes") or ())


def _unresolved(record: Any, planner: Planner) -> Outcome:
    """A batch a previous run marked in flight and died before its answer was recorded, which
    reconciliation could not find either: its outcome is unknown (it may or may not have reached BUKA)."""
    n = len(record.rows)
    return Outcome(UNKNOWN, [None] * n, [None] * n, UNKNOWN_REASON,
                   f"the run sending it ended before its answer was recorded: {planner.unknown_advice}",
                   attempts=record.attempts, sent_at=record.sent_at)


def _rec(record: Any, outcome: Outcome) -> Any:
    record.state, record.outcome = outcome.state, outcome.to_journal()
    return record


def _progress(progress: bool | None, total: int | None) -> Any:
    if progress is False or (progress is None and (total or 0) < 20_000):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="row", desc="sending")


def send_frame(planner: Planner, frame: pd.DataFrame, *, chunksize: int | None = None,
               **campaign: Any) -> pd.DataFrame:
    """Send an in-memory frame through *planner*: what every channel's ``send_<channel>`` does."""
    planner.check_columns(frame)
    # a column nothing reads (a note, last run's results merged in) must not make the same send a new campaign
    digest = frame_digest(frame[planner.sent_columns(frame)])
    return run_campaign(planner, iter_frame(frame, chunksize), data_digest=digest, n_rows=len(frame),
                        chunksize=chunksize, rechunk=lambda size: iter_frame(frame, size), **campaign)


def plan_frame(planner: Planner, frame: pd.DataFrame) -> DryRun:
    """Dry-run an in-memory frame through *planner*."""
    planner.check_columns(frame)
    return dry_run(planner, iter_frame(frame, None))


def run_csv(planner: Planner, path: str | Path, *, out: str | Path | None = None, chunksize: int = 100_000,
            encoding: str | None = None, dry_run_only: bool = False, **campaign: Any) -> pd.DataFrame | Path | DryRun:
    """Send (or dry-run) a CSV through *planner*, streaming it in chunks.

    The header is checked before anything is sent (or a voice task created). With ``out=``
    (``.csv`` or ``.parquet``) results are written chunk by chunk and the path is returned, so
    memory stays flat however large the file; otherwise the result frame is returned.
    """
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    from .io import iter_recipients, scan_file
    from .stream import ResultSink

    with _campaign_settings():  # from the first chunk on (see run_campaign)
        with ThreadPoolExecutor(1) as pool:
            # the file's digest and row count come from one pass beside the first chunk's parsing (both release the GIL)
            scanned = pool.submit(scan_file, path) if not dry_run_only else None
            reader = iter_recipients(path, chunksize=chunksize, encoding=encoding)
            first = next(reader)
            planner.check_columns(first[1], Path(path).name)
            chunks = itertools.chain([first], reader)
            if scanned is None:
                return dry_run(planner, chunks)
            digest, n_rows = scanned.result()
        # the chunk size is not part of the campaign (a resume uses the one it started with); versions
        # before 0.1.1 put it in the digest
        options = dict(data_digest=digest, n_rows=n_rows, chunksize=chunksize, legacy_digest=f"{digest}/{chunksize}",
                       rechunk=lambda size: (reader.close(), iter_recipients(path, chunksize=size or chunksize,
                                                                             encoding=encoding))[1])
        if out is None:
            return run_campaign(planner, chunks, **options, **campaign)
        with ResultSink(out) as sink:
            run_campaign(planner, chunks, sink=sink.write, patch=sink.patch, **options, **campaign)
        return Path(out)


def iter_frame(frame: pd.DataFrame, chunksize: int | None) -> Iterator[tuple[int, pd.DataFrame]]:
    """Split an in-memory frame into ``(offset, chunk)`` pairs."""
    if not chunksize or len(frame) <= chunksize:
        yield 0, frame
        return
    for start in range(0, len(frame), chunksize):
        yield start, frame.iloc[start:start + chunksize]


class DryRun:
    """What a send would do: per-row results (valid rows ``not_sent``) and a summary dict."""

    def __init__(self, results: pd.DataFrame, summary: dict[str, Any]) -> None:
        self.results, self.summary = results, summary

    def __repr__(self) -> str:
        s = self.summary
        return f"DryRun(rows={s['rows']}, valid={s['valid']}, invalid={s['invalid']}, requests={s['requests']})"

    def invalid(self) -> pd.DataFrame:
        """The rows that would be refused, with code, reason and the fix in ``detail``."""
        return self.results[(self.results.state == "invalid").fillna(False)]


def dry_run(planner: Planner, chunks: Iterable[tuple[int, pd.DataFrame]]) -> DryRun:
    """Plan every chunk without sending: rows, requests, invalid rows by reason, channel extras."""
    import pandas as pd

    frames, stats = [], {"rows": 0, "valid": 0, "invalid": 0, "requests": 0}
    extra: dict[str, int] = {}
    seen = planner.new_seen()
    next_batch = 0
    for offset, chunk in chunks:
        plan = planner.plan(chunk, offset, next_batch, seen)
        next_batch += len(plan.batches)
        builder = ResultBuilder(planner.channel, chunk.index, offset)
        builder.add_invalid(plan.invalid_rows, plan.invalid_recipients, plan.invalid_codes, plan.invalid_details)
        for batch in plan.batches:
            n = len(batch.rows)
            builder.add_batch(batch, Outcome("not_sent", [None] * n, [None] * n, "Dry run: not sent",
                                             f"dry run: would be sent in request {batch.number}"))
            for key, value in planner.batch_stats(batch).items():
                extra[key] = extra.get(key, 0) + value
        frames.append(builder.frame())
        stats["rows"] += len(chunk)
        stats["valid"] += sum(len(b.rows) for b in plan.batches)
        stats["invalid"] += len(plan.invalid_rows)
        stats["requests"] += len(plan.batches)
    results = pd.concat(frames) if len(frames) > 1 else frames[0]
    invalid = results[(results.state == "invalid").fillna(False)]
    stats["invalid_by_reason"] = {(int(c), str(r)): int(n) for (c, r), n in
                                  invalid.groupby(["code", "reason"]).size().sort_values(ascending=False).items()}
    stats["extra"] = extra
    return DryRun(results, stats)


__all__ = ["DryRun", "dry_run", "plan_frame", "run_csv", "send_frame", "DEFAULT", "Plan", "Planner", "fingerprint", "frame_digest", "iter_frame", "run_campaign", "DONE"]
