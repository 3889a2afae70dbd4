"""The CSV-upload panel's logic, free of ipywidgets: read an upload, map columns, dry-run, send, export.

:class:`buka_nb.widgets.UploadPanel` only builds widgets and calls these functions, so tests and
scripts drive the same steps directly:

>>> frame = read_upload(b"\\xef\\xbb\\xbfphone;name\\n+44 7911 123456;Ann\\n12;Bob\\n")
>>> mapping = suggest_columns(frame, "sms")
>>> mapping
{'number_col': 'phone'}
>>> options = build_options("sms", mapping, {"message": "Hi {name}"})
>>> options
{'number_col': 'phone', 'template': 'Hi {name}'}
>>> plan = dry_run(frame, "sms", **options)
>>> plan.summary["valid"], plan.summary["invalid"]
(1, 1)

Channels are described by :class:`ChannelSpec` entries in :data:`CHANNEL_SPECS`: which columns
to map (and the keyword of the channel's ``plan_*``/``send_*`` function each one fills), which
texts to ask for, and how delivery outcomes are collected. A channel whose module is not
installed is simply not offered (:func:`available_channels`).
"""

from __future__ import annotations

import base64
import importlib
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .io import read_recipients
from .schema import STATES

if TYPE_CHECKING:
    import pandas as pd

    from .campaign import DryRun
    from .credentials import Credentials
    from .simulator import Simulator

#: How the panel's targets are named: a local rehearsal, or BUKA itself.
TARGETS = {"simulator": "Simulator (rehearsal, nothing is billed)",
           "api": "BUKA API (credentials from the environment)"}

#: Steps :func:`send` reports to its ``on_step`` callback, in order.
SEND_STEPS = ("send", "reports", "done")


@dataclass(frozen=True)
class ColumnField:
    """A column the user maps; ``option`` is the keyword of the channel's plan/send function."""

    option: str
    label: str
    candidates: tuple[str, ...]          # normalised column names, best first
    required: bool = True
    looks_like: str = ""                 # "phone" or "email": fall back to the column whose values look so


@dataclass(frozen=True)
class TextField:
    """A free-text setting (message, template id, sender address ...)."""

    option: str
    label: str
    placeholder: str = ""
    required: bool = False
    multiline: bool = False
    kind: str = "text"                   # "list": "a, b" -> ["a", "b"]; "mapping": "x=a, b" -> {"x": "a", "b": "b"}


@dataclass(frozen=True)
class ChannelSpec:
    """What the panel needs to know about one channel."""

    name: str
    label: str
    module: str
    plan: str
    send: str
    columns: tuple[ColumnField, ...]
    texts: tuple[TextField, ...]
    reports: str = "buka_nb.reports:collect_reports"   # "module:function" merging delivery outcomes

    def function(self, which: str) -> Callable[..., Any]:
        module = importlib.import_module(self.module)
        return getattr(module, getattr(self, which))

    def available(self) -> bool:
        try:
            self.function("send")
            self.function("plan")
        except (ImportError, AttributeError):
            return False
        return True


_PHONE = ("phone", "phonenumber", "phoneno", "mobile", "mobilenumber", "mobilephone", "msisdn", "number",
          "numbers", "tel", "telephone", "cell", "cellphone", "whatsapp", "recipient", "to")
_EMAIL = ("email", "emailaddress", "mail", "e-mail", "address", "recipient", "to")
_NAME = ("name", "fullname", "customername", "firstname", "customer", "contact")

CHANNEL_SPECS: dict[str, ChannelSpec] = {
    "sms": ChannelSpec(
        "sms", "SMS", "buka_nb.sms", "plan_sms", "send_sms",
        columns=(ColumnField("number_col", "Phone column", _PHONE, looks_like="phone"),),
        texts=(TextField("message", "Message", "Hi {name}, your order ships today ({column} fills from the row)",
                         required=True, multiline=True),
               TextField("sender_id", "Sender id", "optional, at most 32 characters"))),
    "email": ChannelSpec(
        "email", "Email", "buka_nb.email", "plan_email", "send_email",
        columns=(ColumnField("email_col", "Email column", _EMAIL, looks_like="email"),),
        texts=(TextField("template_id", "Template id", "an approved BUKA email template, e.g. 2", required=True),
               TextField("from_address", "From address", "a sender configured in the BUKA console", required=True),
               TextField("subject", "Subject", "1-100 characters", required=True),
               TextField("variables", "Template variables", "name=first_name, city (variable=column)",
                         kind="mapping"))),
    "voice": ChannelSpec(
        "voice", "Intelligent voice", "buka_nb.voice", "plan_voice", "send_voice",
        columns=(ColumnField("phone_col", "Phone column", _PHONE, looks_like="phone"),
                 ColumnField("name_col", "Name column", _NAME, required=False)),
        texts=(TextField("properties", "Properties", "columns the script may read, e.g. amount, due_date "
                         "(default: every other column)", kind="list"),
               TextField("task_name", "Task name", "optional (default: the campaign id)"))),
}


