"""``buka-nb voice send FILE.csv``: an intelligent-voice (AI call) campaign from a CSV, or a dry run of one.

Call outcomes arrive later: ``buka-nb report RESULTS.csv`` fills them in from the call records.
"""

from __future__ import annotations

import argparse
import warnings

from ._common import add_send_arguments, campaign_options, out_path, print_dry_run, print_summary, read_results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("voice", help="intelligent-voice (AI call) campaign from a CSV")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = actions.add_parser("send", help="import the CSV rows into one AI-voice task, start it, and write one "
                              "result row per input row")
    add_send_arguments(send)
    send.add_argument("--phone-col", default="phone", help="column with phone numbers (default 'phone')")
    send.add_argument("--name-col", default="name",
                      help="column with customer names (default 'name'; '' to use the phone number as the name)")
    send.add_argument("--property", action="append", dest="properties", metavar="COL",
                      help="send COL as a customer property; repeatable (default: every column but the phone)")
    send.add_argument("--task-name", help="task name (default: the campaign id, so a rerun finds its task)")
    send.add_argument("--dialog-flow-id", type=int, help="script id (default: the first script of the account)")
    send.add_argument("--line-id", help="outbound line id (default: the first line of the account)")
    send.add_argument("--robot-count", type=int, default=1, help="concurrent AI robots (default 1)")
    send.add_argument("--daily-window", default="09:00-20:00", type=_window, metavar="HH:MM-HH:MM",
                      help="daily dialling window within 09:00-20:00 (default 09:00-20:00)")
    send.add_argument("--no-start", action="store_true", help="import only; start the task later in the console")
    send.set_defaults(func=run)


def _window(text: str) -> tuple[str, str]:
    start, sep, end = text.partition("-")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: write the window as HH:MM-HH:MM, e.g. 09:00-18:00")
    return start.strip(), end.strip()


def run(args: argparse.Namespace) -> int:
    from ..voice import send_voice_csv

    options = dict(phone_col=args.phone_col, name_col=args.name_col or None, properties=args.properties,
                   task_name=args.task_name, dialog_flow_id=args.dialog_flow_id, line_id=args.line_id,
                   robot_count=args.robot_count, daily_window=args.daily_window, start=not args.no_start,
                   duplicates=args.duplicates)
    if args.dry_run:
        plan = send_voice_csv(args.file, chunksize=args.chunksize, encoding=args.encoding, dry_run_only=True, **options)
        return print_dry_run(plan, args.file)
    out = out_path(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        send_voice_csv(args.file, out=out, chunksize=args.chunksize, encoding=args.encoding,
                       **options, **campaign_options(args))
    problems = [str(w.message) for w in caught if str(w.message).startswith("voice task")]
    results = read_results(out)
    tasks = results.task_id.dropna().unique()
    if len(tasks):
        state = "imported" if args.no_start or problems else "imported and started"
        print(f"voice task jobId {', '.join(tasks)}: {state}; collect call outcomes with: buka-nb report {out}")
    for message in problems:
        print(f"warning: {message}")
    return print_summary(results, out)
