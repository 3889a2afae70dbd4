"""Options and output shared by the ``buka-nb <channel> send`` commands."""

from __future__ import annotations

import argparse
import sys

import numpy as np
from pathlib import Path
from typing import Any

#: Exit code when an error that every later request would meet too stopped the campaign (bad credentials,
#: a locked account, no balance): the README's ``1``, as for errors raised before anything was sent.
EXIT_STOPPED = 1
#: Exit code when the campaign ran but some rows were refused (locally or by BUKA) or are unknown.
EXIT_REFUSED_ROWS = 3


def add_send_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="CSV of recipients (UTF-8, BOM and ; or , delimiters are fine)")
    parser.add_argument("--out", type=Path, help="where to write one result row per input row (.csv or .parquet); "
                        "default FILE.results.csv")
    parser.add_argument("--dry-run", action="store_true", help="validate and batch, print what would be sent, send nothing")
    parser.add_argument("--duplicates", choices=("first", "allow", "error"), default="first",
                        help="repeated recipients: send the first only (default), send all, or stop")
    parser.add_argument("--campaign-id", help="name the campaign; running the same command again resumes it")
    parser.add_argument("--journal", help="send-journal file (default $BUKA_JOURNAL or ~/.buka_nb/journal.sqlite3)")
    parser.add_argument("--no-journal", action="store_true", help="do not journal (no resume, no crash safety)")
    parser.add_argument("--force-unknown", action="store_true",
                        help="resend rows whose earlier outcome is unknown (may send them twice)")
    parser.add_argument("--max-in-flight", type=int, default=8, help="concurrent requests (default 8)")
    parser.add_argument("--rate-limit", type=float, help="at most this many requests per second")
    parser.add_argument("--chunksize", type=int, default=100_000, help="rows read per chunk (default 100000)")
    parser.add_argument("--encoding", help="file encoding when it is not UTF-8, e.g. cp1252")
    parser.add_argument("--base-url", help="API root, e.g. the simulator's http://127.0.0.1:8765/v3 "
                        "(default $BUKA_BASE_URL or BUKA's)")


def campaign_options(args: argparse.Namespace) -> dict[str, Any]:
    from ..credentials import Credentials

    overrides = {"base_url": args.base_url} if args.base_url else {}
    return {"credentials": Credentials.from_env(**overrides),
            "journal": None if args.no_journal else (args.journal or "default"),
            "campaign_id": args.campaign_id, "force_unknown": args.force_unknown,
            "max_in_flight": args.max_in_flight, "rate_limit": args.rate_limit, "progress": sys.stderr.isatty()}


def out_path(args: argparse.Namespace) -> Path:
    from ..errors import InputError

    if args.out is not None and args.out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise InputError(f"--out {args.out}: results are written as .csv or .parquet; give one of those")
    return args.out or args.file.with_suffix(".results.csv")


def print_dry_run(plan: Any, file: Path) -> int:
    s = plan.summary
    print(f"dry run of {file}: {s['rows']} rows, {s['valid']} valid, {s['invalid']} invalid, "
          f"{s['requests']} request(s); nothing was sent")
    for key, n in sorted(s.get("extra", {}).items()):
        print(f"  {key}: {n}")
    for (code, reason), n in s["invalid_by_reason"].items():
        print(f"  {n:>6} invalid  {code:>4}  {reason}")
    print_refused(plan.results)
    return 0


def print_refused(results: Any, limit: int = 10) -> None:
    refused = results[results.state.isin(["invalid", "rejected"]).fillna(False)]
    for label, row in refused.head(limit).iterrows():
        line = f" (line {label + 2} of the file)" if isinstance(label, (int, np.integer)) else ""
        print(f"  row {label}{line}: {row.code} {row.reason}" + (f": {row.detail}" if isinstance(row.detail, str) else ""))
    if len(refused) > limit:
        print(f"  ... and {len(refused) - limit} more refused rows; see the results file")


def print_summary(results: Any, path: Path | None) -> int:
    counts = results.state.value_counts()
    parts = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("accepted", "rejected", "invalid", "not_sent", "unknown"))
    print(f"{len(results)} rows: {parts}")
    print_refused(results)
    if path is not None:
        print(f"results: {path}")
    stopped = results[(results.state == "not_sent").fillna(False)]
    if len(stopped):
        print(f"stopped early: {stopped.detail.dropna().iloc[0] if stopped.detail.notna().any() else stopped.reason.iloc[0]}")
    fatal = fatal_code(results)
    if fatal is not None:
        print(f"buka-nb: the campaign was stopped by {fatal}: fix that, then run the same command again "
              "(rows already accepted are not sent twice)", file=sys.stderr)
        return EXIT_STOPPED
    problem = len(results) - counts.get("accepted", 0)
    return EXIT_REFUSED_ROWS if problem else 0


def fatal_code(results: Any) -> str | None:
    """``"<code> <reason>"`` of an error BUKA gave that stops a campaign (the catalog's ``fatal``), if any row has one."""
    from ..catalog import lookup

    refused = results[results.state.isin(["rejected", "not_sent"]).fillna(False) & results.code.notna()]
    for channel, code in refused[["channel", "code"]].drop_duplicates().itertuples(index=False):
        info = lookup(str(channel), int(code))
        if info.fatal:
            return f"{int(code)} {info.reason}"
    return None


def read_results(path: Path) -> Any:
    """:func:`buka_nb.stream.read_results`, with a missing or foreign file as an input error."""
    import pandas as pd

    from ..errors import InputError
    from ..stream import read_results as read

    if not path.is_file():
        raise InputError(f"{path} does not exist: pass the results file 'buka-nb <channel> send' wrote (--out)")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            columns, needed = set(pq.read_schema(path).names), {"channel", "state", "msg_id"}
        else:  # the header line only: the whole file is read once, below
            columns, needed = set(pd.read_csv(path, nrows=0).columns), {"row", "channel", "state", "msg_id"}
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"{path.name} is not a results file of 'buka-nb <channel> send' ({str(exc).splitlines()[0]}): "
                         "pass the file it wrote (--out), not the recipients") from None
    missing = needed - columns
    if missing:
        raise InputError(f"{path.name} is not a results file of 'buka-nb <channel> send' (no column "
                         f"{', '.join(map(repr, sorted(missing)))}): pass the file it wrote (--out), not the recipients")
    return read(path)
