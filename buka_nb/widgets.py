"""The CSV-upload panel for Jupyter: the only buka_nb module that imports ipywidgets.

:class:`UploadPanel` builds the widgets and wires ``_on_*`` handlers to :mod:`buka_nb.upload`,
where all the logic lives. Upload a CSV, pick the channel and map its columns, look at the rows
that would be refused, dry-run, send to the simulator or to BUKA, read the result table and the
failure chart, download the results.

>>> from buka_nb.widgets import UploadPanel                     # doctest: +SKIP
>>> panel = UploadPanel()          # sends to its own simulator until you pick "BUKA API"
>>> panel                          # the last expression of a cell displays it

Everything a handler produces is also kept on the panel for code to read: ``panel.frame`` (the
upload), ``panel.plan`` (the last :class:`~buka_nb.campaign.DryRun`), ``panel.results`` (the last
result frame) and ``panel.error`` (the last error message, or None).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import ipywidgets as w
except ImportError as exc:  # pragma: no cover - ipywidgets is a core dependency, but say how to fix it
    raise ImportError("buka_nb.widgets needs ipywidgets: pip install 'ipywidgets>=8.1'") from exc

from . import upload
from .campaign import DEFAULT
from .errors import BukaError

if TYPE_CHECKING:
    import pandas as pd

    from .credentials import Credentials
    from .simulator import Simulator

_NOT_MAPPED = ("(none)", None)
_TABLE_STYLE = ("<style>.buka-table table{border-collapse:collapse;font-size:12px}"
                ".buka-table th,.buka-table td{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
                "</style>")


def _table(frame: pd.DataFrame, max_rows: int) -> str:
    return f'{_TABLE_STYLE}<div class="buka-table">{frame.head(max_rows).to_html(na_rep="", border=0)}</div>'


class UploadPanel(w.VBox):
    """Upload a recipient CSV, validate it, dry-run and send it, see and download the results.

    ``credentials=`` are used for the "BUKA API" target (default: the environment);
    ``simulator=`` is a running :class:`~buka_nb.simulator.Simulator` for the "Simulator" target
    (default: the panel starts its own on first use and :meth:`close` stops it). ``journal``,
    ``report_wait`` (seconds to wait for delivery reports after sending), ``max_rows`` (rows
    shown in tables) and ``max_download`` (bytes of results CSV the download link may carry; the
    link travels through the widget state) tune the rest. Each dry run allows one send.
    """

    def __init__(self, *, credentials: Credentials | None = None, simulator: Simulator | None = None,
                 target: str = "simulator", journal: Any = DEFAULT, report_wait: float = 10.0,
                 max_rows: int = 10, max_download: int = 20_000_000, **kwargs: Any) -> None:
        self.targets = upload.Targets(credentials=credentials, simulator=simulator)
        self.journal, self.report_wait, self.max_rows = journal, report_wait, max_rows
        self.max_download = max_download
        self.frame: pd.DataFrame | None = None
        self.plan: Any = None
        self.results: pd.DataFrame | None = None
        self.error: str | None = None

        self.upload = w.FileUpload(accept=".csv,text/csv,text/plain", multiple=False, description="CSV file")
        self.file_info = w.HTML("Choose a recipient CSV (UTF-8, a BOM and <code>;</code> delimiters are fine).")
        channels = upload.available_channels()
        self.channel = w.Dropdown(options=[(upload.CHANNEL_SPECS[c].label, c) for c in channels],
                                  value=channels[0], description="Channel")
        self.columns: dict[str, w.Dropdown] = {}
        self.texts: dict[str, w.Text | w.Textarea] = {}
        self.fields = w.VBox()
        self.target = w.ToggleButtons(options=[(label, key) for key, label in upload.TARGETS.items()],
                                      value=target, description="Send to", style={"button_width": "auto"})
        self.dry_run_button = w.Button(description="Dry run", icon="check", disabled=True,
                                       tooltip="validate and batch; nothing is sent")
        self.send_button = w.Button(description="Send", icon="paper-plane", button_style="warning", disabled=True,
                                    tooltip="send the valid rows (after a dry run)")
        self.progress = w.IntProgress(value=0, min=0, max=len(upload.SEND_STEPS), description="",
                                      layout=w.Layout(width="220px"))
        self.status = w.HTML()
        self.validation = w.HTML()
        self.result_table = w.HTML()
        self.chart = w.Image(format="png", layout=w.Layout(max_width="100%", display="none"))
        self.download = w.HTML()

        self.upload.observe(self._on_upload, names="value")
        self.channel.observe(self._on_channel, names="value")
        self.target.observe(self._on_change, names="value")
        self.dry_run_button.on_click(self._on_dry_run)
        self.send_button.on_click(self._on_send)
        self._build_fields()
        super().__init__(children=[
            w.HTML("<b>BUKA campaign from a CSV</b>"), w.HBox([self.upload, self.file_info]), self.channel,
            self.fields, self.target, w.HBox([self.dry_run_button, self.send_button, self.progress, self.status]),
            self.validation, self.result_table, self.chart, self.download], **kwargs)

    # -- building ------------------------------------------------------------------------------
    def _build_fields(self) -> None:
        spec = upload.CHANNEL_SPECS[self.channel.value]
        names = [] if self.frame is None else [str(c) for c in self.frame.columns]
        suggested = upload.suggest_columns(self.frame, spec.name) if self.frame is not None else {}
        texts = upload.suggest_texts(self.frame, spec.name) if self.frame is not None else {}
        self.columns, self.texts = {}, {}
        for field in spec.columns:
            options = ([] if field.required else [_NOT_MAPPED]) + [(n, n) for n in names]
            box = w.Dropdown(options=options or [_NOT_MAPPED], value=suggested.get(field.option),
                             description=field.label, style={"description_width": "initial"})
            box.observe(self._on_change, names="value")
            self.columns[field.option] = box
        for field in spec.texts:
            kind = w.Textarea if field.multiline else w.Text
            box = kind(value=texts.get(field.option, ""), placeholder=field.placeholder, description=field.label,
                       style={"description_width": "initial"}, layout=w.Layout(width="90%"))
            box.observe(self._on_change, names="value")
            self.texts[field.option] = box
        self.fields.children = [*self.columns.values(), *self.texts.values()]

    def load(self, source: str | Path | bytes, name: str | None = None) -> None:
        """Upload a file from code, exactly as if it had been chosen in the file picker.

        >>> panel.load("data/sms_small.csv")                     # doctest: +SKIP
        """
        if isinstance(source, (bytes, bytearray, memoryview)):
            data, name = bytes(source), name or "upload.csv"
        else:
            data, name = Path(source).read_bytes(), name or Path(source).name
        self.upload.value = upload.upload_value(data, name)

    def options(self) -> dict[str, Any]:
        """The current choices as keyword arguments for the channel's plan/send function."""
        return upload.build_options(self.channel.value, {k: b.value for k, b in self.columns.items()},
                                    {k: b.value for k, b in self.texts.items()})

    # -- handlers ------------------------------------------------------------------------------
    def _on_upload(self, change: dict[str, Any]) -> None:
        self._reset()
        try:
            self.frame = upload.read_upload(change["new"])
        except Exception as exc:  # a handler's traceback would land under the panel: say it in the panel
            self.frame = None
            self.file_info.value = ""
            self._fail(exc if isinstance(exc, BukaError) else f"could not read the file ({type(exc).__name__}: {exc})")
        else:
            names = ", ".join(html.escape(str(c)) for c in self.frame.columns)
            self.file_info.value = (f"<b>{html.escape(self.frame.attrs['source'])}</b>: {len(self.frame):,} rows; "
                                    f"columns {names}")
        self._build_fields()
        self.dry_run_button.disabled = self.frame is None

    def _on_channel(self, change: dict[str, Any]) -> None:
        self._reset()
        self._build_fields()

    def _on_change(self, change: dict[str, Any]) -> None:
        # Anything that changes what would be sent invalidates the last dry run: dry-run again first.
        self.send_button.disabled = True

    def _on_dry_run(self, button: Any = None) -> None:
        self._reset()
        if self.frame is None:
            return self._fail("no file uploaded yet: choose a CSV file first")
        try:
            self.plan = upload.dry_run(self.frame, self.channel.value, **self.options())
        except Exception as exc:  # in the panel, never as a traceback under it
            return self._fail(exc)
        s = self.plan.summary
        extra = "".join(f"<li>{html.escape(k)}: {v:,}</li>" for k, v in sorted(s.get("extra", {}).items()))
        text = (f"<b>Dry run</b>: {s['rows']:,} rows, <b>{s['valid']:,} valid</b>, <b>{s['invalid']:,} would be "
                f"refused</b>, {s['requests']:,} request(s). Nothing was sent.<ul>{extra}</ul>")
        if s["invalid"]:
            refused = self.plan.invalid()[["recipient", "code", "reason", "detail"]]
            text += ("<b>Refused rows by reason</b>" + _table(upload.validation_summary(self.plan), self.max_rows)
                     + f"<b>Rows that would be refused</b> (first {min(self.max_rows, len(refused))} of "
                     f"{len(refused):,})" + _table(refused, self.max_rows))
        self.validation.value = text
        self.status.value = "dry run done" + ("" if s["valid"] else ": no valid rows to send")
        self.send_button.disabled = not s["valid"]

    def _on_send(self, button: Any = None) -> None:
        if self.frame is None or self.plan is None:
            # a second click that reached the kernel before the button showed as disabled lands here too
            return self._fail("run a dry run first (each dry run allows one send)")
        # one send per dry run: taken before anything else, so a double click cannot send twice
        self.plan = None
        self.send_button.disabled = self.dry_run_button.disabled = True
        self.progress.value, self.error = 0, None
        try:
            credentials = self.targets.credentials(self.target.value)
            self.results = upload.send(self.frame, self.channel.value, credentials=credentials,
                                       journal=self.journal, wait=self.report_wait, on_step=self._on_step,
                                       **self.options())
        except Exception as exc:  # in the panel, never as a traceback under it
            self._fail(exc)
        else:
            self._show_results(self.results)
        finally:
            self.dry_run_button.disabled = self.frame is None

    def _on_step(self, step: str) -> None:
        self.progress.value = upload.SEND_STEPS.index(step) + 1
        self.status.value = {"send": "sending ...", "reports": "collecting delivery reports ...",
                             "done": "sent"}.get(step, step)

    # -- output --------------------------------------------------------------------------------
    def _show_results(self, results: pd.DataFrame) -> None:
        n = upload.counts(results)
        accepted = n.get("accepted", 0)
        self.status.value = (f"done: {accepted:,} of {n['rows']:,} rows accepted" if accepted else
                             f'<span style="color:#b00020">done, but no row was accepted: see the reasons below</span>')
        line = ", ".join(f"<b>{v:,}</b> {k}" for k, v in n.items() if k != "rows" and (v or k == "accepted"))
        shown = results[["recipient", "state", "code", "reason", "delivery", "delivery_reason", "detail"]]
        self.result_table.value = (f"<b>Results</b>: {n['rows']:,} rows: {line}" + _table(shown, self.max_rows))
        self.chart.value = upload.failure_chart_png(results)
        self.chart.layout.display = ""
        name = upload.result_filename(self.frame.attrs.get("source") if self.frame is not None else None)
        data = upload.result_csv(results)
        if len(data) > self.max_download:
            # the link carries the whole file through the widget state (and into a saved notebook)
            size = f"{len(data) / 1e6:,.0f} MB" if len(data) >= 1e6 else f"{len(data):,} bytes"
            self.download.value = (f"{size} of results is too much for a download link: "
                                   f"<code>panel.results.to_csv({html.escape(repr(name))})</code> writes them")
            return
        self.download.value = (f'<a download="{html.escape(name)}" href="{upload.data_url(data)}"'
                               f' target="_blank">Download {html.escape(name)}</a>')

    def _reset(self) -> None:
        self.plan = self.results = self.error = None
        self.send_button.disabled = True
        self.progress.value = 0
        for box in (self.status, self.validation, self.result_table, self.download):
            box.value = ""
        self.chart.layout.display = "none"

    def _fail(self, error: Exception | str) -> None:
        from .credentials import redact

        if isinstance(error, Exception) and not isinstance(error, BukaError):
            error = f"{type(error).__name__}: {error}"
        self.error = redact(str(error))
        self.status.value = f'<span style="color:#b00020">{html.escape(self.error)}</span>'

    def close(self) -> None:
        """Close the widgets and stop the simulator the panel started (if it started one)."""
        self.targets.close()
        super().close()


__all__ = ["UploadPanel"]
