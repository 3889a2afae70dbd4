"""``buka-nb receiver``: run the delivery-report push receiver until Ctrl-C."""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("receiver", help="receive BUKA delivery-report pushes into a SQLite file")
    parser.add_argument("--db", type=Path, default=Path("buka-reports.sqlite3"), help="where to store reports")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    parser.add_argument("--port", type=int, default=8766, help="port (default 8766)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..receiver import ReportReceiver

    try:
        receiver = ReportReceiver(args.db, host=args.host, port=args.port)
    except OSError as exc:  # typically the port is taken: say so in one line
        raise ConfigError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}; "
                          "choose another --port (0 picks a free one)") from exc
    with receiver as rx:
        print(f"receiving BUKA reports on {rx.url} into {args.db} (Ctrl-C to stop)", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            print(f"stopped; {rx.store.count()} report(s) stored")
    return 0