# --------------------------------------------------------------------------- reading


def read_upload(upload: Any, *, encoding: str | None = None, name: str | None = None) -> pd.DataFrame:
    """Read an uploaded CSV into a frame of text columns, the way :func:`buka_nb.io.read_recipients` does.

    *upload* is the raw bytes (or a memoryview), one ipywidgets 8 ``FileUpload`` entry (a dict
    with ``name`` and ``content``), or the ``FileUpload.value`` tuple itself (its first file).
    BOMs, ``;`` delimiters and numbers-as-text behave exactly as for files on disk. The file name
    is kept in ``frame.attrs["source"]``.
    """
    data, source = _upload_bytes(upload)
    source = Path(name or source or "").name
    if not source.strip(". ") or len(source.encode()) > 200:  # written to disk under it: ".", or a name too long
        source = "upload.csv"
    # io reads paths (it sniffs and streams files); an upload is small, so a private copy is cheap
    # and keeps one CSV reader for files, uploads and the CLI.
    with tempfile.TemporaryDirectory(prefix="buka-upload-") as tmp:
        path = Path(tmp) / source
        path.write_bytes(data)
        frame = read_recipients(path, encoding=encoding)
    frame.attrs["source"] = source
    return frame


def upload_value(data: bytes, name: str = "upload.csv") -> tuple[dict[str, Any], ...]:
    """What ipywidgets 8's ``FileUpload.value`` holds after one file is chosen: drives the panel from code.

    >>> entry, = upload_value(b"phone\\n447911123456\\n", "list.csv")
    >>> entry["name"], entry["size"], bytes(entry["content"])
    ('list.csv', 19, b'phone\\n447911123456\\n')
    """
    from datetime import datetime, timezone

    return ({"name": name, "type": "text/csv", "size": len(data), "content": memoryview(bytes(data)),
             "last_modified": datetime.now(timezone.utc)},)


def _upload_bytes(upload: Any) -> tuple[bytes, str | None]:
    if isinstance(upload, (tuple, list)):
        if not upload:
            raise InputError("no file uploaded yet: choose a CSV file first")
        upload = upload[0]
    if isinstance(upload, Mapping):
        if "content" not in upload:
            raise InputError("the upload has no 'content': pass the FileUpload value or the file's bytes")
        return bytes(upload["content"]), upload.get("name")
    if isinstance(upload, (bytes, bytearray, memoryview)):
        return bytes(upload), None
    raise InputError(f"cannot read an upload of type {type(upload).__name__}: pass bytes or a FileUpload value")


# --------------------------------------------------------------------------- channels and columns


def available_channels() -> list[str]:
    """The channels whose modules are installed, in catalog order (SMS, email, voice)."""
    return [name for name, spec in CHANNEL_SPECS.items() if spec.available()]


def channel_spec(channel: str) -> ChannelSpec:
    """The upload panel's description of *channel* (its columns and options); an unknown one is an InputError."""
    try:
        spec = CHANNEL_SPECS[channel]
    except KeyError:
        raise InputError(f"unknown channel {channel!r}: use one of {', '.join(CHANNEL_SPECS)}") from None
    if not spec.available():
        raise InputError(f"the {spec.label} channel is not available in this installation of buka_nb")
    return spec


def _norm(column: Any) -> str:
    return re.sub(r"[^a-z0-9@-]", "", str(column).lower())


_LOOKS = {"phone": re.compile(r"^\s*\+?[\d\s().\-]{7,20}\s*$|^\s*\d(?:\.\d+)?[eE]\+?\d+\s*$"),
          "email": re.compile(r"@")}


def _looks_like(frame: pd.DataFrame, column: Any, kind: str, sample: int = 200) -> float:
    values = frame[column].dropna().astype(str).head(sample)
    if values.empty:
        return 0.0
    return float(values.str.contains(_LOOKS[kind]).mean())


