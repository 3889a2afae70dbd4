"""Bulk template email from a DataFrame or CSV: validate addresses, group by template data, send, one row back each.

BUKA's ``email/sendEmail`` takes at most 50 addresses and *one* ``templateData`` JSON text per
request, so rows that share the same variable values (and subject) are grouped and each group is
cut into requests of at most 50 addresses. Everything else (journal, concurrency, early stop on
account errors, result frames in the shared schema) is the shared send path of
:mod:`buka_nb.campaign`.

Email has no time-window query (unlike SMS ``getSentRcd``), so a request whose answer was lost
cannot be reconciled: its rows stay ``unknown`` and are never resent unless ``force_unknown=True``.

>>> from buka_nb.simulator import Simulator                                    # doctest: +SKIP
>>> with Simulator() as sim:                                                   # doctest: +SKIP
...     results = send_email(df, template_id="1", from_address="noreply@demo.buka.test",
...                          subject="Your invoice", variables={"name": "first_name"},
...                          credentials=sim.credentials)
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .campaign import DEFAULT, DryRun, Plan, Planner, plan_frame, run_csv, send_frame
from .catalog import DUPLICATE_CODE
from .engine import Batch
from .envelope import Envelope
from .errors import InputError
from .io import require_columns

if TYPE_CHECKING:
    import pandas as pd

MAX_ADDRESSES_PER_REQUEST = 50
MAX_SUBJECT = 100
DUPLICATE_POLICIES = ("first", "allow", "error")
AD_FLAGS = (0, 1, 2)

EMPTY_CODE = -13      # Recipient address cannot be empty
INVALID_CODE = -32    # Invalid email address
SUBJECT_CODE = -17    # Email subject cannot be empty and limited to 100 characters
FIELD_EMPTY_CODE = -5  # Field is empty (a template variable column is empty in this row)


#: The longest part before the @ a mail server must accept (RFC 5321 §4.5.3.1.1).
MAX_LOCAL_PART = 64


@lru_cache(maxsize=65_536)
def check_address(text: str) -> tuple[str | None, str]:
    """``(normalised address, "")`` or ``(None, why)`` for one stripped address; syntax only, no DNS.

    The domain is lower-cased and an internationalised one is sent in its ASCII (punycode) form;
    non-ASCII characters before the ``@`` (SMTPUTF8) are refused, as most mail systems refuse them.

    >>> check_address("Ann@Example.COM")
    ('Ann@example.com', '')
    >>> check_address("ann@bücher.de")
    ('ann@xn--bcher-kva.de', '')
    >>> check_address("ann@")[0] is None
    True
    >>> check_address("ann@example.c")
    (None, 'The domain name example.c ends in c: a top-level domain has 2 or more letters.')
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        checked = validate_email(text, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        return None, str(exc)
    address = checked.ascii_email or checked.normalized
    local, _, domain = address.rpartition("@")
    if len(local) > MAX_LOCAL_PART:  # email_validator checks this only in its strict mode
        return None, (f"The part before the @-sign is {len(local)} characters; mail servers take at most "
                      f"{MAX_LOCAL_PART} (RFC 5321).")
    tld = domain.rsplit(".", 1)[-1]
    if len(tld) < 2 or not (tld.isalpha() or tld.startswith("xn--")):  # what BUKA (the simulator) accepts
        return None, f"The domain name {domain} ends in {tld}: a top-level domain has 2 or more letters."
    return address, ""


def variable_map(variables: Sequence[str] | Mapping[str, str] | str | None) -> dict[str, str]:
    """``{template variable: column}`` from None, a column list (same names) or a mapping.

    >>> variable_map(["name", "city"])
    {'name': 'name', 'city': 'city'}
    >>> variable_map({"firstName": "first_name"})
    {'firstName': 'first_name'}
    """
    if variables is None:
        return {}
    if isinstance(variables, str):
        return {variables: variables}
    if isinstance(variables, Mapping):
        return {str(k): str(v) for k, v in variables.items()}
    return {str(c): str(c) for c in variables}


def check_subject(subject: str | None) -> None:
    """Raise an InputError for a subject BUKA would refuse with -17 (None: checked per row instead)."""
    if subject is None:
        return
    if not isinstance(subject, str) or not subject.strip():
        raise InputError("subject is empty: give a subject of 1-100 characters (BUKA refuses an empty one with -17)")
    if len(subject) > MAX_SUBJECT:
        raise InputError(f"subject is {len(subject)} characters; BUKA allows at most {MAX_SUBJECT} (-17): shorten it")


class EmailPlanner(Planner):
    """Email: address validation, grouping by ``templateData``, batching (``email/sendEmail``)."""

    channel = "email"
    unknown_advice = ("email cannot be reconciled: look for it among the sent emails in BUKA's console; "
                      "force_unknown=True (--force-unknown) sends it again, twice if it did go out")

    def __init__(self, *, template_id: str | int, from_address: str, email_col: str = "email",
                 subject: str | None = None, subject_col: str | None = None,
                 variables: Sequence[str] | Mapping[str, str] | str | None = None, language: str | None = None,
                 ad_flag: int | None = None, duplicates: str = "first", batch_size: int = MAX_ADDRESSES_PER_REQUEST,
                 app_id: str | None = None) -> None:
        template_id = "" if template_id is None else str(template_id).strip()
        if not template_id:
            raise InputError("template_id is empty: give the id of an approved email template (CLI: --template-id)")
        if not template_id.isdigit():
            raise InputError(f"template_id {template_id!r} is not an integer; BUKA template ids are numbers (-25)")
        if not from_address or not str(from_address).strip():
            raise InputError("from_address is empty: give a sender address configured in the BUKA console (-9)")
        if "@" not in str(from_address):
            raise InputError(f"from_address {from_address!r} is not an email address: give a sender address "
                             "configured in the BUKA console")
        if subject is not None and subject_col is not None:
            raise InputError("pass subject= (one subject for everyone) or subject_col= (per row), not both")
        if subject is None and subject_col is None:
            raise InputError("no subject: BUKA refuses an email without one (-17 'Email subject cannot be empty'); "
                             "pass subject= (1-100 characters) or subject_col= (CLI: --subject)")
        check_subject(subject)
        if ad_flag is not None and ad_flag not in AD_FLAGS:
            raise InputError(f"ad_flag={ad_flag!r}: use 0 (none), 1 (before the subject) or 2 (after it) (-27)")
        if duplicates not in DUPLICATE_POLICIES:
            raise InputError(f"duplicates={duplicates!r}: use one of {', '.join(DUPLICATE_POLICIES)}")
        if not 1 <= batch_size <= MAX_ADDRESSES_PER_REQUEST:
            raise InputError(f"batch_size must be 1-{MAX_ADDRESSES_PER_REQUEST} (BUKA's limit per request), "
                             f"got {batch_size}")
        self.template_id, self.from_address = template_id, str(from_address).strip()
        self.email_col, self.subject, self.subject_col = email_col, subject, subject_col
        self.variables = variable_map(variables)
        self.language, self.ad_flag, self.duplicates = language, ad_flag, duplicates
        self.batch_size, self.app_id = batch_size, app_id
        self.order_prefix = "o"

    def options(self) -> dict[str, Any]:
        return {"template_id": self.template_id, "from": self.from_address, "email_col": self.email_col,
                "subject": self.subject, "subject_col": self.subject_col, "variables": self.variables,
                "language": self.language, "ad_flag": self.ad_flag, "duplicates": self.duplicates,
                "batch_size": self.batch_size, "app_id": self.app_id}

    def required_columns(self) -> tuple[str, ...]:
        extra = (self.subject_col,) if self.subject_col else ()
        return tuple(dict.fromkeys((self.email_col, *extra, *self.variables.values())))

    def check_columns(self, frame: pd.DataFrame, source: str = "the frame") -> None:
        require_columns(frame, (self.email_col,), source=source, option="email_col")
        if self.subject_col:
            require_columns(frame, (self.subject_col,), source=source, option="subject_col")
        for var, column in self.variables.items():
            if column not in frame.columns:
                require_columns(frame, (column,), source=f"{source} (template variable {var!r})",
                                fix=f"Add the column, or map the variable to one there is: variables={{{var!r}: <column>}} "
                                    f"(CLI: --var {var}=<column>).")

    # -- pure planning ----------------------------------------------------------------------
    def plan(self, chunk: pd.DataFrame, offset: int, first_batch: int, seen: dict[str, tuple[int, Any]]) -> Plan:
        import pandas as pd

        self.check_columns(chunk)
        n = len(chunk)
        labels = chunk.index.tolist()  # plain Python values, for messages
        raw = chunk[self.email_col].astype("string").str.strip()
        code = np.zeros(n, dtype=np.int64)
        detail = np.full(n, None, dtype=object)
        recipients = np.full(n, None, dtype=object)

        empty = (raw.isna() | (raw == "")).to_numpy()
        code[empty] = EMPTY_CODE
        detail[empty] = f"column {self.email_col!r} is empty: fill in the email address or drop the row"
        present = ~empty
        values = raw.to_numpy(dtype=object, na_value=None)
        checked = {v: check_address(v) for v in pd.unique(values[present])}  # the validator is slow: unique only
        for i in np.flatnonzero(present):
            address, why = checked[values[i]]
            if address is None:
                code[i] = INVALID_CODE
                several = "," in values[i] or ";" in values[i]
                detail[i] = (f"column {self.email_col!r} value {values[i]!r} is not a valid address: "
                             + ("put one address per row" if several else f"{why.rstrip('.')}; fix it"))
            else:
                recipients[i] = address

        subjects = None
        if self.subject_col:
            subjects = chunk[self.subject_col].astype("string").to_numpy(dtype=object, na_value=None)
            for i in np.flatnonzero(code == 0):
                s = subjects[i]
                if s is None or not s.strip():
                    code[i], detail[i] = SUBJECT_CODE, (f"column {self.subject_col!r} is empty: "
                                                        "give a subject of 1-100 characters")
                elif len(s) > MAX_SUBJECT:
                    code[i], detail[i] = SUBJECT_CODE, (f"column {self.subject_col!r} is {len(s)} characters; "
                                                        f"BUKA allows at most {MAX_SUBJECT}: shorten it")

        columns = list(dict.fromkeys(self.variables.values()))
        var_values: dict[str, np.ndarray] = {}
        for column in columns:
            text = chunk[column].astype("string")
            var_values[column] = text.to_numpy(dtype=object, na_value=None)
            blank = (text.isna() | (text.str.strip() == "")).to_numpy() & (code == 0)
            code[blank] = FIELD_EMPTY_CODE
            detail[blank] = (f"column {column!r} is empty in this row but the template uses it: fill it in, "
                             "or drop the column from variables=")

        if self.duplicates != "allow":
            dup_code = DUPLICATE_CODE["email"]
            for i in np.flatnonzero(code == 0):
                key = recipients[i].lower()
                # (row position, label) of the address's first row: positions decide, labels only name it
                first_row, first = seen.setdefault(key, (offset + int(i), labels[i]))
                if first_row != offset + i:
                    if self.duplicates == "error":
                        raise InputError(f"row {labels[i]!r}: column {self.email_col!r} repeats {recipients[i]} "
                                         f"from row {first!r}; remove it or pass duplicates='first'")
                    code[i] = dup_code
                    detail[i] = (f"duplicate of row {first!r} ({recipients[i]}, ignoring case): sent once only "
                                 "(duplicates='first'; pass duplicates='allow' to send it again)")

        bad = np.flatnonzero(code != 0)
        plan = Plan([], (bad + offset).tolist(), [recipients[i] or values[i] for i in bad], code[bad].tolist(),
                    detail[bad].tolist())
        # one templateData (and subject) per request: group rows by their values, in first-seen order
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        for i in np.flatnonzero(code == 0):
            key = (subjects[i] if subjects is not None else None, *(var_values[c][i] for c in columns))
            groups[key].append(int(i))
        number = first_batch
        for key, members in groups.items():
            data = None
            if self.variables:
                by_column = dict(zip(columns, key[1:]))
                data = json.dumps({var: by_column[col] for var, col in self.variables.items()},
                                  ensure_ascii=False, separators=(",", ":"))
            subject = key[0] if subjects is not None else self.subject
            for start in range(0, len(members), self.batch_size):
                idx = np.asarray(members[start:start + self.batch_size])
                plan.batches.append(Batch(number, (idx + offset).tolist(), recipients[idx].tolist(), [],
                                          {"template_data": data, "subject": subject}))
                number += 1
        plan.stats = {"rows": n, "valid": n - len(bad), "invalid": len(bad), "batches": len(plan.batches),
                      "groups": len(groups)}
        return plan

    def batch_stats(self, batch: Batch) -> dict[str, int]:
        return {"emails": len(batch.rows)}

    # -- I/O -------------------------------------------------------------------------------
    async def send(self, client: Any, batch: Batch) -> Envelope:
        return await client.send_email(batch.recipients, template_id=self.template_id,
                                       from_address=self.from_address, subject=batch.payload.get("subject"),
                                       template_data=batch.payload.get("template_data"), language=self.language,
                                       ad_flag=self.ad_flag, app_id=self.app_id, check=False)

    def read(self, batch: Batch, envelope: Envelope) -> tuple[list[int], list[str | None]]:
        by_address: dict[str, list[str]] = defaultdict(list)
        for item in envelope.items("array"):
            email_id = str(item.get("emailId") or "").strip()
            if email_id:
                by_address[str(item.get("toAddress", "")).strip().lower()].append(email_id)
        ids = [by_address[a.lower()].pop(0) if by_address.get(a.lower()) else None for a in batch.recipients]
        # BUKA lists one emailId per accepted address; an address it left out was not accepted
        return [0 if m else INVALID_CODE for m in ids], ids


_PLANNER_KEYS = ("template_id", "from_address", "email_col", "subject", "subject_col", "variables", "language",
                 "ad_flag", "duplicates", "batch_size", "app_id")


def _planner(kwargs: dict[str, Any]) -> tuple[EmailPlanner, dict[str, Any]]:
    for key in ("template_id", "from_address"):
        if key not in kwargs:
            raise TypeError(f"missing required keyword argument {key!r}")
    return EmailPlanner(**{k: kwargs.pop(k) for k in _PLANNER_KEYS if k in kwargs}), kwargs


def send_email(frame: pd.DataFrame, *, template_id: str | int, from_address: str, email_col: str = "email",
               subject: str | None = None, subject_col: str | None = None,
               variables: Sequence[str] | Mapping[str, str] | None = None, language: str | None = None,
               ad_flag: int | None = None, duplicates: str = "first", batch_size: int = MAX_ADDRESSES_PER_REQUEST,
               app_id: str | None = None, credentials: Any = None, client: Any = None, journal: Any = DEFAULT,
               campaign_id: str | None = None, max_in_flight: int = 8, rate_limit: float | None = None,
               timeout: float = 15.0, force_unknown: bool = False, progress: bool | None = None,
               chunksize: int | None = None) -> pd.DataFrame:
    """Send one template email per row of *frame*; return a result frame on the same index.

    ``variables`` fills the template: a list of columns (variable name = column name) or a mapping
    ``{template variable: column}``. Rows sharing the same values share a request (at most
    ``batch_size`` <= 50 addresses). Addresses are checked with ``email-validator`` (syntax only)
    and normalised; empty ones get -13, invalid ones -32, repeats (ignoring case) -2, and an empty
    variable value -5, all without being sent. ``msg_id`` holds BUKA's emailId. A subject is
    required (BUKA's -17 says it "cannot be empty"): a missing, empty or over-100-character
    ``subject=`` raises :class:`~buka_nb.errors.InputError` before anything is sent;
    ``subject_col=`` takes the subject per row instead (-17 per bad row). The input is not modified.

    >>> import pandas as pd
    >>> plan = plan_email(pd.DataFrame({"email": ["a@example.com", "bad@", "A@example.com"]}),
    ...                   template_id=1, from_address="noreply@example.com", subject="Hello")
    >>> plan.results.code.tolist()
    [<NA>, -32, -2]
    """
    planner = EmailPlanner(template_id=template_id, from_address=from_address, email_col=email_col,
                           subject=subject, subject_col=subject_col, variables=variables, language=language,
                           ad_flag=ad_flag, duplicates=duplicates, batch_size=batch_size, app_id=app_id)
    return send_frame(planner, frame, chunksize=chunksize, credentials=credentials, client=client,
                      journal=journal, campaign_id=campaign_id, max_in_flight=max_in_flight,
                      rate_limit=rate_limit, timeout=timeout, force_unknown=force_unknown, progress=progress)


def plan_email(frame: pd.DataFrame, **options: Any) -> DryRun:
    """Validate, group and batch without sending: what ``buka-nb email send --dry-run`` shows."""
    planner, rest = _planner(dict(options))
    if rest:
        raise TypeError(f"plan_email() got unexpected options {sorted(rest)}")
    return plan_frame(planner, frame)


def send_email_csv(path: str | Path, *, out: str | Path | None = None, chunksize: int = 100_000,
                   encoding: str | None = None, dry_run_only: bool = False, **options: Any) -> pd.DataFrame | Path | DryRun:
    """Send a CSV of recipients, streaming it in chunks (options as :func:`send_email`).

    With ``out=`` (``.csv`` or ``.parquet``) results are written chunk by chunk and the path is
    returned; otherwise the result frame is returned. Rows are grouped by template data within a
    chunk, so a smaller ``chunksize`` can mean a few more requests, never larger ones.
    """
    planner, rest = _planner(dict(options))
    return run_csv(planner, path, out=out, chunksize=chunksize, encoding=encoding, dry_run_only=dry_run_only,
                   **rest)


__all__ = ["EmailPlanner", "check_address", "plan_email", "send_email", "send_email_csv", "variable_map"]
