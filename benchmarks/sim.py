"""The simulator under benchmark: :class:`buka_nb.simulator.SimulatorProcess`, a separate process on loopback.

The simulator never shares a process (or a GIL) with the client being measured. Between runs it is
reset (empty ledger, fresh stats) with a balance large enough for 10^6 messages, and its own CPU
time is read from ``/proc/<pid>/stat`` so the report can say how busy it was.
"""

from __future__ import annotations

import os
from typing import Any

from buka_nb.credentials import DEMO
from buka_nb.simulator import SimulatorProcess

#: Enough money for any benchmark run between two resets (10^6 messages x 0.01 EUR, many times over).
BALANCE = 10_000_000.0
CLK_TCK = os.sysconf("SC_CLK_TCK")


class SimHandle:
    """A running simulator process: its URL, control calls and CPU/RSS counters."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUKA_")}  # the demo account
        self.proc = SimulatorProcess(accounts=[{**DEMO, "balance": BALANCE}], env=env)

    @property
    def url(self) -> str:
        return self.proc.url

    @property
    def credentials(self) -> Any:
        return self.proc.credentials

    def start(self) -> SimHandle:
        self.proc.start()
        return self

    def stop(self) -> None:
        self.proc.stop()

    def __enter__(self) -> SimHandle:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reset(self, **config: Any) -> None:
        """Empty ledger and stats, the start-up balance, then *config* (e.g. ``latency=0.15``)."""
        self.proc.reset()
        if config:
            self.proc.configure(**config)

    def stats(self) -> dict[str, Any]:
        return self.proc.stats()

    def cpu(self) -> float:
        """User + system CPU seconds the simulator process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0