def suggest_columns(frame: pd.DataFrame, channel: str) -> dict[str, str | None]:
    """Guess which column fills each of the channel's column fields.

    A column whose name matches a known alias (``phone``, ``Mobile Number``, ``msisdn``, ``E-mail``
    ...) wins; otherwise the column whose values mostly look right (numbers, or addresses with an
    ``@``); otherwise None (optional fields) or the first unused column. Each column is used once.

    >>> import pandas as pd
    >>> suggest_columns(pd.DataFrame({"Name": ["Ann"], "Mobile Number": ["+44 7911 123456"]}), "sms")
    {'number_col': 'Mobile Number'}
    """
    spec = channel_spec(channel)
    by_norm: dict[str, Any] = {}
    for column in frame.columns:
        by_norm.setdefault(_norm(column), column)
    used: set[Any] = set()
    out: dict[str, str | None] = {}
    for field in spec.columns:
        pick = next((by_norm[c] for c in field.candidates if c in by_norm and by_norm[c] not in used), None)
        if pick is None and field.looks_like:
            scored = [(_looks_like(frame, c, field.looks_like), i, c) for i, c in enumerate(frame.columns)
                      if c not in used]
            best = max(scored, default=(0.0, 0, None), key=lambda t: (t[0], -t[1]))
            pick = best[2] if best[0] >= 0.5 else None
        if pick is None and field.required:
            pick = next((c for c in frame.columns if c not in used), None)
        if pick is not None:
            used.add(pick)
        out[field.option] = None if pick is None else str(pick)
    return out


def suggest_texts(frame: pd.DataFrame, channel: str) -> dict[str, str]:
    """Starting values for the channel's text fields (an SMS greeting uses ``{name}`` when there is one).

    >>> import pandas as pd
    >>> suggest_texts(pd.DataFrame({"phone": [], "name": []}), "sms")["message"]
    'Hi {name}, your order ships today'
    """
    spec = channel_spec(channel)
    name = next((c for c in frame.columns if _norm(c) in _NAME), None)
    texts = {f.option: "" for f in spec.texts}
    if channel == "sms":
        texts["message"] = f"Hi {{{name}}}, your order ships today" if name else "Your order ships today"
    elif channel == "email":
        texts["subject"] = "Your order ships today"
        texts["variables"] = f"name={name}" if name else ""
    return texts


def build_options(channel: str, columns: Mapping[str, str | None], texts: Mapping[str, str] | None = None
                  ) -> dict[str, Any]:
    """Turn the panel's choices into keyword arguments for the channel's plan/send functions.

    Empty optional choices are dropped; a missing required one is an :class:`InputError` that names
    it. For SMS the one ``message`` box becomes ``template=`` when it has ``{column}`` placeholders
    and ``content=`` otherwise.

    >>> build_options("sms", {"number_col": "phone"}, {"message": "Hello", "sender_id": ""})
    {'number_col': 'phone', 'content': 'Hello'}
    """
    spec = channel_spec(channel)
    texts = dict(texts or {})
    options: dict[str, Any] = {}
    for field in spec.columns:
        value = columns.get(field.option)
        if value in (None, ""):
            if field.required:
                raise InputError(f"choose the {field.label.lower()} for {spec.label}")
            continue
        options[field.option] = value
    for field in spec.texts:
        value = (texts.get(field.option) or "").strip()
        if not value:
            if field.required:
                raise InputError(f"fill in the {field.label.lower()} for {spec.label}")
            continue
        options[field.option] = _parse(field, value)
    if channel == "sms" and "message" in options:
        from .sms import template_fields

        message = options.pop("message")
        options["template" if template_fields(message) else "content"] = message
    return options


def _parse(field: TextField, value: str) -> Any:
    if field.kind == "text":
        return value
    items = [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]
    if field.kind == "list":
        return items
    mapping = {}
    for item in items:
        name, sep, column = item.partition("=")
        name, column = name.strip(), (column.strip() if sep else name.strip())
        if not name or not column:
            raise InputError(f"{field.label.lower()}: write {item!r} as variable=column, e.g. name=first_name")
        mapping[name] = column
    return mapping


# --------------------------------------------------------------------------- dry run and send


def dry_run(frame: pd.DataFrame, channel: str, **options: Any) -> DryRun:
    """Validate and batch *frame* with the channel's ``plan_*`` function; nothing is sent."""
    return channel_spec(channel).function("plan")(frame, **options)


def validation_summary(plan: DryRun) -> pd.DataFrame:
    """Refused rows per (code, reason), most frequent first: the panel's validation table.

    Columns ``code``, ``reason``, ``rows``, ``example`` (the first refused row's detail).
    """
    import pandas as pd

    invalid = plan.invalid()
    if invalid.empty:
        return pd.DataFrame({"code": pd.Series(dtype="Int64"), "reason": pd.Series(dtype="string"),
                             "rows": pd.Series(dtype="int64"), "example": pd.Series(dtype="string")})
    grouped = invalid.groupby(["code", "reason"], dropna=False, sort=False)
    table = grouped.agg(rows=("state", "size"), example=("detail", "first")).reset_index()
    return table.sort_values("rows", ascending=False, kind="stable").reset_index(drop=True)


