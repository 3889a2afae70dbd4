"""``buka-nb demo``: the sample campaigns on every channel, against the simulator or the real API."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "demo", help="sample campaigns on every channel against the built-in simulator: results and a failure chart",
        description="Send the sample recipient files on every channel, wait for delivery reports, and write the "
                    "result files, a summary and the failures-by-reason chart to --out. Without --base-url (or "
                    "BUKA_BASE_URL) it runs against an embedded simulator and needs no credentials.")
    parser.add_argument("--out", type=Path, default=Path("buka-demo"), help="output folder (default ./buka-demo)")
    parser.add_argument("--base-url", help="talk to this API root with the BUKA_* credentials from the environment "
                        "instead of starting the simulator (default $BUKA_BASE_URL when set)")
    parser.add_argument("--wait", type=float, help="seconds to wait for delivery reports (default 10 on the "
                        "simulator, 60 on the API)")
    parser.add_argument("--data", type=Path, help="folder with the sample CSVs (default the repository's data/)")
    parser.add_argument("--email-template-id", help="approved email template id (real API; the simulator's is 2)")
    parser.add_argument("--email-from", help="sender address configured in the BUKA console (real API)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..credentials import Credentials
    from ..demo import SIM_EMAIL_FROM, SIM_EMAIL_TEMPLATE, run_demo

    base_url = args.base_url or os.environ.get("BUKA_BASE_URL")
    credentials = Credentials.from_env(base_url=base_url) if base_url else None
    print(f"buka-nb demo: {'talking to ' + credentials.base_url if credentials else 'starting the BUKA simulator'}"
          " ...", flush=True)
    result = run_demo(args.out, credentials=credentials, data=args.data, wait=args.wait,
                      email_template_id=args.email_template_id or SIM_EMAIL_TEMPLATE,
                      email_from=args.email_from or SIM_EMAIL_FROM)
    print(f"sent the sample campaigns ({result.data_source}) on: {', '.join(result.results) or 'no channel'}\n")
    table = result.summary.copy()
    table["failure_rate"] = table["failure_rate"].map("{:.0%}".format)
    print(table.to_string(index=False))
    if result.next_steps is not None and len(result.next_steps):
        print("\nwhat to do next:")
        steps = result.next_steps.groupby(["step", "channel"], sort=False)["rows"].sum().reset_index()
        for row in steps.itertuples(index=False):
            print(f"  {row.step:<28} {row.channel:<6} {row.rows:>5} rows")
    print("\nwrote:")
    for path in result.paths:
        print(f"  {path}")
    return 0
