"""``python -m buka_nb.simulator``: serve the simulator (the engine behind :class:`SimulatorProcess`).

Same options as ``buka-nb simulator`` plus ``--config-json`` (a JSON object of Simulator keyword
arguments that override the flags) and ``--ready-json`` (print one JSON line when ready instead of
the banner).
"""

from __future__ import annotations

import argparse
import json
import sys

from .launch import add_arguments, options_from_args, serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m buka_nb.simulator", description="Run the BUKA simulator.")
    add_arguments(parser)
    parser.add_argument("--config-json", default=None, help="JSON object of Simulator keyword arguments")
    parser.add_argument("--ready-json", action="store_true", help="print one JSON line when ready")
    args = parser.parse_args(argv)
    options = options_from_args(args)
    if args.config_json:
        options.update(json.loads(args.config_json))
    if isinstance(options.get("report_delay"), list):
        options["report_delay"] = tuple(options["report_delay"])
    return serve(options, ready_json=args.ready_json)


if __name__ == "__main__":
    sys.exit(main())
