"""``buka-nb report RESULTS.csv``: fetch delivery reports for a results file and write them back."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="collect delivery reports into a results file")
    parser.add_argument("results", type=Path, help="a results file written by 'buka-nb <channel> send'")
    parser.add_argument("--wait", type=float, default=0.0, help="keep polling up to this many seconds while reports are pending")
    parser.add_argument("--out", type=Path, help="where to write the merged results (default: overwrite RESULTS)")
    parser.add_argument("--base-url", help="API root (default $BUKA_BASE_URL or BUKA's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..credentials import Credentials
    from ..reports import collect_reports
    from ._common import read_results

    results = read_results(args.results)  # an unusable file is said before credentials are looked for
    creds = Credentials.from_env(**({"base_url": args.base_url} if args.base_url else {}))
    merged = collect_reports(results, credentials=creds, wait=args.wait)
    out = args.out or args.results
    if out.suffix.lower() in (".parquet", ".pq"):
        merged.to_parquet(out)
    else:
        merged.to_csv(out, index_label="row")
    counts = merged.delivery.value_counts()
    print(", ".join(f"{counts.get(k, 0)} {k}" for k in ("delivered", "pending", "failed")) + f"; written to {out}")
    return 0
