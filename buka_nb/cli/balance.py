"""``buka-nb balance``: the account's balance, gift and credit."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("balance", help="show the account balance")
    parser.add_argument("--base-url", help="API root (default $BUKA_BASE_URL or BUKA's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..client import BukaClient
    from ..credentials import Credentials

    creds = Credentials.from_env(**({"base_url": args.base_url} if args.base_url else {}))
    with BukaClient(creds) as client:
        values = client.balance()
    print("  ".join(f"{k}: {v:.2f}" for k, v in values.items()))
    return 0
