"""Pure simulator state: the sim clock, message ids, seeded delivery, scenarios, stats, settings.

No HTTP here. Every mutation happens under ``SimState.lock`` (one ``RLock``): the server's handler
threads validate outside it and take it only to charge, allocate ids and append to the ledger.
Accounts and money live in :mod:`.accounts`.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import re
import threading
import time
import zlib
from array import array
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import numpy as np

from .accounts import Account, default_accounts, money
from .config import DeliveryModel, Fault, FaultPlan, Scenario
from .columns import IdRange
from .ledger import ID_COUNTER_BASE, ID_COUNTER_SPAN, Ledger

#: BUKA's platform time zone: every formatted time is ``+08:00`` (samples in buka-api.md).
TZ = timezone(timedelta(hours=8))


def iso8(t: float) -> str:
    """ISO-8601 in BUKA's zone: ``2021-02-12T09:30:03+08:00``."""
    return datetime.fromtimestamp(t, TZ).isoformat(timespec="seconds")


def local8(t: float) -> str:
    """``yyyy-MM-dd HH:mm:ss`` in BUKA's zone (AI voice, voice tasks)."""
    return datetime.fromtimestamp(t, TZ).strftime("%Y-%m-%d %H:%M:%S")


def parse_time(text: Any) -> float | None:
    """Epoch seconds from ISO-8601 (with or without offset) or ``yyyy-MM-dd HH:mm:ss``; None if bad.

    Naive times are read as +08:00. A ``+`` decoded to a space by careless URL encoding is repaired.
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = re.sub(r" (\d{2}:?\d{2})$", r"+\1", text.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=TZ)
    return parsed.timestamp()


class IdBlock(list):
    """A list of consecutive message ids that remembers the serial of its first id."""

    serial: int = 0


class DrawParams(NamedTuple):
    """What a delivery draw depends on besides the message: the settings of the moment it was sent.

    Settings are replaced, never changed in place, so holding them keeps that moment's values.
    """

    seed: int
    report_delay: tuple[float, float]
    delivery: DeliveryModel
    scenarios: tuple[Scenario, ...]


class SimState:
    """Everything the endpoints share. Build it through :class:`buka_nb.simulator.Simulator`."""

    def __init__(self, *, seed: int = 0, accounts: list[Account | dict] | None = None,
                 report_delay: tuple[float, float] = (2.0, 30.0), clock_offset: float = 0.0,
                 latency: float = 0.0, rate_limit: float | None = None,
                 faults: list[Fault | str | dict] = (), scenarios: list[Scenario | str | dict] = (),
                 delivery: DeliveryModel | dict | None = None, push_url: str | None = None,
                 voice_push_url: str | None = None, balance: float | None = None) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # wakes the push thread on advance/new rows
        if accounts:
            self.account_source = "arguments"
            account_list = [Account.coerce(a) for a in accounts]
        else:
            account_list, self.account_source = default_accounts()
        if balance is not None:  # one starting balance for every account (CLI --balance)
            for account in account_list:
                account.set_money(balance)
        self._initial = dict(seed=seed, accounts=[a.to_dict() for a in account_list],
                             report_delay=tuple(report_delay), clock_offset=clock_offset, latency=latency,
                             rate_limit=rate_limit, faults=[Fault.coerce(f) for f in faults],
                             scenarios=[Scenario.coerce(s) for s in scenarios],
                             delivery=DeliveryModel.coerce(delivery), push_url=push_url,
                             voice_push_url=voice_push_url)
        self.ledger = Ledger(self.now)
        self._next_id = 0  # msgId counter survives reset so ids never repeat within a process
        self._id_clock = (float("nan"), "")  # (sim time, its yymmddHHMMSS) of the last new_ids
        self.wall_start = time.time()
        self.reset()

    # -- lifecycle -------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the construction-time configuration: empty ledger, fresh balances, no tasks."""
        with self.lock:
            init = self._initial
            self.seed = int(init["seed"])
            self.accounts = {a["api_key"]: Account.coerce(a) for a in init["accounts"]}
            self.default_key = init["accounts"][0]["api_key"]
            self.report_delay = tuple(float(x) for x in init["report_delay"])
            self.clock_offset = float(init["clock_offset"])
            self.advanced = 0.0
            self.latency = float(init["latency"] or 0.0)
            self.rate_limit = init["rate_limit"]
            self.faults = list(init["faults"])
            self.scenarios = list(init["scenarios"])
            self.delivery = init["delivery"]
            self.push_url = init["push_url"]
            self.voice_push_url = init["voice_push_url"]
            self.ledger.clear()
            self.tasks: dict[int, Any] = {}        # AI-voice tasks, owned by aivoice.py
            self.next_job_id = 10001
            self.pushes: list[tuple[float, int, str, int]] = []
            self._push_seq = itertools.count()
            self.stats = {"requests": 0, "endpoints": {}, "faults": {}, "first": None, "last": None}
            self._rebuild_plan()
            self.changed.notify_all()

    def _rebuild_plan(self) -> None:
        extra = [Fault("rate", value=self.rate_limit)] if self.rate_limit else []
        self.plan = FaultPlan(self.faults + extra, self.seed)

    def configure(self, **options: Any) -> None:
        """Change settings at run time (the ``POST /_sim/config`` body). Unknown keys raise ``ValueError``.

        Keys: faults, scenarios, balance/gift/credit/locked (default account), accounts
        ({api_key: {...}} updates or a list of new accounts), report_delay, clock_offset, latency,
        rate_limit, delivery, seed, push_url, voice_push_url. Setting faults, rate_limit or seed
        restarts the fault counters (``n=3`` then means the third matching request from now).
        """
        with self.lock:
            for key, value in options.items():
                if key == "faults":
                    self.faults = [Fault.coerce(f) for f in value or ()]
                elif key == "scenarios":
                    self.scenarios = [Scenario.coerce(s) for s in value or ()]
                elif key in ("balance", "gift", "credit"):
                    self.accounts[self.default_key].set_money(**{key: value})
                elif key == "locked":
                    self.accounts[self.default_key].locked = bool(value)
                elif key == "accounts":
                    self._configure_accounts(value)
                elif key == "report_delay":
                    lo, hi = (float(x) for x in value)
                    if not 0 <= lo <= hi:
                        raise ValueError("report_delay must be (min, max) with 0 <= min <= max")
                    self.report_delay = (lo, hi)
                elif key in ("clock_offset", "latency"):
                    setattr(self, key, float(value or 0.0))
                elif key == "rate_limit":
                    self.rate_limit = float(value) if value else None
                elif key == "delivery":
                    self.delivery = DeliveryModel.coerce(value)
                elif key == "seed":
                    self.seed = int(value)
                elif key in ("push_url", "voice_push_url"):
                    setattr(self, key, value or None)
                else:
                    raise ValueError(f"unknown simulator setting {key!r}")
            # Only a change of faults restarts the request counters behind "n=3" faults.
            if {"faults", "rate_limit", "seed"} & options.keys():
                self._rebuild_plan()
            self.changed.notify_all()

    def _configure_accounts(self, value: Any) -> None:
        if isinstance(value, dict):
            for key, changes in value.items():
                account = self.accounts[key]
                changes = dict(changes)
                account.set_money(changes.pop("balance", None), changes.pop("gift", None),
                                  changes.pop("credit", None))
                for name, val in changes.items():
                    if not hasattr(account, name):
                        raise ValueError(f"unknown account field {name!r}")
                    setattr(account, name, val)
        else:
            for item in value:
                account = Account.coerce(item)
                self.accounts[account.api_key] = account

    # -- clock and ids ---------------------------------------------------------------------------
    def now(self) -> float:
        """Sim time: wall clock + configured offset + everything :meth:`advance` added."""
        return time.time() + self.clock_offset + self.advanced

    def advance(self, seconds: float) -> float:
        with self.lock:
            self.advanced += float(seconds)
            self.changed.notify_all()
        return self.now()

    def new_ids(self, n: int, now: float) -> IdBlock:
        """*n* unique 19-digit ids: ``yymmddHHMMSS`` (sim time, +08:00) and a 7-digit counter.

        The counter is ``1000000 + serial % 9000000`` so it always has seven digits. A block never
        straddles the counter's wrap, which lets the ledger find an id by bisecting block serials
        instead of keeping a dict of every id. Caller holds the lock.
        """
        block = self.new_id_range(n, now)
        ids = IdBlock(block.tolist())
        ids.serial = block.serial
        return ids

    def new_id_range(self, n: int, now: float) -> IdRange:
        """The ids :meth:`new_ids` would give, not yet spelled out (sendSms keeps them so: see IdRange)."""
        first = self._next_id
        room = ID_COUNTER_SPAN - first % ID_COUNTER_SPAN
        if n > room:
            first += room
        self._next_id = first + n
        clock = self._id_clock
        if clock[0] != now:  # a batch asks once per group, all at the same instant
            clock = self._id_clock = (now, datetime.fromtimestamp(now, TZ).strftime("%y%m%d%H%M%S"))
        return IdRange(first, clock[1], ID_COUNTER_BASE + first % ID_COUNTER_SPAN, n)

    # -- delivery --------------------------------------------------------------------------------
    def decide(self, channel: str, recipients: list[str], content: str,
               submit_at: float) -> tuple[list[float], list[str], list[str]]:
        """Seeded delivery time, outcome and reason per recipient, then forced by scenarios.

        The draw depends only on (seed, channel, content, recipient): the same message gets the same
        fate in every run, whatever the request order or concurrency.
        """
        return self.decide_groups(channel, [(recipients, content)], submit_at)[0]

    def decide_groups(self, channel: str, groups: list[tuple[list[str], str]],
                      submit_at: float) -> list[tuple[list[float], list[str], list[str]]]:
        """:meth:`decide` for each (recipients, content) group of one request, drawn in one pass."""
        deliver_all, outcome_all, reason_all = self.decide_all(channel, groups, submit_at)
        out = []
        at = 0
        for recipients, _ in groups:
            end = at + len(recipients)
            out.append((deliver_all[at:end], outcome_all[at:end], reason_all[at:end]))
            at = end
        return out

    def draw_params(self) -> DrawParams:
        """The settings a delivery draw made now would use (see :meth:`decide_all`'s *params*)."""
        return DrawParams(self.seed, self.report_delay, self.delivery, tuple(self.scenarios))

    def decide_all(self, channel: str, groups: list[tuple[list[str], str]], submit_at: float, *,
                   packed: bool = False, params: DrawParams | None = None,
                   ) -> tuple[list[float] | array, list[str], list[str]]:
        """:meth:`decide_groups`, as three lists running over all the groups' recipients in order.

        A batch has ~26 groups of ~38 numbers: the arithmetic runs once over all of them in numpy
        (the same IEEE operations in the same order as Python floats, so the times are bit-identical).
        *packed*: the delivery times as an ``array('d')`` (what the ledger keeps), not a list of floats.
        *params*: the settings to draw with (:meth:`draw_params` when the message was sent), for a
        draw made later; default: the current ones.
        """
        seed, (lo, hi), model, scenarios = params if params is not None else self.draw_params()
        p_ok, p_fail = model.delivered, model.failed
        span, slow_span = hi - lo, hi * (model.slow_factor - 1.0)
        bases: list[int] = []
        for recipients, content in groups:
            bases += [zlib.crc32(f"{seed}|{channel}|{content}".encode("utf-8"))] * len(recipients)
        everyone = itertools.chain.from_iterable(recipients for recipients, _ in groups)
        crcs = np.fromiter(map(zlib.crc32, map(str.encode, everyone), bases), dtype=np.uint64, count=len(bases))
        # Knuth's multiplicative scramble spreads the CRC over all 32 bits: the low 16 pick the
        # outcome, the high 16 the delay. (A 32-bit CRC times a 32-bit constant fits in uint64.)
        hs = (crcs * 2654435761) & 0xFFFFFFFF
        deliver = submit_at + lo + (hs >> 16) * (span / 65536.0)
        outcome_all = ["delivered"] * len(bases)
        reason_all = ["success"] * len(bases)
        # The ~10 % that fail or are slow, still in numpy: only the failed rows' two list items are set one by one.
        low = hs & 0xFFFF
        odd = np.flatnonzero(low >= p_ok * 65536.0)
        if len(odd):
            u = low[odd] / 65536.0
            fails = u < p_ok + p_fail
            slow = odd[~fails]
            deliver[slow] = submit_at + hi + ((hs[slow] >> 16) / 65536.0) * slow_span
            if fails.any():
                thresholds = model.fail_thresholds(channel)  # first share above the draw: fail_reason's rule
                names = [reason for _, reason in thresholds]
                picks = np.searchsorted(np.array([acc for acc, _ in thresholds]), (u[fails] - p_ok) / p_fail, "right")
                for i, k in zip(odd[fails].tolist(), np.minimum(picks, len(names) - 1).tolist()):
                    outcome_all[i], reason_all[i] = "failed", names[k]
        if packed:  # the doubles' bytes as they are: no float object per message
            deliver_all: list[float] | array = array("d")
            deliver_all.frombytes(deliver.astype(np.float64, copy=False).tobytes())
        else:
            deliver_all = deliver.tolist()
        if scenarios:
            at = 0
            for recipients, content in groups:
                self._force(channel, recipients, content, submit_at, deliver_all, outcome_all, reason_all, at,
                            scenarios)
                at += len(recipients)
        return deliver_all, outcome_all, reason_all

    def _force(self, channel: str, recipients: list[str], content: str, submit_at: float,
               deliver: list[float], outcome: list[str], reason: list[str], at: int = 0,
               scenarios: tuple[Scenario, ...] | None = None) -> None:
        """Apply fail/deliver/pending scenarios to one group's drawn fates, in place (its from index *at*)."""
        for sc in self.scenarios if scenarios is None else scenarios:
            if sc.action not in ("fail", "deliver", "pending") or not sc.applies(channel):
                continue
            rx = re.compile(sc.match)
            if sc.field == "content":
                hits = range(len(recipients)) if rx.search(content) else ()
            else:
                hits = [i for i, r in enumerate(recipients) if rx.search(r)]
            for i in hits:
                i += at
                if sc.action == "pending":
                    deliver[i], outcome[i], reason[i] = float("inf"), "", ""
                    continue
                if sc.delay is not None:
                    deliver[i] = submit_at + sc.delay
                if sc.action == "fail":
                    outcome[i], reason[i] = "failed", sc.reason or "UNDELIV"
                else:
                    outcome[i], reason[i] = "delivered", "success"

    def forced(self, channel: str, recipient: str, content: str = "") -> Scenario | None:
        """The last fail/deliver/pending scenario matching one recipient (later scenarios win)."""
        last = None
        for sc in self.scenarios:
            if sc.action in ("fail", "deliver", "pending") and sc.applies(channel):
                if re.search(sc.match, content if sc.field == "content" else recipient):
                    last = sc
        return last

    def scenario_code(self, channel: str, recipients: list[str], content: str = "") -> int | None:
        """The request-level code a ``code`` scenario forces, if any recipient (or the content) matches."""
        for sc in self.scenarios:
            if sc.action == "code" and sc.applies(channel):
                rx = re.compile(sc.match)
                if (rx.search(content) if sc.field == "content" else any(rx.search(r) for r in recipients)):
                    return int(sc.code)
        return None

    def scenario_rejects(self, channel: str, recipients: list[str]) -> set[int]:
        """Indices of recipients a ``reject`` scenario refuses individually."""
        out: set[int] = set()
        for sc in self.scenarios:
            if sc.action == "reject" and sc.applies(channel) and sc.field == "recipient":
                rx = re.compile(sc.match)
                out.update(i for i, r in enumerate(recipients) if rx.search(r))
        return out

    # -- push queue ------------------------------------------------------------------------------
    def push_enabled(self, channel: str) -> bool:
        return bool(self.push_url if channel == "sms" else self.voice_push_url if channel == "voice" else None)

    def queue_pushes(self, channel: str, rows: range | list[int], deliver_at: list[float]) -> None:
        """Queue reports for the push thread (caller holds the lock). Never-final rows are skipped."""
        if not self.push_enabled(channel):
            return
        seq = self._push_seq
        for row, t in zip(rows, deliver_at):
            if t != float("inf"):
                heapq.heappush(self.pushes, (t, next(seq), channel, row))
        self.changed.notify_all()

    # -- stats -----------------------------------------------------------------------------------
    def record_request(self, endpoint: str) -> int:
        """Count a /v3 request; returns its global 1-based number (caller holds the lock)."""
        stats = self.stats
        stats["requests"] += 1
        wall = time.time()
        stats["first"] = stats["first"] or wall
        stats["last"] = wall
        entry = stats["endpoints"].setdefault(endpoint, {"requests": 0, "codes": {}})
        entry["requests"] += 1
        return stats["requests"]

    def record_outcome(self, endpoint: str, outcome: str) -> None:
        """Count what a request ended with: a status code (``"0"``, ``"-10"``), ``http500`` or a fault."""
        with self.lock:
            codes = self.stats["endpoints"].setdefault(endpoint, {"requests": 0, "codes": {}})["codes"]
            codes[outcome] = codes.get(outcome, 0) + 1

    def record_crash(self, endpoint: str, exc: BaseException) -> None:
        """Keep the last few handler crashes visible in the stats (they answer -18 / -23 / -5)."""
        with self.lock:
            crashes = self.stats.setdefault("crashes", [])
            crashes.append(f"{endpoint}: {type(exc).__name__}: {exc}")
            del crashes[:-10]

    def record_fault(self, kind: str) -> None:
        with self.lock:
            self.stats["faults"][kind] = self.stats["faults"].get(kind, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """The ``GET /_sim/stats`` body."""
        with self.lock:
            stats = copy.deepcopy(self.stats)
            first, last = stats.pop("first"), stats.pop("last")
            active = (last - first) if first and last and last > first else 0.0
            led = self.ledger
            return {
                "now": self.now(), "now_iso": iso8(self.now()), "seed": self.seed,
                "uptime": time.time() - self.wall_start,
                "requests_total": stats["requests"],
                "requests_per_second": round(stats["requests"] / active, 3) if active else 0.0,
                "endpoints": stats["endpoints"], "faults": stats["faults"],
                "crashes": stats.get("crashes", []),
                "messages": {ch: led.count(ch) for ch in led.channels},
                "duplicates": {ch: led.duplicate_count(ch) for ch in led.channels},
                "balances": {k: money(a.balance_micros) for k, a in self.accounts.items()},
                "pushes_queued": len(self.pushes),
                "config": {"report_delay": list(self.report_delay), "clock_offset": self.clock_offset,
                           "advanced": self.advanced, "latency": self.latency, "rate_limit": self.rate_limit,
                           "faults": [f.to_dict() for f in self.faults],
                           "scenarios": [s.to_dict() for s in self.scenarios],
                           "push_url": self.push_url, "voice_push_url": self.voice_push_url},
            }
