"""Matplotlib charts of result frames; the only buka_nb module that imports matplotlib.

Every chart takes a result frame (one channel or several concatenated) and an optional ``ax=``;
without one it makes a new figure sized for its content. It returns the Axes and never calls
``plt.show()`` or picks a backend, so it works in notebooks, scripts and headless tests alike.
The numbers come from :mod:`buka_nb.analysis`; this module only draws them.

>>> from buka_nb.analysis import example_results
>>> ax = failures_by_reason_chart(example_results())
>>> ax.get_title(loc="left").splitlines()
['Why rows failed, by BUKA reason and channel', '9 failed rows; all 8 reasons']
"""

from __future__ import annotations

import textwrap
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from . import analysis
from .catalog import CHANNELS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Okabe-Ito colours: distinct for colour-blind readers and in greyscale print.
CHANNEL_COLORS = {"sms": "#0072B2", "email": "#E69F00", "voice": "#009E73"}
CHANNEL_LABELS = {"sms": "SMS", "email": "Email", "voice": "Voice"}
_OTHER_COLORS = ("#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
_FAILED_COLOR, _OK_COLOR = "#D55E00", "#C8C8C8"
_FAILURES = ["invalid", "rejected", "not_sent", "unknown", "failed"]  # summary columns that are failures
_WRAP = 42  # characters per line of a reason label


def _new_axes(figsize: tuple[float, float]) -> Axes:
    # pyplot (not a bare Figure) so notebooks display the chart; no backend is chosen here.
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _channels(results: pd.DataFrame) -> list[str]:
    present = [c for c in pd.unique(results["channel"].dropna())]
    return [c for c in CHANNELS if c in present] + sorted(c for c in present if c not in CHANNELS)


def _color(channel: str, position: int) -> str:
    return CHANNEL_COLORS.get(channel, _OTHER_COLORS[position % len(_OTHER_COLORS)])


def _label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, str(channel))


