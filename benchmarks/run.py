"""The benchmark suite: buka_nb against raw httpx (and raw httpcore) and a per-row loop, on one simulator, in one run.

    python -m benchmarks.run                       # N = 10^4, 10^5, 10^6 (2-3 minutes on 2 cores)
    python benchmarks/run.py --sizes 10000 100000  # chosen sizes
    python -m benchmarks.run --quick               # 10^4 and 10^5 only, smaller side runs (about 15 s)

Every client runs in its own child process (see :mod:`benchmarks.workloads`) against one
:class:`~buka_nb.simulator.SimulatorProcess`, reset before each run. It prints markdown tables:
wall time, client CPU, peak RSS and the ratios per N; the simulator's throughput and headroom; the
latency-bound runs; streaming memory; failure-by-reason speed; and every target met or missed.
``--json FILE`` also writes every measured number.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import data  # noqa: E402
from benchmarks.sim import SimHandle  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ORDER_PREFIX = "0123abcd-"  # same length as buka_nb's fingerprint prefix, so the bodies are the same size
LATENCY = 0.15

TARGETS = {
    "cpu_vs_raw": 1.5, "wall_vs_raw_1e6": 1.3, "loop_speedup": 100.0, "rss_1e6_mb": 1024.0,
    "stream_growth": 2.0, "latency_vs_bound": 1.25, "analysis_s": 2.0,
}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


#: CPU seconds other processes used while the suite's clients ran (the machine may be shared).
OTHER_LOAD = {"cpu": 0.0, "wall": 0.0}


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (all cores, from /proc/stat; steal counts as busy)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def child(kind: str, sim: SimHandle, *args: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run one workload in a fresh process against a freshly reset simulator."""
    sim.reset(**(config or {}))
    cpu0, busy0, t0 = sim.cpu(), machine_busy(), time.perf_counter()
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "benchmarks.workloads", kind, "--url", sim.url, *args],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim_cpu, busy = sim.cpu() - cpu0, machine_busy() - busy0
    child_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    OTHER_LOAD["cpu"] += max(0.0, busy - child_cpu - sim_cpu)
    OTHER_LOAD["wall"] += time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {' '.join(args)} failed:\n{out.stderr[-4000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # The simulator leaves what no answer needs (duplicate flags, and delivery draws when no report
    # is pushed) to the first reader of its ledger: the stats below are one. Measured apart.
    before_stats = sim.cpu()
    stats = sim.stats()
    result.update(sim_cpu=sim_cpu, sim_deferred_cpu=sim.cpu() - before_stats, sim_messages=stats["messages"]["sms"],
                  sim_requests=stats["requests_total"], sim_rss_mb=sim.rss_mb())
    return result


def paired(runs: list[dict[str, Any]], base: list[dict[str, Any]], key: str) -> tuple[float, float, float]:
    """Each round's ratio ``runs[i][key] / base[i][key]``: the median, the lowest and the highest.

    The clients of a round run one after the other, so a round's ratio compares them on the machine
    as it was then; this VM's speed drifts by ±15% within minutes, which a ratio of two medians
    taken from different rounds would carry into the result.
    """
    values = sorted(r[key] / b[key] for r, b in zip(runs, base))
    return statistics.median(values), values[0], values[-1]


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time (its CPU and RSS belong to the same run)."""
    return sorted(runs, key=lambda r: r["wall"])[len(runs) // 2]


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    def meminfo() -> str:
        with open("/proc/meminfo") as fh:
            kb = int(next(line for line in fh if line.startswith("MemTotal")).split()[1])
        return f"{kb / 1024 ** 2:.1f} GiB"

    def cpu_model() -> str:
        try:
            with open("/proc/cpuinfo") as fh:
                return next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "?")
        except OSError:
            return platform.processor() or "?"

    pkgs = {p: version(p) for p in ("buka_nb", "pandas", "numpy", "pyarrow", "httpx", "httpcore", "h11", "anyio")}
    return {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "cores": os.cpu_count(), "memory": meminfo(),
            "cpu": cpu_model(), "python": platform.python_version(), "platform": platform.platform(),
            "packages": pkgs}


def _spread(r: dict[str, Any], key: str) -> str:
    """A ratio, with its rounds' range when it has one: ``1.32x (1.21-1.47)``."""
    lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
    return f"{r[key]:.2f}x" + (f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None and lo != hi else "")


def fmt(x: float, digits: int = 2) -> str:
    return f"{x:,.{digits}f}"


def _opt(r: dict[str, Any], key: str, digits: int = 2) -> str:
    """A measurement a report from an older suite may lack (system time, page faults): '–' then."""
    return fmt(r[key], digits) if key in r else "–"


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", help="recipient counts (default 10000 100000 1000000)")
    p.add_argument("--quick", action="store_true", help="10^4 and 10^5, smaller side runs")
    p.add_argument("--in-flight", type=int, default=8, help="max_in_flight for buka_nb and raw httpx (default 8)")
    p.add_argument("--rounds", type=int, help="rounds of raw httpx, raw httpcore and buka_nb per size (default 5; 1 with --quick)")
    p.add_argument("--repeat", type=int, help="runs of each side measurement, the median kept (default 3; 1 with --quick)")
    p.add_argument("--loop-sample", type=int, help="rows the per-row loop really sends (default 2000)")
    p.add_argument("--analysis-rows", type=int, help="rows of the synthetic result frame (default 10^7)")
    p.add_argument("--workdir", help="where CSVs, journals and result files go (default: a temporary directory)")
    p.add_argument("--json", help="also write every measured number to this file")
    ns = p.parse_args(argv)
    sizes = ns.sizes or ([10_000, 100_000] if ns.quick else [10_000, 100_000, 1_000_000])
    repeat = ns.repeat or (1 if ns.quick else 3)
    rounds = ns.rounds or (1 if ns.quick else 5)
    loop_sample = ns.loop_sample or (500 if ns.quick else 2000)
    analysis_rows = ns.analysis_rows or (1_000_000 if ns.quick else 10_000_000)
    stream_sizes = (sizes[-2], sizes[-1]) if len(sizes) >= 2 else (sizes[0] // 10, sizes[0])
    inf = str(ns.in_flight)

    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory(prefix="buka-bench-") if not ns.workdir else None
    work = Path(ns.workdir or tmp.name)  # type: ignore[union-attr]
    work.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"machine": machine(), "in_flight": ns.in_flight, "repeat": repeat, "rounds": rounds,
                              "sizes": sizes,
                              "loadavg_start": os.getloadavg()}

    def csv_for(n: int) -> Path:
        path, counts = work / f"recipients_{n}.csv", work / f"recipients_{n}.json"
        if not (path.exists() and counts.exists()):  # a --workdir keeps them for the next run
            log(f"writing {n:,} recipients to {path.name}")
            counts.write_text(json.dumps(data.write_csv(path, n)))
        report.setdefault("datasets", {})[n] = json.loads(counts.read_text())
        return path

    def bodies_for(n: int) -> Path:
        path = work / f"bodies_{n}.jsonl"
        if not path.exists():
            path.write_bytes(b"\n".join(data.payloads(n, ORDER_PREFIX)))
        return path

    journal_no = iter(range(10 ** 6))

    def journal() -> str:
        return str(work / f"journal_{next(journal_no)}.sqlite3")  # a fresh journal file per run

    with SimHandle() as sim:
        log(f"simulator pid {sim.proc.pid} at {sim.url}")
        # -- 1. buka_nb vs raw httpx per N ------------------------------------------------------------
        main_rows: dict[int, dict[str, Any]] = {}
        for n in sizes:
            csv_path, bodies = csv_for(n), bodies_for(n)
            raw_runs, core_runs, buka_runs = [], [], []
            for _ in range(rounds):  # a round runs the three back to back: drift in machine speed hits all alike
                log(f"N={n:,}: raw httpx")
                raw_runs.append(child("raw", sim, "--bodies", str(bodies), "--in-flight", inf))
                log(f"N={n:,}: raw httpcore")
                core_runs.append(child("rawcore", sim, "--bodies", str(bodies), "--in-flight", inf))
                log(f"N={n:,}: buka_nb (journal on)")
                buka_runs.append(child("buka", sim, "--csv", str(csv_path), "--in-flight", inf,
                                       "--journal", journal()))
            raw, core, buka = median_run(raw_runs), median_run(core_runs), median_run(buka_runs)
            expected = report["datasets"][n]["valid"]
            for name, r in (("raw", raw), ("rawcore", core), ("buka_nb", buka)):
                if r["sim_messages"] != expected:
                    raise RuntimeError(f"{name} at N={n}: simulator accepted {r['sim_messages']}, expected {expected}")
            main_rows[n] = {"raw": raw, "core": core, "buka": buka, "raw_runs": raw_runs, "core_runs": core_runs,
                            "buka_runs": buka_runs}
        report["main"] = main_rows

        # -- 2. the per-row loop, on a sample -----------------------------------------------------------
        sample_csv = csv_for(max(min(sizes), loop_sample))
        log(f"per-row loop on {loop_sample:,} rows")
        loop = child("loop", sim, "--csv", str(sample_csv), "--sample", str(loop_sample))
        report["loop"] = loop

        # -- 3. journal cost ---------------------------------------------------------------------------
        jn = 100_000 if 100_000 in sizes else sizes[-1] if sizes[-1] < 1_000_000 else sizes[0]
        log(f"N={jn:,}: buka_nb with journal=None")
        off_runs = [child("buka", sim, "--csv", str(csv_for(jn)), "--in-flight", inf, "--journal", "none")
                    for _ in range(repeat)]
        report["journal"] = {"n": jn, "off_runs": off_runs, "on_runs": main_rows[jn]["buka_runs"]}

        # -- 4. latency-bound runs -----------------------------------------------------------------------
        # (rows, numbers per request, in flight): many small requests, then BUKA's largest ones
        lat_cases = [(10_000, 100, 8), (100_000, 100, 32), (100_000, 1000, 8)]
        if ns.quick:
            lat_cases = [(10_000, 100, 8), (10_000, 100, 32)]
        lat_rows = []
        for n, batch, in_flight in lat_cases:
            log(f"latency {LATENCY * 1000:.0f} ms: N={n:,}, batch {batch}, in flight {in_flight}")
            runs = [child("buka", sim, "--csv", str(csv_for(n)), "--in-flight", str(in_flight), "--batch-size", str(batch),
                          "--journal", journal(), config={"latency": LATENCY}) for _ in range(repeat)]
            r = sorted(runs, key=lambda x: x["wall"])[len(runs) // 2]  # the median run, as everywhere else
            batches = r["sim_requests"]
            bound = batches * LATENCY / in_flight
            lat_rows.append({"n": n, "batch": batch, "in_flight": in_flight, "batches": batches, "bound": bound,
                             "rounds_bound": math.ceil(batches / in_flight) * LATENCY, **r})
        report["latency"] = lat_rows

        # -- 5. streaming ----------------------------------------------------------------------------------
        stream_rows = []
        import pyarrow.parquet as pq

        for n in stream_sizes:
            runs = []
            for _ in range(repeat):
                log(f"streaming N={n:,} to parquet")
                out = work / f"results_{n}.parquet"
                r = child("buka", sim, "--csv", str(csv_for(n)), "--in-flight", inf, "--journal", journal(),
                          "--out", str(out))
                r["out_rows"] = pq.ParquetFile(out).metadata.num_rows
                if r["out_rows"] != n:
                    raise RuntimeError(f"streamed {r['out_rows']} result rows for {n} input rows")
                runs.append(r)
            stream_rows.append({"n": n, **median_run(runs)})
        report["streaming"] = stream_rows

    # -- 6. analysis speed (no simulator) ------------------------------------------------------------------
    log(f"failures_by_reason on {analysis_rows:,} rows")
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run([sys.executable, "-m", "benchmarks.analysis_speed", "--rows", str(analysis_rows)],
                         capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-4000:])
    report["analysis"] = json.loads(out.stdout.strip().splitlines()[-1])
    report["total_seconds"] = time.perf_counter() - started
    report["other_load"] = dict(OTHER_LOAD)
    report["loadavg_end"] = os.getloadavg()

    print(render(report, loop_sample))
    if ns.json:
        Path(ns.json).write_text(json.dumps(report, indent=1, default=str))
    if tmp is not None:
        tmp.cleanup()
    return 0


def render(rep: dict[str, Any], loop_sample: int) -> str:
    m = rep["machine"]
    main_rows = {int(n): row for n, row in rep["main"].items()}
    loop = rep["loop"]
    loop_wall_row, loop_cpu_row = loop["wall"] / loop["rows"], loop["cpu"] / loop["rows"]
    other = rep["other_load"]
    lines = [
        f"## buka_nb benchmark, {m['date']}",
        "",
        f"Machine: {m['cores']} cores ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, {m['platform']}.  ",
        "Packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + ".  ",
        f"Clients: max_in_flight={rep['in_flight']}, 1000 numbers per request, template `{data.TEMPLATE}` "
        f"({len(data.NAMES)} names, so each request is a sendSms/batch of ~{len(data.NAMES)} groups); the CSV has "
        f"{data.INVALID_SHARE:.0%} unusable numbers and {data.DUPLICATE_SHARE:.1%} repeats. "
        f"Rounds per N: {rep.get('rounds', rep['repeat'])} (raw httpx, raw httpcore, buka_nb back to back); side "
        f"measurements: median of {rep['repeat']}.  ",
        f"Load from other processes (or CPU the hypervisor took: steal) while clients ran: {other['cpu']:.0f} CPU-s over {other['wall']:.0f} s "
        f"({other['cpu'] / max(other['wall'], 1e-9):.0%} of one core); load average "
        f"{rep['loadavg_start'][0]:.2f} at the start, {rep['loadavg_end'][0]:.2f} at the end.",
        "",
        "### buka_nb vs raw httpx vs a per-row loop",
        "",
        "raw httpx is the issue's limit. raw httpcore sends the same bodies through the transport buka_nb itself "
        "uses (httpcore's pools on buka_nb's asyncio network backend, without httpx's client layer): "
        "buka_nb's CPU over it is buka_nb's own work.",
        "",
        "| N | client | wall s | CPU s | CPU µs/row | of it system s | minor page faults | peak RSS MB | sim CPU s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ratios = []
    for n, row in main_rows.items():
        raw, core, buka = row["raw"], row.get("core"), row["buka"]
        for name, r in (("raw httpx", raw), ("raw httpcore", core), ("buka_nb", buka)):
            if r is None:  # a report from before raw httpcore was measured
                continue
            lines.append(f"| {n:,} | {name} | {fmt(r['wall'])} | {fmt(r['cpu'])} | {fmt(r['cpu'] / n * 1e6, 1)} | "
                         f"{_opt(r, 'sys')} | {_opt(r, 'faults', 0)} | {fmt(r['rss_mb'], 0)} | {fmt(r['sim_cpu'])} |")
        lines.append(f"| {n:,} | per-row loop, extrapolated | {fmt(loop_wall_row * n, 1)} | "
                     f"{fmt(loop_cpu_row * n, 1)} | {fmt(loop_cpu_row * 1e6, 1)} | – | – | {fmt(loop['rss_mb'], 0)} | – |")
        ratio: dict[str, Any] = {"n": n, "cpu": buka["cpu"] / raw["cpu"], "wall": buka["wall"] / raw["wall"],
                                 "cpu_core": buka["cpu"] / core["cpu"] if core else math.nan,
                                 "loop": loop_wall_row * n / buka["wall"], "loop_raw": loop_wall_row * n / raw["wall"]}
        if row.get("raw_runs") and row.get("buka_runs"):  # per round (older reports: the median runs' ratio)
            for key in ("cpu", "wall"):
                ratio[key], ratio[f"{key}_lo"], ratio[f"{key}_hi"] = paired(row["buka_runs"], row["raw_runs"], key)
            if row.get("core_runs"):
                ratio["cpu_core"] = paired(row["buka_runs"], row["core_runs"], "cpu")[0]
        ratios.append(ratio)
    lines += ["", f"The per-row loop really sent {loop['rows']:,} rows ({fmt(loop['wall'])} s, "
              f"{loop_wall_row * 1e6:,.0f} µs per row); its rows above are that rate times N.", "",
              "| N | CPU buka_nb/raw httpx | wall buka_nb/raw httpx | CPU buka_nb/raw httpcore | wall loop/buka_nb | "
              "wall loop/raw (the ceiling) |",
              "|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['n']:,} | {_spread(r, 'cpu')} | {_spread(r, 'wall')} | {r['cpu_core']:.2f}x | {r['loop']:,.0f}x | "
              f"{r['loop_raw']:,.0f}x |" for r in ratios]
    n_rounds = rep.get("rounds", rep["repeat"])
    lines += ["", f"buka_nb/raw ratios are the median of each round's ratio over {n_rounds} round"
              f"{'s' if n_rounds != 1 else ''} (lowest-highest in brackets): a round runs raw httpx, raw httpcore "
              "and buka_nb back to back. The table above shows each client's run with the median wall time.", ""]

    # simulator
    lines += ["", "### The simulator", "",
              "| N | sim msgs/s, raw run | sim CPU busy, raw run | sim CPU busy, buka_nb run | buka_nb client busy | "
              "sim capacity msgs per CPU-s | buka_nb asked msgs/s | headroom (capacity) | headroom (raw's rate) | "
              "deferred sim CPU s (first ledger read) |",
              "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    headrooms = []
    for n, row in main_rows.items():
        raw, buka = row["raw"], row["buka"]
        capacity = raw["sim_messages"] / max(raw["sim_cpu"], 1e-9)
        need = buka["sim_messages"] / buka["wall"]
        served = raw["sim_messages"] / raw["wall"]
        headrooms.append((capacity / need, served / need))
        lines.append(f"| {n:,} | {served:,.0f} | {raw['sim_cpu'] / raw['wall']:.0%} | {buka['sim_cpu'] / buka['wall']:.0%} | "
                     f"{buka['cpu'] / buka['wall']:.0%} | {capacity:,.0f} | {need:,.0f} | {capacity / need:.1f}x | "
                     f"{served / need:.1f}x | {_opt(raw, 'sim_deferred_cpu')} |")
    lines += ["", "Capacity is messages per CPU-second of the simulator process (it serves on one core, GIL-bound). "
              "Headroom is what the simulator can do, by its CPU cost or by the rate it actually sustained for raw "
              "httpx, over the rate buka_nb asked of it. \"Client busy\" is buka_nb's CPU over its wall time: near "
              "100% means the client, not the simulator, sets the pace. At 10^4 every rate is dominated by fixed "
              "start-up costs (connections, TLS context), so the raw-rate headroom means little there. "
              "The simulator leaves what no answer needs (each message's duplicate flag, and its delivery draw when "
              "no report is pushed) to the first reader of its ledger; the last column is that work, paid when the "
              "suite reads the stats after the raw httpx run, outside the capacity figures.", ""]

    # journal
    j = rep["journal"]
    on = {k: statistics.median(r[k] for r in j["on_runs"]) for k in ("wall", "cpu")}
    off = {k: statistics.median(r[k] for r in j["off_runs"]) for k in ("wall", "cpu")}
    lines += ["### Journal cost", "",
              f"N={j['n']:,}, medians of {len(j['on_runs'])} runs each: journal on {fmt(on['wall'])} s wall / "
              f"{fmt(on['cpu'])} s CPU; journal=None {fmt(off['wall'])} s / {fmt(off['cpu'])} s: the journal costs "
              f"{fmt(on['cpu'] - off['cpu'])} s CPU ({(on['cpu'] - off['cpu']) / j['n'] * 1e6:.1f} µs/row), "
              f"{fmt(on['wall'] - off['wall'])} s wall.", ""]

    # latency
    lines += [f"### Latency-bound runs (the simulator answers each request {LATENCY * 1000:.0f} ms after it "
              f"arrives; journal on; median of {rep['repeat']})", "",
              "| N | numbers per request | in flight | requests | wall s | bound s = requests x 0.15 / in flight "
              "| wall/bound | client CPU s |", "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rep["latency"]:
        lines.append(f"| {r['n']:,} | {r['batch']} | {r['in_flight']} | {r['batches']} | {fmt(r['wall'])} | "
                     f"{fmt(r['bound'])} | {r['wall'] / r['bound']:.2f}x | {fmt(r['cpu'])} |")
    lines.append("")

    # streaming
    s = rep["streaming"]
    lines += [f"### Streaming (send_sms_csv(out=...parquet), chunksize 100,000, journal on; median of {rep['repeat']})", "",
              "| N | wall s | CPU s | peak RSS MB |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['n']:,} | {fmt(r['wall'])} | {fmt(r['cpu'])} | {fmt(r['rss_mb'], 0)} |" for r in s]
    growth = s[-1]["rss_mb"] / s[0]["rss_mb"]
    lines += ["", f"Peak RSS grows {growth:.2f}x from {s[0]['n']:,} to {s[-1]['n']:,} rows.", ""]

    # analysis
    a = rep["analysis"]
    lines += ["### Analysis", "",
              f"failures_by_reason on a {a['rows']:,}-row result frame ({a['failing']:,} failing rows, "
              f"{a['groups']} reasons): first call {fmt(a['first'], 3)} s, best of {a['repeats']} {fmt(a['best'], 3)} s "
              f"(building the frame took {fmt(a['build'], 1)} s, not counted).", ""]

    # targets
    big = max(main_rows)
    worst_cpu = max(r["cpu"] for r in ratios)
    ratio_big = next(r for r in ratios if r["n"] == big)
    wall_big = ratio_big["wall"]
    loop_big = [r for r in ratios if r["n"] >= 100_000] or ratios
    worst_loop = min(r["loop"] for r in loop_big)
    rss_big = main_rows[big]["buka"]["rss_mb"]
    lat = [(r, r["wall"] / r["bound"]) for r in rep["latency"]]
    t = TARGETS
    rows = [
        ("client CPU per recipient ≤ 1.5x raw httpx", ", ".join(f"{_spread(r, 'cpu')} at {r['n']:,}" for r in ratios),
         worst_cpu <= t["cpu_vs_raw"]),
        (f"wall ≤ 1.3x raw httpx at N={big:,}", _spread(ratio_big, "wall"), wall_big <= t["wall_vs_raw_1e6"]),
        ("≥ 100x faster than the per-row loop (N ≥ 10^5)",
         ", ".join(f"{r['loop']:,.0f}x at {r['n']:,}" for r in ratios), worst_loop >= t["loop_speedup"]),
        (f"peak RSS at N={big:,} ≤ 1 GB", f"{rss_big:,.0f} MB with the result frame in memory, "
         f"{s[-1]['rss_mb']:,.0f} MB streaming", max(rss_big, s[-1]["rss_mb"]) <= t["rss_1e6_mb"]),
        (f"streaming peak RSS {s[0]['n']:,} → {s[-1]['n']:,} grows < 2x", f"{growth:.2f}x", growth < t["stream_growth"]),
    ]
    rows += [(f"latency-bound wall within 1.25x of the bound ({r['n']:,} rows, {r['batch']}/request, "
              f"{r['in_flight']} in flight)", f"{x:.2f}x", x <= t["latency_vs_bound"]) for r, x in lat]
    rows += [
        (f"failures_by_reason on {a['rows']:,} rows < 2 s", f"{fmt(a['first'], 2)} s", a["first"] < t["analysis_s"]),
        ("simulator not the bottleneck (capacity ≥ 2x what buka_nb asks)",
         f"≥ {min(h for h, _ in headrooms):.1f}x by CPU cost; {headrooms[-1][1]:.1f}x by raw's rate at {big:,}; "
         f"buka_nb client {main_rows[big]['buka']['cpu'] / main_rows[big]['buka']['wall']:.0%} busy at {big:,}",
         min(h for h, _ in headrooms) >= 2.0),
    ]
    lines += ["### Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {name} | {value} | {verdict(ok)} |" for name, value, ok in rows]
    lines += ["", f"Suite run time: {rep['total_seconds']:.0f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
