"""Where a buka_nb campaign's CPU and page faults go: per thread, and per step of the send path.

One ``send_sms_csv`` campaign (the suite's CSV, the suite's settings) against a fresh
``SimulatorProcess``, in a child process whose steps are wrapped to count their thread's CPU time
(``time.thread_time``) and minor page faults (``RUSAGE_THREAD``). Steps that ``await`` cannot be
timed so and are not wrapped: the event loop's remainder (httpcore, h11, the sender) is what the
thread used beyond its wrapped steps. Not a benchmark: the wrappers cost a little themselves.

    python -m benchmarks.where                      # 10^6 rows, journal on
    python -m benchmarks.where --n 100000 --journal none
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/where.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks.ab import inputs  # noqa: E402
from benchmarks.run import ROOT  # noqa: E402
from benchmarks.sim import SimHandle  # noqa: E402

#: (module, attribute path, label): the synchronous steps of a campaign worth telling apart.
STEPS = [
    ("buka_nb.sms", "SmsPlanner.plan", "plan a chunk"),
    ("buka_nb.sms", "SmsPlanner.read", "check an answer"),
    ("buka_nb.results", "ResultBuilder.frame", "build a chunk's frame"),
    ("buka_nb.results", "ResultBuilder.add_batch", None),
    ("buka_nb.results", "ResultStore.concat", "join the frames"),
    ("buka_nb.journal", "Journal.update", "journal an answer"),
    ("buka_nb.journal", "Journal.plan", "journal a plan"),
    ("buka_nb.journal", "Journal.checkpoint", None),
    ("buka_nb.client", "normalise", "envelope"),
    ("buka_nb.client", "auth_headers", "sign"),
    ("orjson", "loads", "parse JSON"),
    ("orjson", "dumps", "write JSON"),
]


def _thread_faults() -> int:
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


def instrument() -> collections.Counter:
    """Wrap :data:`STEPS` in place; the counter gathers (label, main thread?, 'cpu'|'faults'|'calls')."""
    import importlib

    totals: collections.Counter = collections.Counter()

    def wrap(owner: Any, name: str, label: str) -> None:
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            cpu, faults = time.thread_time(), _thread_faults()
            try:
                return fn(*args, **kwargs)
            finally:
                main = threading.current_thread() is threading.main_thread()
                totals[label, main, "cpu"] += time.thread_time() - cpu
                totals[label, main, "faults"] += _thread_faults() - faults
                totals[label, main, "calls"] += 1
        setattr(owner, name, timed)

    for module, path, label in STEPS:
        owner: Any = importlib.import_module(module)
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent)
        if module == "orjson":  # a C module: wrap one stand-in for it where buka_nb looks it up
            import buka_nb.client
            import buka_nb.journal

            if not isinstance(buka_nb.client.orjson, _OrjsonProxy):
                buka_nb.client.orjson = buka_nb.journal.orjson = _OrjsonProxy()
            owner = buka_nb.client.orjson
        wrap(owner, name, label or path)
    return totals


class _OrjsonProxy:
    """orjson's functions as attributes of an object that can be wrapped (the module's cannot)."""

    def __init__(self) -> None:
        import orjson

        self.loads, self.dumps = orjson.loads, orjson.dumps
        self.OPT_SERIALIZE_NUMPY = orjson.OPT_SERIALIZE_NUMPY
        self.JSONDecodeError = orjson.JSONDecodeError


def child(url: str, csv: str, journal: str) -> dict[str, Any]:
    """Run in the child: one campaign, instrumented; every thread's CPU read from /proc as it runs."""
    from benchmarks import workloads

    totals = instrument()
    seen: dict[str, tuple[float, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    stop = threading.Event()

    def watch() -> None:  # threads end before the report: keep each one's last reading
        while not stop.is_set():
            for tid in os.listdir("/proc/self/task"):
                try:
                    with open(f"/proc/self/task/{tid}/stat") as fh:
                        fields = fh.read().rsplit(")", 1)[1].split()
                    seen[tid] = ((int(fields[11]) + int(fields[12])) / tick, int(fields[7]))
                except OSError:
                    pass
            stop.wait(0.02)
    watcher = threading.Thread(target=watch, daemon=True)
    main_cpu, main_faults = time.thread_time(), _thread_faults()
    watcher.start()
    ns = argparse.Namespace(url=url, csv=csv, journal=journal, in_flight=8, chunksize=100_000, out=None, batch_size=0)
    measured = workloads.run_buka(ns)
    main_cpu, main_faults = time.thread_time() - main_cpu, _thread_faults() - main_faults
    stop.set()
    watcher.join()
    main_tid, watcher_tid = str(threading.main_thread().native_id), str(watcher.native_id)
    others = sorted((v for tid, v in seen.items() if tid not in (main_tid, watcher_tid)), reverse=True)
    steps = [{"step": label, "thread": "event loop" if main else "worker", "cpu": totals[label, main, "cpu"],
              "faults": totals[label, main, "faults"], "calls": totals[label, main, "calls"]}
             for (label, main, kind) in list(totals) if kind == "calls"]
    return {"measured": {k: measured[k] for k in ("wall", "cpu", "sys", "faults")}, "main_cpu": main_cpu,
            "main_faults": main_faults, "other_threads": [o for o in others if o[0] >= 0.01], "steps": steps}


def report(r: dict[str, Any]) -> str:
    m = r["measured"]
    lines = [f"campaign: wall {m['wall']:.2f} s, CPU {m['cpu']:.2f} s (system {m['sys']:.2f}), "
             f"{m['faults']:,} minor faults",
             f"event loop thread: {r['main_cpu']:.2f} CPU-s, {r['main_faults']:,} faults; other threads "
             "(CPU-s, faults; ticks of 10 ms): " + ", ".join(f"{c:.2f} s / {f:,}" for c, f in r["other_threads"]),
             "", "| step | thread | CPU s | calls | minor faults |", "|---|---|---:|---:|---:|"]
    for s in sorted(r["steps"], key=lambda s: -s["cpu"]):
        lines.append(f"| {s['step']} | {s['thread']} | {s['cpu']:.3f} | {s['calls']:,} | {s['faults']:,} |")
    wrapped = sum(s["cpu"] for s in r["steps"] if s["thread"] == "event loop")
    lines += ["", f"event loop beyond its wrapped steps (httpcore, h11, asyncio, the sender): "
              f"{r['main_cpu'] - wrapped:.2f} s"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.where")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--journal", choices=("on", "none"), default="on")
    p.add_argument("--work", help="where the input CSV is made once and kept (default: a temporary folder)")
    p.add_argument("--child", nargs=3, metavar=("URL", "CSV", "JOURNAL"), help=argparse.SUPPRESS)
    ns = p.parse_args(argv)
    if ns.child:
        sys.stdout.write(json.dumps(child(*ns.child)) + "\n")
        return 0
    with tempfile.TemporaryDirectory(prefix="buka-where-") as tmp:
        work = Path(ns.work or tmp)
        csv, _ = inputs(ns.n, work)
        journal = str(Path(tmp) / "journal.sqlite3") if ns.journal == "on" else "none"
        with SimHandle() as sim:
            sim.reset()
            env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            out = subprocess.run([sys.executable, "-m", "benchmarks.where", "--child", sim.url, str(csv), journal],
                                 capture_output=True, text=True, cwd=ROOT, env=env)
        if out.returncode != 0:
            sys.stderr.write(out.stderr[-4000:])
            return 1
        print(report(json.loads(out.stdout.strip().splitlines()[-1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
