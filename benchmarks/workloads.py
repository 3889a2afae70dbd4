"""The three clients under measurement, each run in its own child process.

``python -m benchmarks.workloads buka|raw|loop --url URL ...`` prints one JSON line: wall seconds,
CPU seconds (user + sys, from ``getrusage`` around the measured part only, so interpreter start-up
and imports are not counted; the system seconds and minor page faults of that part too), peak RSS
(``VmHWM``: the whole process, imports included) and what the simulator answered.

* ``buka``: ``buka_nb.sms.send_sms_csv`` on the CSV: read, validate, batch, journal, send, result
  frame (or, with ``--out``, results streamed to a file).
* ``raw``: the same request bodies, pre-built and pre-signed before the clock starts, sent by
  ``max_in_flight`` asyncio workers over one ``httpx.AsyncClient``; each response is read and
  parsed as JSON with orjson, as buka_nb does (what any client must do to learn the msgIds). The
  floor buka_nb is compared to.
* ``rawcore``: the same, sent through httpcore's connection pools directly (one pool of one
  connection per worker) on buka_nb's asyncio network backend: the transport buka_nb itself sends
  through (:mod:`buka_nb.transport`, :mod:`buka_nb.aionet`), so buka_nb's CPU over this one is its
  own work and nothing else's.
* ``loop``: what a hand-written script does: for each CSV row, clean the number, fill the
  template, sign, ``POST /sendSms`` with ``httpx.Client``, parse the answer. Run on a sample.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

KEY, SECRET = "demoKey1", "demoSecret1"


def _peak_rss_mb() -> float:
    """This process's peak RSS. Not ``ru_maxrss``: Linux carries that over ``exec`` from the parent,
    so a child started by a large orchestrator would report the orchestrator's peak."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _usage() -> tuple[float, float, float, int]:
    """CPU seconds (user + system), peak RSS, system seconds and minor page faults so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime, _peak_rss_mb(), r.ru_stime, r.ru_minflt


PROFILE: str | None = None


def _measure(fn: Any) -> dict[str, Any]:
    cpu0, rss0, sys0, faults0 = _usage()
    t0 = time.perf_counter()
    if PROFILE and PROFILE.endswith((".txt", ".html")):  # sampling: pyinstrument, low overhead
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        extra = fn()
        profiler.stop()
        with open(PROFILE, "w") as fh:
            fh.write(profiler.output_html() if PROFILE.endswith(".html") else
                     profiler.output_text(unicode=True, show_all=False))
    elif PROFILE:  # deterministic: cProfile (inflates Python-heavy code)
        import cProfile

        prof = cProfile.Profile()
        extra = prof.runcall(fn)
        prof.dump_stats(PROFILE)
    else:
        extra = fn()
    wall = time.perf_counter() - t0
    cpu1, rss1, sys1, faults1 = _usage()
    # system time and minor faults: first touches of fresh memory, the part of the CPU that does not
    # follow the VM's speed (benchmarks/RESULTS.md); faults are steadier than seconds on a noisy VM
    return {"wall": wall, "cpu": cpu1 - cpu0, "sys": sys1 - sys0, "faults": faults1 - faults0, "rss_mb": rss1,
            "rss_before_mb": rss0, **(extra or {})}


def run_buka(ns: argparse.Namespace) -> dict[str, Any]:
    # Imports are start-up, not campaign work (a notebook has them loaded); raw httpx is measured the same way.
    # The pyarrow modules too: a campaign's first CSV chunk, first Arrow-to-pandas conversion and first
    # Arrow-backed string array import them (~10 ms, a tenth of a 10^4-row campaign); any earlier
    # campaign in the process has loaded them.
    import pandas  # noqa: F401
    import phonenumbers  # noqa: F401
    import pyarrow.csv  # noqa: F401
    import pyarrow.pandas_compat  # noqa: F401
    import pyarrow.vendored.version  # noqa: F401

    import buka_nb.campaign, buka_nb.client, buka_nb.phones, buka_nb.results, buka_nb.stream  # noqa: F401,E401
    from buka_nb.credentials import Credentials
    from buka_nb.sms import send_sms_csv

    from .data import TEMPLATE

    creds = Credentials.demo(ns.url)
    journal = None if ns.journal == "none" else ns.journal

    done: list[Any] = []

    def go() -> None:
        done.append(send_sms_csv(ns.csv, template=TEMPLATE, credentials=creds, journal=journal,
                                 max_in_flight=ns.in_flight, chunksize=ns.chunksize, out=ns.out, progress=False,
                                 **({"batch_size": ns.batch_size} if ns.batch_size else {})))

    measured = _measure(go)
    if not ns.out:  # counted after the clock stops
        counts = done[0]["state"].value_counts().to_dict()
        measured.update(rows=len(done[0]), states={str(k): int(v) for k, v in counts.items()})
    return measured


def run_raw(ns: argparse.Namespace, core: bool = False) -> dict[str, Any]:
    import asyncio

    import httpcore
    import httpx
    import orjson

    # httpx loads its transport (httpcore, anyio's backend) on first use and buka_nb.client imports it
    # up front: imported here too, start-up stays outside the clock for both clients alike
    import buka_nb.client  # noqa: F401
    from buka_nb.aionet import AsyncioBackend
    from buka_nb.signing import auth_headers

    with open(ns.bodies, "rb") as fh:
        bodies = fh.read().split(b"\n")
    bodies = [b for b in bodies if b]
    headers = auth_headers(KEY, SECRET)  # signed once: the run is far shorter than the 30-minute skew

    def check(status: int, content: bytes) -> int:
        answer = orjson.loads(content)  # the fastest parser there is: buka_nb uses it too
        if status != 200 or answer["status"] != "0":
            raise RuntimeError(f"simulator refused a raw request: {status} {answer}")
        return len(answer["array"])

    async def main() -> dict[str, Any]:
        todo = iter(bodies)
        accepted = 0
        if core:
            url = ns.url.rstrip("/") + ns.path
            backend = AsyncioBackend()
            pools = [httpcore.AsyncConnectionPool(max_connections=1, network_backend=backend)
                     for _ in range(ns.in_flight)]

            async def worker(pool: httpcore.AsyncConnectionPool) -> None:
                nonlocal accepted
                async with pool:
                    for body in todo:
                        r = await pool.request("POST", url, headers=headers, content=body)
                        accepted += check(r.status, r.content)
            await asyncio.gather(*(worker(pool) for pool in pools))
            return {"requests": len(bodies), "accepted": accepted}
        limits = httpx.Limits(max_connections=ns.in_flight, max_keepalive_connections=ns.in_flight)
        async with httpx.AsyncClient(base_url=ns.url, limits=limits, timeout=60) as client:
            async def worker() -> None:
                nonlocal accepted
                for body in todo:
                    r = await client.post(ns.path, content=body, headers=headers)
                    accepted += check(r.status_code, r.content)
            await asyncio.gather(*(worker() for _ in range(ns.in_flight)))
        return {"requests": len(bodies), "accepted": accepted}

    return _measure(lambda: asyncio.run(main()))


def run_loop(ns: argparse.Namespace) -> dict[str, Any]:
    import csv
    import hashlib
    import re

    import httpx

    from .data import APP_ID, TEMPLATE

    def go() -> dict[str, Any]:
        sent = refused = 0
        with open(ns.csv, newline="", encoding="utf-8") as fh, httpx.Client(base_url=ns.url, timeout=60) as client:
            for k, row in enumerate(csv.DictReader(fh)):
                if k >= ns.sample:
                    break
                number = re.sub(r"[\s\-()]", "", row["phone"]).lstrip("+")
                number = number[2:] if number.startswith("00") else number
                if not number.isdigit() or not 7 <= len(number) <= 15:
                    refused += 1
                    continue
                ts = str(int(time.time()))
                sign = hashlib.md5(f"{KEY}{SECRET}{ts}".encode()).hexdigest()
                r = client.post("/sendSms", json={"appId": APP_ID, "numbers": number,
                                                  "content": TEMPLATE.format(name=row["name"])},
                                headers={"Api-Key": KEY, "Timestamp": ts, "Sign": sign})
                sent += r.json()["status"] == "0"
        return {"rows": min(k + 1, ns.sample), "accepted": sent, "refused": refused}

    return _measure(go)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.workloads")
    p.add_argument("kind", choices=("buka", "raw", "rawcore", "loop"))
    p.add_argument("--url", required=True)
    p.add_argument("--csv")
    p.add_argument("--bodies")
    p.add_argument("--path", default="/sendSms/batch")
    p.add_argument("--in-flight", type=int, default=8)
    p.add_argument("--chunksize", type=int, default=100_000)
    p.add_argument("--batch-size", type=int, default=0)
    p.add_argument("--journal", default="none")
    p.add_argument("--out")
    p.add_argument("--sample", type=int, default=2000)
    p.add_argument("--profile", help="profile the measured part: FILE.txt/.html with pyinstrument, else cProfile")
    ns = p.parse_args(argv)
    global PROFILE
    PROFILE = ns.profile
    result = {"buka": run_buka, "raw": run_raw, "rawcore": lambda ns: run_raw(ns, core=True),
              "loop": run_loop}[ns.kind](ns)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
