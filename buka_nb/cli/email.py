"""``buka-nb email send FILE.csv``: a bulk template-email campaign from a CSV, or a dry run of one."""

from __future__ import annotations

import argparse

from ._common import add_send_arguments, campaign_options, out_path, print_dry_run, print_summary, read_results


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("email", help="bulk template email from a CSV")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    send = actions.add_parser("send", help="send one template email per CSV row and write one result row per input row")
    add_send_arguments(send)
    send.add_argument("--template-id", required=True, help="id of an approved email template (a number)")
    send.add_argument("--from", dest="from_address", required=True, metavar="ADDRESS",
                      help="sender address configured in the BUKA console")
    subject = send.add_mutually_exclusive_group(required=True)
    subject.add_argument("--subject", help="the subject for everyone (1-100 characters)")
    subject.add_argument("--subject-col", help="column holding each row's subject")
    send.add_argument("--email-col", default="email", help="column with email addresses (default 'email')")
    send.add_argument("--var", action="append", default=[], metavar="NAME=COLUMN", type=_variable,
                      help="fill template variable NAME from COLUMN (NAME alone: a column of that name); repeatable")
    send.add_argument("--language", help="template language, e.g. en (default: the template's default)")
    send.add_argument("--ad-flag", type=int, choices=(0, 1, 2),
                      help="advertising marker: 0 none, 1 before the subject, 2 after it")
    send.set_defaults(func=run)


def _variable(text: str) -> tuple[str, str]:
    name, sep, column = text.partition("=")
    name, column = name.strip(), (column.strip() if sep else name.strip())
    if not name or not column:
        raise argparse.ArgumentTypeError(f"{text!r}: write NAME=COLUMN, e.g. --var firstName=first_name")
    return name, column


def run(args: argparse.Namespace) -> int:
    from ..email import send_email_csv

    options = dict(template_id=args.template_id, from_address=args.from_address, subject=args.subject,
                   subject_col=args.subject_col, email_col=args.email_col, variables=dict(args.var) or None,
                   language=args.language, ad_flag=args.ad_flag, duplicates=args.duplicates)
    if args.dry_run:
        plan = send_email_csv(args.file, chunksize=args.chunksize, encoding=args.encoding, dry_run_only=True, **options)
        return print_dry_run(plan, args.file)
    out = out_path(args)
    send_email_csv(args.file, out=out, chunksize=args.chunksize, encoding=args.encoding,
                   **options, **campaign_options(args))
    return print_summary(read_results(out), out)