def _count_axis(axis: Any) -> None:
    """Whole-number ticks with thousands separators."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def _tidy(ax: Axes, grid_axis: str) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid_axis, color="#E5E5E5", linewidth=0.8)
    ax.set_axisbelow(True)


def _nothing(ax: Axes, title: str, message: str) -> Axes:
    ax.set_title(title, loc="left", fontweight="bold")
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=12, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


# --------------------------------------------------------------------------- failures by reason


def _reason_table(results: pd.DataFrame, top: int) -> tuple[pd.DataFrame, int, list[str]]:
    """Failing rows per (reason label × channel), the ``top`` biggest reasons, biggest first."""
    reasons = analysis.failures_by_reason(results, by_channel=True)
    channels = _channels(results)
    if reasons.empty:
        return pd.DataFrame(columns=channels, dtype="int64"), 0, channels
    text = reasons["reason"].fillna("(no reason given)").astype(str)
    # A delivery report's "UNDELIV" is not a send code: say where the reason came from.
    is_report = reasons["category"].eq("delivery").fillna(False).to_numpy(dtype=bool)
    label = text.where(~is_report, text + " (delivery report)")
    # Email writes "port program unusual" where SMS and voice write "Port program unusual".
    key = label.str.casefold()
    label = key.map(pd.Series(label.to_numpy(), index=key.to_numpy()).groupby(level=0).first())
    table = (reasons.assign(label=label).pivot_table(index="label", columns="channel", values="rows",
                                                     aggfunc="sum", fill_value=0, observed=True)
             .reindex(columns=channels, fill_value=0).astype("int64"))
    table = table.loc[table.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    return table.head(top), len(table), channels


def _reason_figsize(table: pd.DataFrame) -> tuple[float, float]:
    lines = [max(len(textwrap.wrap(str(r), _WRAP)), 1) for r in table.index]
    bars = (table.to_numpy() > 0).sum(axis=1) if len(table) else []
    height = 1.6 + sum(max(0.2 * n, 0.26 * k) + 0.16 for n, k in zip(lines, bars))
    return 11.0, float(min(max(3.2, height), 40.0))


def _draw_reasons(ax: Axes, table: pd.DataFrame, total_reasons: int, channels: list[str],
                  results: pd.DataFrame) -> Axes:
    if table.empty:
        return _nothing(ax, "Why rows failed", "No failed rows")
    all_failed = int(analysis.failure_mask(results).sum())
    counts = table.to_numpy()
    present = counts > 0
    # Each reason gets slots only for the channels that have it, centred on its label: most
    # reasons belong to one channel and must not sit beside two empty slots.
    height = 0.8 / max(int(present.sum(axis=1).max()), 1)
    slot = np.cumsum(present, axis=1) - 1
    offsets = (slot - (present.sum(axis=1, keepdims=True) - 1) / 2) * height
    y = np.arange(len(table))
    per_channel = analysis.summary(results).set_index("channel")
    handles = []
    for j, channel in enumerate(channels):
        keep = present[:, j]
        bars = ax.barh((y + offsets[:, j])[keep], counts[keep, j], height=height * 0.9, color=_color(channel, j))
        ax.bar_label(bars, labels=[f"{c:,}" for c in counts[keep, j]], padding=3, fontsize=9)
        rows, channel_failed = (int(per_channel.loc[channel, "rows"]), int(per_channel.loc[channel, _FAILURES].sum())) \
            if channel in per_channel.index else (0, 0)
        # A proxy patch, so a channel without failures still shows in its own colour.
        handles.append(Patch(facecolor=_color(channel, j),
                             label=f"{_label(channel)}: {channel_failed:,} of {rows:,} rows failed"))
    ax.set_yticks(y, [textwrap.fill(str(r), _WRAP) for r in table.index], fontsize=9.5)
    ax.set_xlim(0, counts.max() * 1.15 + 1)
    _count_axis(ax.xaxis)
    ax.set_ylim(len(table) - 0.5, -0.5)
    ax.set_xlabel("failed rows")
    shown = (f"top {len(table)} of {total_reasons} reasons" if total_reasons > len(table)
             else "1 reason" if total_reasons == 1 else f"all {total_reasons} reasons")
    ax.set_title(f"Why rows failed, by BUKA reason and channel\n{all_failed:,} failed rows; {shown}",
                 loc="left", fontweight="bold")
    ax.legend(handles=handles, loc="lower right", frameon=False, fontsize=9)
    _tidy(ax, "x")
    return ax


def failures_by_reason_chart(results: pd.DataFrame, ax: Axes | None = None, top: int = 12) -> Axes:
    """One chart comparing SMS, email and voice: horizontal bars per BUKA reason, grouped by channel.

    Each reason is written out in full (wrapped), the *top* biggest first; each bar carries its
    count; delivery-report reasons are marked "(delivery report)"; the legend gives each
    channel's failed and total rows. Returns the Axes.
    """
    table, total, channels = _reason_table(results, top)
    ax = ax if ax is not None else _new_axes(_reason_figsize(table))
    return _draw_reasons(ax, table, total, channels, results)


def save_failure_chart(results: pd.DataFrame, path: str | PathLike[str], *, top: int = 12,
                       dpi: int = 150) -> Path:
    """Render :func:`failures_by_reason_chart` to *path* (PNG, SVG, PDF by suffix); returns the path.

    Uses a figure outside pyplot, so saving many charts in a loop leaks nothing.
    """
    from matplotlib.figure import Figure

    table, total, channels = _reason_table(results, top)
    figure = Figure(figsize=_reason_figsize(table), layout="constrained")
    _draw_reasons(figure.add_subplot(), table, total, channels, results)
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path


# --------------------------------------------------------------------------- funnel


def funnel_chart(results: pd.DataFrame, ax: Axes | None = None, *, normalize: bool = False) -> Axes:
    """The send funnel (rows → submitted → accepted → delivered / pending / failed), bars per channel.

    With ``normalize=True`` bars show the share of each channel's rows, which compares channels
    of very different sizes. Returns the Axes.
    """
    data = analysis.funnel(results)
    ax = ax if ax is not None else _new_axes((11.0, 5.0))
    if data.empty:
        return _nothing(ax, "Send funnel", "No rows")
    channels = _channels(results)
    stages = list(analysis.FUNNEL_STAGES)
    n = len(channels)
    width = 0.8 / n
    x = np.arange(len(stages))
    value = "share" if normalize else "rows"
    for j, channel in enumerate(channels):
        part = data[data["channel"] == channel].set_index("stage").reindex(stages)
        values = part[value].fillna(0).to_numpy(dtype=float)
        bars = ax.bar(x + (j - (n - 1) / 2) * width, values, width=width * 0.92, color=_color(channel, j),
                      label=_label(channel))
        labels = [f"{v:.0%}" for v in values] if normalize else [f"{int(v):,}" for v in values]
        ax.bar_label(bars, labels=labels, padding=2, fontsize=8.5)
    ax.set_xticks(x, ["all rows", "submitted\nto BUKA", "accepted", "delivered", "pending\n(no report yet)",
                      "delivery\nfailed"])
    if normalize:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share of the channel's rows")
    else:
        _count_axis(ax.yaxis)
        ax.set_ylabel("rows")
    ax.margins(y=0.12)
    ax.set_title("Send funnel by channel", loc="left", fontweight="bold")
    ax.legend(frameon=False)
    _tidy(ax, "y")
    return ax


# --------------------------------------------------------------------------- countries


def country_chart(results: pd.DataFrame, ax: Axes | None = None, *, top: int = 15) -> Axes:
    """Rows per destination country (SMS and voice), split into failed and not failed, most failures first.

    Each bar is labelled "failed of rows (rate)". Returns the Axes.
    """
    data = analysis.failures_by_country(results).head(top)
    ax = ax if ax is not None else _new_axes((10.0, max(3.0, 1.2 + 0.42 * len(data))))
    if data.empty:
        return _nothing(ax, "Failures by country", "No phone rows")
    y = np.arange(len(data))
    failed = data["failed"].to_numpy()
    rows = data["rows"].to_numpy()
    ax.barh(y, failed, color=_FAILED_COLOR, label="failed")
    ax.barh(y, rows - failed, left=failed, color=_OK_COLOR, label="not failed")
    for yi, f, r, rate in zip(y, failed, rows, data["failure_rate"].to_numpy()):
        ax.text(r, yi, f"  {f:,} of {r:,} ({rate:.1%})", va="center", fontsize=9)
    names = [f"{c} (+{int(cc)})" if not pd.isna(cc) else str(c)
             for c, cc in zip(data["country"], data["calling_code"])]
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, rows.max() * 1.3)
    _count_axis(ax.xaxis)
    ax.set_xlabel("rows")
    ax.set_title("Failures by destination country", loc="left", fontweight="bold")
    ax.legend(loc="lower right", frameon=False)
    _tidy(ax, "x")
    return ax


# --------------------------------------------------------------------------- time


def over_time_chart(results: pd.DataFrame, ax: Axes | None = None, *, freq: str = "1h",
                    rate: bool = False) -> Axes:
    """Failed rows (or, with ``rate=True``, the failure rate) per *freq* bin of ``submitted_at``,
    one line per channel. Rows never submitted are left out. Returns the Axes."""
    data = analysis.failures_over_time(results, freq=freq)
    ax = ax if ax is not None else _new_axes((11.0, 4.5))
    if data.empty:
        return _nothing(ax, "Failures over time", "No submitted rows")
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    value = "failure_rate" if rate else "failed"
    for j, channel in enumerate(_channels(data)):
        part = data[data["channel"] == channel]
        when = part["time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        ax.plot(when, part[value].to_numpy(dtype=float), marker="o", markersize=3.5, linewidth=1.6,
                color=_color(channel, j), label=_label(channel))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if rate:
        from matplotlib.ticker import PercentFormatter

        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("failure rate")
    else:
        _count_axis(ax.yaxis)
        ax.set_ylabel("failed rows")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("submitted at (UTC)")
    what = "Failure rate" if rate else "Failed rows"
    ax.set_title(f"{what} per {freq}, by channel", loc="left", fontweight="bold")
    ax.legend(frameon=False)
    _tidy(ax, "y")
    return ax
