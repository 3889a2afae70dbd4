"""``buka-nb catalog [CHANNEL] [--code N]``: BUKA status codes with category and suggested action."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("catalog", help="list or look up BUKA status codes")
    parser.add_argument("channel", nargs="?", choices=("sms", "email", "voice"), help="one channel (default all)")
    parser.add_argument("--code", type=int, help="look up one code (needs CHANNEL)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..catalog import catalog, lookup

    if args.code is not None:
        if not args.channel:
            print("buka-nb: --code needs a channel, e.g. buka-nb catalog sms --code -9")
            return 2
        info = lookup(args.channel, args.code)
        print(f"{info.channel} {info.code}: {info.reason}\n  category: {info.category}, "
              f"retry can help: {'yes' if info.retryable else 'no'}\n  action: {info.action}")
        return 0
    frame = catalog(args.channel)
    print(frame[["channel", "code", "reason", "category", "retryable"]].to_string(index=False))
    return 0
