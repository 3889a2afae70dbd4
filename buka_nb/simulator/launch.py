"""Running the simulator from a command line: shared options, the start-up banner, the serve loop.

Used by ``buka-nb simulator`` and ``python -m buka_nb.simulator``. Importing this module is cheap;
the server is only imported when :func:`serve` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, TextIO

from ..credentials import DEMO, ENV

DEFAULT_PORT = 8765


def add_arguments(parser: argparse.ArgumentParser, *, default_port: int = DEFAULT_PORT) -> None:
    parser.add_argument("--port", type=int, default=default_port,
                        help=f"port on 127.0.0.1 (default {default_port}; 0 = any free port)")
    parser.add_argument("--seed", type=int, default=0, help="seed for delivery outcomes and faults (default 0)")
    parser.add_argument("--balance", type=float, default=None, help="starting balance of the account (default 1000)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds from a request's arrival to its answer")
    parser.add_argument("--report-delay", type=float, nargs=2, metavar=("MIN", "MAX"), default=(2.0, 30.0),
                        help="seconds from submission to a final delivery report (default 2 30)")
    parser.add_argument("--clock-offset", type=float, default=0.0,
                        help="seconds the simulator's clock runs ahead of this machine's (negative: behind)")
    parser.add_argument("--rate-limit", type=float, default=None, help="requests per second before -15")
    parser.add_argument("--fault", action="append", default=[], metavar="SPEC",
                        help="inject a fault, e.g. 'http500,endpoint=sendSms,n=3' or 'reset_after,p=0.01' "
                             "(repeatable; see buka_nb.simulator.config)")
    parser.add_argument("--scenario", action="append", default=[], metavar="SPEC",
                        help="force outcomes by recipient, e.g. '^9199=fail:UNDELIV@sms' or '666$=code:-3' (repeatable)")
    parser.add_argument("--push-url", default=None, help="POST SMS delivery reports (DLR) to this URL")
    parser.add_argument("--voice-push-url", default=None, help="POST AI-voice call reports to this URL")


def options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Simulator keyword arguments from parsed command-line options."""
    from .config import Fault, Scenario

    return {"port": args.port, "seed": args.seed, "balance": args.balance, "latency": args.latency,
            "report_delay": tuple(args.report_delay), "clock_offset": args.clock_offset,
            "rate_limit": args.rate_limit, "faults": [Fault.parse(s) for s in args.fault],
            "scenarios": [Scenario.parse(s) for s in args.scenario], "push_url": args.push_url,
            "voice_push_url": args.voice_push_url}


def banner(sim: Any) -> str:
    """What to tell a person who just started the simulator: where it is and how to point buka_nb at it.

    The demo secret is printed (it is the documented demo account); any other secret never is.
    """
    account = sim.account
    source = sim.state.account_source
    if account.api_secret == DEMO["api_secret"]:
        secret_line = f"export {ENV['api_secret']}={account.api_secret}   # the documented demo secret"
    elif source == "environment":
        secret_line = f"# {ENV['api_secret']}: already set in your environment (from {ENV['api_secret']})"
    else:
        secret_line = f"# {ENV['api_secret']}: the secret you configured (not printed)"
    return "\n".join([
        f"BUKA simulator listening on {sim.url}  (loopback only, seed {sim.state.seed})",
        f"Control API: {sim.base}/_sim/stats  /_sim/ledger?channel=sms  /_sim/config  /_sim/advance  /_sim/reset",
        "Point buka_nb at it:",
        f"  export {ENV['base_url']}={sim.url}",
        f"  export {ENV['api_key']}={account.api_key}",
        f"  {secret_line}",
        f"  export {ENV['sms_app_id']}={account.sms_app_id} {ENV['email_app_id']}={account.email_app_id} "
        f"{ENV['voice_app_id']}={account.voice_app_id}",
        f"Email: sender {account.senders[0]}, templates 1 (code), 2 (welcome), 3 (newsletter), e.g. "
        f"buka-nb email send FILE --template-id 2 --from {account.senders[0]} --subject Hi",
        "In Python: Credentials.demo(base_url=...) or BukaClient(sim.credentials) in-process.",
        "Press Ctrl-C to stop.",
    ])


def serve(options: dict[str, Any], *, ready_json: bool = False, out: TextIO | None = None) -> int:
    """Run a simulator until Ctrl-C, SIGTERM or ``POST /_sim/shutdown``.

    With *ready_json* the only output is one JSON line ``{"ready": true, "url": ..., "port": ...}``
    (what :class:`SimulatorProcess` waits for); otherwise the human banner.
    """
    from .app import Simulator

    out = out or sys.stdout
    sim = Simulator(**options).start()
    previous = None
    # Everything after start() sits in the try: a Ctrl-C right after the banner is a normal stop.
    try:
        try:  # before announcing readiness, so a SIGTERM right after it is a clean stop too
            previous = signal.signal(signal.SIGTERM, lambda *_: sim.stopping.set())
        except ValueError:  # not the main thread (embedded use): rely on Ctrl-C / shutdown
            pass
        if ready_json:
            out.write(json.dumps({"ready": True, "url": sim.url, "port": sim.port, "pid": os.getpid(),
                                  "api_key": sim.account.api_key}) + "\n")
        else:
            out.write(banner(sim) + "\n")
        out.flush()
        while not sim.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return 0
