"""``buka-nb sms send FILE.csv``: a bulk SMS campaign from a CSV, or a dry run of one."""

from __future__ import annotations

import argparse

from ._common import add_send_arguments, campaign_options, out_path, print_dry_run, print_summary, read_results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sms", help="bulk SMS from a CSV")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = actions.add_parser("send", help="send one SMS per CSV row and write one result row per input row")
    add_send_arguments(send)
    text = send.add_mutually_exclusive_group(required=True)
    text.add_argument("--content", help="the same text for every recipient")
    text.add_argument("--template", help="text with {column} placeholders filled from each row")
    send.add_argument("--number-col", default="phone", help="column with phone numbers (default 'phone')")
    send.add_argument("--sender-id", help="sender id (at most 32 characters)")
    send.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sms import send_sms_csv

    options = dict(content=args.content, template=args.template, number_col=args.number_col,
                   sender_id=args.sender_id, duplicates=args.duplicates)
    if args.dry_run:
        plan = send_sms_csv(args.file, chunksize=args.chunksize, encoding=args.encoding, dry_run_only=True, **options)
        return print_dry_run(plan, args.file)
    out = out_path(args)
    send_sms_csv(args.file, out=out, chunksize=args.chunksize, encoding=args.encoding,
                 **options, **campaign_options(args))
    return print_summary(read_results(out), out)
