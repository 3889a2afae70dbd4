"""The demo campaign behind ``buka-nb demo``: sample data on every channel, reports, result files and a chart.

:func:`run_demo` sends the sample recipient files from the repository's ``data/`` folder (or, when
buka_nb is installed without them, a small synthetic sample) on every channel this installation
has (SMS, email, intelligent voice), waits for delivery reports, and writes to one folder:

- ``<channel>_results.csv`` (and ``.parquet`` when pyarrow is installed): one row per input row;
- ``summary.csv`` (rows per state and delivery outcome, per channel) and ``next_steps.csv``;
- ``failures_by_reason.png``: why rows failed, by BUKA reason, each channel in its own colour.

With no credentials it starts the embedded simulator; with credentials (``credentials=``, or the
CLI's ``--base-url`` / ``BUKA_BASE_URL`` plus the ``BUKA_*`` variables) the very same code talks to
the real API.

**Re-running.** Every campaign is journaled in ``<out>/journal.sqlite3``. Against the real API a
campaign keeps its default id (a fingerprint of data, settings and account), so running the demo
again *resumes* it: a crash half-way never sends twice, and a finished demo is not sent (or
billed) again, its stored results are reported instead. Against the simulator each run starts a
new, empty simulator, so there is nothing to resume: each run gets a fresh campaign id
(``demo-<channel>-<run stamp>``) and the result files are simply rewritten.

**Voice** calls take minutes (ringing, talking). In simulator mode the demo moves the simulator's
clock forward by :data:`VOICE_SPAN` seconds instead of waiting (staying inside BUKA's 30-minute
timestamp window) with :data:`SIM_ROBOTS` calls at a time; against the real API it waits ``wait``
seconds like the other channels and calls still in progress are reported ``pending``.

>>> result = run_demo("buka-demo")                           # doctest: +SKIP
>>> result.summary[["channel", "rows", "accepted", "delivered"]]  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .io import read_recipients

if TYPE_CHECKING:
    import pandas as pd

    from .credentials import Credentials

#: Sample files per channel, in ``data/``.
SAMPLE_FILES = {"sms": "sms_recipients.csv", "email": "email_recipients.csv", "voice": "voice_customers.csv"}
#: Simulated seconds the voice task is given to finish its calls (robot lanes run in parallel).
VOICE_SPAN = 25 * 60
#: Concurrent AI calls (robot lanes) of the demo's voice task on the simulator: enough for the
#: sample's few hundred calls to end within :data:`VOICE_SPAN`.
SIM_ROBOTS = 60
#: The simulator's email fixtures: an approved template with a ``name`` variable, and a sender.
SIM_EMAIL_TEMPLATE, SIM_EMAIL_FROM = "2", "noreply@demo.buka.test"
SMS_TEMPLATE = "Hi {name}, your order ships today. Reply STOP to opt out."


@dataclass
class DemoResult:
    """What :func:`run_demo` did: the target, result frames per channel, the summary and the files."""

    out: Path
    target: str                                    # "simulator" or the API root it talked to
    data_source: str                               # the data folder, or "synthetic sample"
    results: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: pd.DataFrame | None = None
    next_steps: pd.DataFrame | None = None
    paths: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)   # channel -> why it did not run

    @property
    def combined(self) -> pd.DataFrame:
        """Every channel's results in one frame (the shared schema needs no renaming)."""
        import pandas as pd

        from .schema import empty_results

        frames = [r.reset_index(drop=True) for r in self.results.values()]
        return pd.concat(frames, ignore_index=True) if frames else empty_results()


# --------------------------------------------------------------------------- sample data


def data_dir() -> Path | None:
    """The repository's ``data/`` folder next to the package, when it holds the sample files."""
    candidate = Path(__file__).resolve().parent.parent / "data"
    return candidate if any((candidate / name).is_file() for name in SAMPLE_FILES.values()) else None


