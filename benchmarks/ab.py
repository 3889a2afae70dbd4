"""Rotated A/B runs: buka_nb from several source trees (and raw httpx or httpcore), alternating on one simulator.

On a VM whose speed drifts within minutes, one full run of the suite cannot show a 5% change, but
pairs can: each round runs every variant once, back to back, against the same freshly reset
simulator (each round starting one variant later, so that none always follows the same one), and
the report gives the median over the rounds of each variant's ratio to the first variant *of the
same round*. Each variant is a checkout (``git worktree add /tmp/old HEAD~1``
makes one), ``raw`` or ``rawcore``; a tree runs its own ``benchmarks/workloads.py`` with its own ``buka_nb``.

    python -m benchmarks.ab /tmp/old . raw --n 1000000 --rounds 8
    python -m benchmarks.ab . . --journal none        # the noise floor: a tree against itself
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python benchmarks/ab.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    __package__ = "benchmarks"

from benchmarks import data  # noqa: E402
from benchmarks.run import ORDER_PREFIX, ROOT  # noqa: E402
from benchmarks.sim import SimHandle  # noqa: E402


def inputs(n: int, work: Path) -> tuple[Path, Path]:
    """The suite's CSV of *n* recipients and raw httpx's request bodies for it, made once per *work* folder."""
    work.mkdir(parents=True, exist_ok=True)
    csv, bodies = work / f"recipients_{n}.csv", work / f"bodies_{n}.jsonl"
    if not csv.exists():
        data.write_csv(csv, n)
    if not bodies.exists():
        bodies.write_bytes(b"\n".join(data.payloads(n, ORDER_PREFIX)))
    return csv, bodies


def run_once(variant: str, sim: SimHandle, csv: Path, bodies: Path, journal: Path | None) -> dict[str, Any]:
    """One child run of *variant* (``raw``, ``rawcore`` or a tree) against the freshly reset simulator; *journal*: a new file."""
    sim.reset()
    if variant in ("raw", "rawcore"):
        tree, args = ROOT, [variant, "--bodies", str(bodies)]
    else:
        tree = Path(variant).resolve()
        args = ["buka", "--csv", str(csv), "--journal", str(journal) if journal is not None else "none"]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-m", "benchmarks.workloads", args[0], "--url", sim.url, *args[1:]],
                         capture_output=True, text=True, cwd=tree, env=env)
    if out.returncode != 0:
        raise RuntimeError(f"{variant} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _faults(m: dict[str, Any]) -> str:
    """System seconds and minor page faults of a run (a tree whose workloads.py predates them has neither)."""
    return f"sys {m['sys']:.3f} s  faults {m['faults']:>7,}" if "faults" in m else "sys -  faults -"


def paired(runs: dict[str, list[dict[str, Any]]], base: str, key: str) -> dict[str, float]:
    """Each variant's median ratio to *base* on *key* (``wall`` or ``cpu``), round by round."""
    return {v: statistics.median(a[key] / b[key] for a, b in zip(rs, runs[base])) for v, rs in runs.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    p.add_argument("variants", nargs="+", help="source trees (paths), 'raw' (httpx) or 'rawcore' (httpcore); "
                   "ratios are to the first")
    p.add_argument("--n", type=int, default=1_000_000, help="recipients (default 10^6)")
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--journal", choices=("on", "none"), default="on", help="buka_nb with a journal (default) or none")
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "buka_nb_ab",
                   help="where the inputs are made once and kept")
    ns = p.parse_args(argv)
    for variant in ns.variants:
        if variant not in ("raw", "rawcore") and not (Path(variant) / "benchmarks" / "workloads.py").is_file():
            p.error(f"{variant!r} is not a buka_nb checkout (no benchmarks/workloads.py there): "
                    "give a path to one, e.g. made with git worktree add, or 'raw' / 'rawcore'")
    csv, bodies = inputs(ns.n, ns.work)
    order = [(f"{k}:{v}", v) for k, v in enumerate(ns.variants)]  # labelled: a tree may be given twice
    labels = [label for label, _ in order]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in labels}
    with SimHandle() as sim, tempfile.TemporaryDirectory() as tmp:
        journals = (Path(tmp) / f"journal_{i}.sqlite3" for i in itertools.count())  # a fresh one per run
        for r in range(ns.rounds):
            # each round starts one variant later: a run right after a big one is a few % slower here
            # (the memory the last child freed has to be faulted in again), so every variant takes
            # every place in the order equally often over len(variants) rounds
            k = r % len(order)
            for label, variant in order[k:] + order[:k]:
                m = run_once(variant, sim, csv, bodies, next(journals) if ns.journal == "on" else None)
                runs[label].append(m)
                print(f"round {r + 1}  {label:40s} wall {m['wall']:.3f} s  cpu {m['cpu']:.3f} s  {_faults(m)}  "
                      f"rss {m['rss_mb']:.0f} MB", flush=True)
    wall, cpu = paired(runs, labels[0], "wall"), paired(runs, labels[0], "cpu")
    print(f"\nN={ns.n:,}, {ns.rounds} rounds; medians, and the median of each round's ratio to {labels[0]}:")
    for label, rs in runs.items():
        faults = [x["faults"] for x in rs if "faults" in x]
        print(f"  {label:40s} wall {statistics.median(x['wall'] for x in rs):.3f} s  "
              f"cpu {statistics.median(x['cpu'] for x in rs):.3f} s   ratio wall {wall[label]:.3f}  cpu {cpu[label]:.3f}"
              + (f"   minor faults {statistics.median(faults):,.0f}" if faults else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
