"""The ``buka-nb`` command line: a thin layer that parses, calls one library function, prints.

Each sub-command lives in its own module with ``register(subparsers)``; library errors become one
readable line on stderr (secrets redacted) and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ..credentials import redact
from ..errors import BukaError, InputError

#: Sub-command modules, in the order ``buka-nb --help`` lists them.
COMMANDS = ("simulator", "sms", "email", "voice", "report", "receiver", "balance", "catalog", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="buka-nb",
        description="Send and analyse BUKA SMS, email and voice campaigns; rehearse them on a local simulator.")
    parser.add_argument("--version", action="version", version=f"buka-nb {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as exc:  # a command still being built is simply not listed
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # here, not at exit: a reader that has gone away is then an exit code, not a traceback
        return code
    except InputError as exc:
        print(f"buka-nb: input error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except BukaError as exc:
        print(f"buka-nb: {redact(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("buka-nb: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `buka-nb ... | head`: the reader has gone, as for any Unix tool
        # stdout is pointed at devnull so that flushing it at exit cannot raise again (Python's signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _version() -> str:
    from .. import __version__
    return __version__