def sample_frames(channels: list[str], folder: Path | None = None) -> tuple[dict[str, pd.DataFrame], str]:
    """The sample recipients per channel, read as text; synthetic ones when there is no data folder."""
    folder = folder if folder is not None else data_dir()
    frames: dict[str, pd.DataFrame] = {}
    synthetic = synthetic_sample()
    used_synthetic = False
    for channel in channels:
        path = folder / SAMPLE_FILES[channel] if folder is not None else None
        if path is not None and path.is_file():
            frames[channel] = read_recipients(path)
        else:
            frames[channel] = synthetic[channel]
            used_synthetic = True
    source = str(folder) if folder is not None and not used_synthetic else (
        "synthetic sample" if folder is None else f"{folder} (synthetic sample where files are missing)")
    return frames, source


def synthetic_sample() -> dict[str, pd.DataFrame]:
    """A small, fixed sample with the messy rows real exports have (used when ``data/`` is absent).

    >>> {k: len(v) for k, v in synthetic_sample().items()}
    {'sms': 12, 'email': 10, 'voice': 8}
    """
    import io

    import pandas as pd

    def frame(text: str) -> pd.DataFrame:  # parsed exactly as a recipient file on disk would be
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, na_values=[""])

    return {
        "sms": frame("phone,name\n+44 7911 123456,Ann\n+234 803 123 4567,Chidi\n4.47911E+11,Bob\n,Cy\n"
                     "+91 98123 45678,Priya\n+44 7911 123456,Ann again\n12345,Dee\n+63 917 123 4567,Jose\n"
                     "+1 (415) 555-0134,Sam\n0044 7700 900123,Ola\n+49 151 2345 6789,Lena\n+27 82 123 4567,\n"),
        "email": frame("email,name\nann@example.com,Ann\nchidi@example.org,Chidi\nbad@@example.com,Bob\n,Cy\n"
                       "Ann@Example.com,Ann\npriya@example.in,Priya\nno-at-sign.example.com,Dee\n"
                       "jose@example.ph,Jose\nsam@example.com,Sam\nlena@example.de,Lena\n"),
        "voice": frame("phone,name,amount\n+63 917 123 4567,Jose,120.50\n+63 918 765 4321,Maria,75.00\n"
                       "+91 98123 45678,Priya,300.00\n+91 98123 45678,Priya again,300.00\n,Cy,10.00\n"
                       "+44 7911 123456,Ann,42.00\n+234 803 123 4567,Chidi,18.25\n12,Dee,5.00\n"),
    }


# --------------------------------------------------------------------------- channels


def available_channels() -> list[str]:
    """The channels this installation can send (SMS always; email and voice once their modules exist)."""
    out = []
    for channel in SAMPLE_FILES:
        try:
            module = importlib.import_module(f"buka_nb.{channel}")
        except ImportError:
            continue
        if hasattr(module, f"send_{channel}"):
            out.append(channel)
    return out


def _campaign(channel: str, frame: pd.DataFrame, email_template_id: str, email_from: str,
              voice_robots: int) -> dict[str, Any]:
    """The send options of the demo campaign on *channel*, fitted to the sample's columns."""
    columns = list(frame.columns)
    name = next((c for c in ("name", "first_name", "customer") if c in columns), None)
    if channel == "sms":
        return {"template": SMS_TEMPLATE.replace("{name}", f"{{{name}}}") if name else "Your order ships today."}
    if channel == "email":
        return {"template_id": email_template_id, "from_address": email_from, "subject": "Welcome to BUKA",
                "variables": {"name": name} if name else None}
    # Voice: the account's first script (the simulator's "Customer survey" needs no properties).
    return {"name_col": name, "robot_count": voice_robots}


# --------------------------------------------------------------------------- the run


