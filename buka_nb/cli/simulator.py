"""``buka-nb simulator``: serve the local BUKA simulator on 127.0.0.1 until Ctrl-C.

Prints the base URL and the exact ``export BUKA_...`` lines to point the client at it. The demo
secret may be printed (it is the documented demo account); a secret from the environment never is.
"""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..simulator.launch import add_arguments  # light: the server is imported only by run()

    parser = subparsers.add_parser(
        "simulator", help="run the local BUKA simulator (loopback only)",
        description="Serve a faithful BUKA API on 127.0.0.1 to rehearse campaigns, test and demo. "
                    "Accounts come from BUKA_API_KEY/BUKA_API_SECRET/BUKA_*_APP_ID when set, else the demo account.")
    add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..simulator.launch import options_from_args, serve

    from ..errors import ConfigError, InputError

    try:
        options = options_from_args(args)
    except ValueError as exc:  # a bad --fault/--scenario spec is an input error, not a crash
        raise InputError(str(exc)) from exc
    try:
        return serve(options)
    except OSError as exc:  # typically the port is taken: say so in one line
        raise ConfigError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}; "
                          "choose another --port (0 picks a free one)") from exc
