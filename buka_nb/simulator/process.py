""":class:`SimulatorProcess`: the simulator in a child process, driven through its control API.

Benchmarks use it so the server does not share the client's GIL; crash tests use it so they can
kill it. The child is ``python -m buka_nb.simulator --port 0 --ready-json --config-json ...`` and
prints one JSON line when it is listening. Control calls use only the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.request
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from ..credentials import Credentials
from .accounts import Account, default_accounts


def _jsonable(value: Any) -> Any:
    """Options as JSON: Fault/Scenario/DeliveryModel/Account objects become dicts, tuples lists."""
    if hasattr(value, "to_dict"):
        return _jsonable(value.to_dict())
    if is_dataclass(value) and not isinstance(value, type):
        return _jsonable(asdict(value))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class SimulatorProcess:
    """Same options as :class:`~buka_nb.simulator.Simulator`, served by a child Python process.

    >>> with SimulatorProcess(seed=3, report_delay=(0, 0)) as proc:    # doctest: +SKIP
    ...     client = BukaClient(proc.credentials)
    ...     proc.stats()["messages"]
    """

    def __init__(self, port: int = 0, seed: int = 0, accounts: list[Account | dict] | None = None,
                 report_delay: tuple[float, float] = (2.0, 30.0), *, startup_timeout: float = 30.0,
                 python: str = sys.executable, env: dict[str, str] | None = None, **options: Any) -> None:
        self.options = _jsonable({"port": port, "seed": seed, "report_delay": report_delay, **options})
        if accounts:
            self.options["accounts"] = _jsonable([Account.coerce(a).to_dict() for a in accounts])
            first = Account.coerce(accounts[0])
        else:
            first = default_accounts(env if env is not None else dict(os.environ))[0][0]
        self._account = first
        self.startup_timeout = startup_timeout
        self.python = python
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> SimulatorProcess:
        if self.proc is not None:
            return self
        env = dict(os.environ if self.env is None else self.env)
        root = str(Path(__file__).resolve().parents[2])  # so the child imports this very buka_nb
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        cmd = [self.python, "-m", "buka_nb.simulator", "--port", str(self.options.get("port", 0)),
               "--ready-json", "--config-json", json.dumps(self.options)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
        line: list[bytes] = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.startup_timeout)
        if not line or not line[0].strip():
            self.kill()
            raise RuntimeError(f"the simulator process did not become ready within {self.startup_timeout} s")
        ready = json.loads(line[0])
        self.url, self.port = ready["url"], int(ready["port"])
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """Terminate the child (SIGTERM, then kill after *timeout*); returns its exit code."""
        proc, self.proc = self.proc, None
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
        if proc.stdout:
            proc.stdout.close()
        return proc.returncode

    def kill(self) -> None:
        """Kill the child abruptly (crash tests)."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stdout:
                self.proc.stdout.close()
            self.proc = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- credentials and control -----------------------------------------------------------------
    @property
    def base(self) -> str:
        return self.url[: -len("/v3")]

    @property
    def credentials(self) -> Credentials:
        a = self._account
        return Credentials(a.api_key, a.api_secret, sms_app_id=a.sms_app_id, email_app_id=a.email_app_id,
                           voice_app_id=a.voice_app_id, base_url=self.url, source="simulator")

    def _control(self, method: str, op: str, body: dict[str, Any] | None = None, query: str = "") -> bytes:
        if not self.url:
            raise RuntimeError("the simulator process is not running: call start() first")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.base}/_sim/{op}{query}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.read()

    def stats(self) -> dict[str, Any]:
        """What ``GET /_sim/stats`` answers (see :meth:`Simulator.stats`)."""
        return json.loads(self._control("GET", "stats"))

    def configure(self, **options: Any) -> None:
        """Change settings while running (``POST /_sim/config``; see :meth:`SimState.configure`)."""
        self._control("POST", "config", _jsonable(options))

    def advance(self, seconds: float) -> float:
        """Move the sim clock forward; returns the new sim time."""
        return json.loads(self._control("POST", "advance", {"seconds": seconds}))["now"]

    def reset(self) -> None:
        """Back to the start-up configuration: empty ledger, fresh balances, no AI tasks."""
        self._control("POST", "reset", {})

    def flush_pushes(self) -> int:
        """Push every report that is final now; returns how many were sent."""
        return json.loads(self._control("POST", "flush", {}))["pushed"]

    def ledger_frame(self, channel: str | None = None):
        """The child's ledger as the same DataFrame :meth:`Ledger.frame` gives in-process."""
        from .ledger import build_frame

        query = "?format=columns" + (f"&channel={channel}" if channel else "")
        return build_frame(json.loads(self._control("GET", "ledger", query=query)))