def run_demo(out: str | Path = "buka-demo", *, credentials: Credentials | None = None,
             channels: list[str] | None = None, data: str | Path | None = None, wait: float | None = None,
             report_delay: tuple[float, float] = (0.5, 3.0), seed: int = 0,
             email_template_id: str = SIM_EMAIL_TEMPLATE, email_from: str = SIM_EMAIL_FROM,
             voice_robots: int | None = None) -> DemoResult:
    """Run the sample campaigns, collect delivery reports and write results, summary and chart to *out*.

    Without *credentials* an embedded simulator (``seed``, ``report_delay``) is started and stopped;
    with them the real API at ``credentials.base_url`` is used (then pass an approved
    ``email_template_id`` and a configured ``email_from`` too). *wait* is how long to poll for
    delivery reports (default: 10 s on the simulator, 60 s on the API); *voice_robots* the voice
    task's concurrent calls (default: :data:`SIM_ROBOTS` on the simulator, whose demo account
    allows that many, and 1 on the API). Returns a :class:`DemoResult`; prints nothing.
    """
    from .credentials import DEMO
    from .simulator import Simulator

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    channels = [c for c in (channels or available_channels()) if c in available_channels()]
    frames, source = sample_frames(channels, Path(data) if data is not None else None)
    sim = None
    if credentials is None:
        sim = Simulator(seed=seed, report_delay=report_delay, accounts=[{**DEMO, "max_robots": SIM_ROBOTS}]).start()
        credentials = sim.credentials
    voice_robots = voice_robots or (SIM_ROBOTS if sim is not None else 1)
    run_stamp = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{secrets.token_hex(3)}"
    result = DemoResult(out=out, target="simulator" if sim is not None else credentials.base_url,
                        data_source=source)
    try:
        for channel in channels:
            module = importlib.import_module(f"buka_nb.{channel}")
            options = _campaign(channel, frames[channel], email_template_id, email_from, voice_robots)
            if channel == "voice" and sim is not None:
                options["task_name"] = "buka-nb demo"  # the simulator draws call outcomes per task name: reproducible
            result.results[channel] = getattr(module, f"send_{channel}")(
                frames[channel], credentials=credentials, journal=out / "journal.sqlite3",
                campaign_id=f"demo-{channel}-{run_stamp}" if sim is not None else None, progress=False,
                **options)
        _collect_reports(result, credentials, sim, 10.0 if wait is None and sim is not None else
                         60.0 if wait is None else wait)
    finally:
        if sim is not None:
            sim.stop()
    _write(result)
    return result


def _collect_reports(result: DemoResult, credentials: Credentials, sim: Any, wait: float) -> None:
    from .reports import collect_reports

    voice = result.results.get("voice")
    if sim is not None and voice is not None and (voice["state"] == "accepted").any():
        sim.advance(VOICE_SPAN)
    for channel, frame in result.results.items():
        result.results[channel] = collect_reports(frame, credentials=credentials, wait=wait, poll=0.5)


def _write(result: DemoResult) -> None:
    from . import analysis
    from .charts import save_failure_chart
    from .stream import ResultSink

    parquet = importlib.util.find_spec("pyarrow") is not None
    for channel, frame in result.results.items():
        for suffix in (".csv", ".parquet") if parquet else (".csv",):
            path = result.out / f"{channel}_results{suffix}"
            with ResultSink(path) as sink:
                sink.write(frame)
            result.paths.append(path)
    combined = result.combined
    result.summary = analysis.summary(combined)
    result.next_steps = analysis.next_steps(combined)
    for name, table in (("summary.csv", result.summary), ("next_steps.csv", result.next_steps)):
        table.to_csv(result.out / name, index=False)
        result.paths.append(result.out / name)
    # The chart is drawn on a Figure outside pyplot, so no display backend is ever needed.
    result.paths.append(save_failure_chart(combined, result.out / "failures_by_reason.png", top=20))


__all__ = ["DemoResult", "SAMPLE_FILES", "VOICE_SPAN", "available_channels", "data_dir", "run_demo",
           "sample_frames", "synthetic_sample"]