def send(frame: pd.DataFrame, channel: str, *, credentials: Credentials, wait: float = 0.0, poll: float = 1.0,
         on_step: Callable[[str], None] | None = None, **options: Any) -> pd.DataFrame:
    """Send *frame* with the channel's ``send_*`` function, then collect delivery outcomes for up to *wait* s.

    Everything in *options* (column mapping, texts, ``journal=``, ``campaign_id=``, ``progress=`` ...)
    goes to the send function unchanged. *on_step* is called with each of :data:`SEND_STEPS` as the
    send moves on. Returns the result frame, one row per input row; *frame* is not modified.
    """
    spec = channel_spec(channel)
    step = on_step or (lambda _: None)
    step("send")
    results = spec.function("send")(frame, credentials=credentials, **options)
    step("reports")
    if wait > 0 and (results["state"] == "accepted").fillna(False).any():
        module, _, name = spec.reports.partition(":")
        collect = getattr(importlib.import_module(module), name)
        results = collect(results, credentials=credentials, wait=wait, poll=poll)
    step("done")
    return results


def counts(results: pd.DataFrame) -> dict[str, int]:
    """Rows per state (every state listed, zeros included) plus ``rows`` and delivery counts.

    >>> from buka_nb.analysis import example_results
    >>> counts(example_results())  # doctest: +NORMALIZE_WHITESPACE
    {'rows': 12, 'accepted': 4, 'rejected': 3, 'invalid': 3, 'not_sent': 1, 'unknown': 1,
     'delivered': 2, 'delivery failed': 1}
    """
    state = results["state"].value_counts()
    out = {"rows": int(len(results))} | {s: int(state.get(s, 0)) for s in STATES}
    if "delivery" in results.columns:
        delivery = results["delivery"].value_counts()
        out["delivered"] = int(delivery.get("delivered", 0))
        out["delivery failed"] = int(delivery.get("failed", 0))
    return out


# --------------------------------------------------------------------------- targets


class Targets:
    """Credentials for where the panel sends: a simulator (started on first use) or the real API.

    Pass ``simulator=`` to use one you already run, ``credentials=`` to skip the environment.
    :meth:`close` stops a simulator this object started, and only that one.
    """

    def __init__(self, *, credentials: Credentials | None = None, simulator: Simulator | None = None,
                 report_delay: tuple[float, float] = (0.5, 3.0)) -> None:
        self._credentials = credentials
        self._simulator = simulator
        self._owned: Simulator | None = None
        self.report_delay = report_delay

    @property
    def simulator(self) -> Simulator:
        if self._simulator is None:
            from .simulator import Simulator

            self._owned = self._simulator = Simulator(report_delay=self.report_delay).start()
        return self._simulator

    def credentials(self, target: str) -> Credentials:
        """``simulator`` → the simulator's demo account; ``api`` → given or environment credentials."""
        if target == "simulator":
            return self.simulator.credentials
        if target == "api":
            from .credentials import Credentials as Creds

            return Creds.resolve(self._credentials)
        raise InputError(f"unknown target {target!r}: use one of {', '.join(TARGETS)}")

    def close(self) -> None:
        if self._owned is not None:
            self._owned.stop()
            self._owned = self._simulator = None


# --------------------------------------------------------------------------- output


def result_csv(results: pd.DataFrame) -> bytes:
    """The result frame as UTF-8 CSV bytes with a ``row`` index column, as ``buka-nb report`` reads it.

    Cells a spreadsheet would run as formulas are neutralised, as in every results file buka_nb writes.
    """
    from .stream import neutralise_formulas

    return neutralise_formulas(results).to_csv(index=True, index_label="row").encode("utf-8")


def result_filename(source: str | None) -> str:
    """``customers.csv`` → ``customers.results.csv``.

    >>> result_filename("customers.csv"), result_filename(None)
    ('customers.results.csv', 'upload.results.csv')
    """
    return Path(source or "upload.csv").with_suffix(".results.csv").name


def data_url(content: bytes, mime: str = "text/csv") -> str:
    """A ``data:`` URL for *content*: what the panel's download link points at."""
    return f"data:{mime};base64,{base64.b64encode(content).decode('ascii')}"


def failure_chart_png(results: pd.DataFrame, *, dpi: int = 100) -> bytes:
    """The failures-by-reason chart (:func:`buka_nb.charts.save_failure_chart`) as PNG bytes."""
    from .charts import save_failure_chart

    with tempfile.TemporaryDirectory(prefix="buka-chart-") as tmp:
        return save_failure_chart(results, Path(tmp) / "failures.png", dpi=dpi).read_bytes()


__all__ = ["CHANNEL_SPECS", "ChannelSpec", "ColumnField", "SEND_STEPS", "TARGETS", "Targets", "TextField",
           "available_channels", "build_options", "channel_spec", "counts", "data_url", "dry_run",
           "failure_chart_png", "read_upload", "result_csv", "result_filename", "send", "suggest_columns",
           "suggest_texts", "upload_value", "validation_summary"]
