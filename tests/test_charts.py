"""buka_nb.charts: what each chart draws, that it honours ax=, and that import buka_nb stays light."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from buka_nb.catalog import lookup
from buka_nb.schema import conform

LONG = "Due to platform issue, bulk submission has been failed, please contact Admin"


@pytest.fixture(autouse=True)
def _agg():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


@pytest.fixture
def charts():
    from buka_nb import charts

    return charts


def _frame(rows):
    """rows: (channel, recipient, state, code, delivery, delivery_reason, minute or None, repeat)."""
    records = []
    for channel, recipient, state, code, delivery, delivery_reason, minute, repeat in rows:
        info = lookup(channel, code) if code is not None else None
        for _ in range(repeat):
            records.append({
                "channel": channel, "recipient": recipient, "state": state, "code": code,
                "reason": info.reason if info else None, "category": info.category if info else None,
                "retryable": info.retryable if info else None, "delivery": delivery,
                "delivery_reason": delivery_reason,
                "submitted_at": None if minute is None else pd.Timestamp("2025-03-03T09:00Z") + pd.Timedelta(minutes=minute)})
    return conform(pd.DataFrame(records))


@pytest.fixture
def results():
    return _frame([
        ("sms", "447911123456", "accepted", 0, "delivered", "DELIVRD", 0, 20),
        ("sms", "447911123457", "accepted", 0, "failed", "UNDELIV", 5, 4),
        ("sms", "919812345678", "invalid", -9, None, None, None, 7),
        ("sms", "2348031234567", "rejected", -12, None, None, 65, 3),
        ("sms", "639171234567", "rejected", -16, None, None, 70, 2),
        ("email", "a@example.com", "accepted", 0, "delivered", "delivered", 10, 9),
        ("email", "bad@", "invalid", -32, None, None, None, 5),
        ("email", "b@example.com", "rejected", -6, None, None, 10, 1),
        ("voice", "639181234567", "accepted", 0, "delivered", "answered", 20, 6),
        ("voice", "2348067654321", "rejected", -4, None, None, 20, 3),
    ])


def _ticks(ax):
    return [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()]


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_failures_by_reason_chart_shows_full_reasons_counts_and_channels(charts, results):
    ax = charts.failures_by_reason_chart(results)
    from matplotlib.axes import Axes

    assert isinstance(ax, Axes)
    ticks = _ticks(ax)
    assert ticks == ["Numbers are abnormal", "Timestamp expires", "Invalid email address",
                     "UNDELIV (delivery report)", LONG]
    assert any("\n" in t.get_text() for t in ax.get_yticklabels())  # the long reason is wrapped, not cut
    labels = _texts(ax)
    for count in ("7", "5", "4", "3", "2", "1"):
        assert count in labels
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["SMS: 16 of 36 rows failed", "Email: 6 of 15 rows failed", "Voice: 3 of 9 rows failed"]
    title = ax.get_title(loc="left")
    assert "25 failed rows" in title and "all 5 reasons" in title


def test_failures_by_reason_chart_groups_a_shared_reason(charts, results):
    ax = charts.failures_by_reason_chart(results)
    # "Timestamp expires" is -16 (SMS), -6 (email) and -4 (voice): three bars around one label.
    row = _ticks(ax).index("Timestamp expires")
    bars = [p for p in ax.patches if abs(p.get_y() + p.get_height() / 2 - row) < 0.45]
    assert sorted(round(p.get_width()) for p in bars) == [1, 2, 3]
    assert len({p.get_facecolor() for p in bars}) == 3


def test_failures_by_reason_chart_respects_ax_and_top(charts, results):
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    before = plt.get_fignums()
    ax = charts.failures_by_reason_chart(results, ax=given, top=2)
    assert ax is given and plt.get_fignums() == before
    assert _ticks(ax) == ["Numbers are abnormal", "Timestamp expires"]
    assert "top 2 of 5 reasons" in ax.get_title(loc="left")


def test_failures_by_reason_chart_without_failures(charts, results):
    ax = charts.failures_by_reason_chart(results[results["state"].eq("accepted") & results["delivery"].eq("delivered")])
    assert "No failed rows" in _texts(ax)


def test_save_failure_chart(charts, results, tmp_path):
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    path = charts.save_failure_chart(results, tmp_path / "failures.png")
    assert path == tmp_path / "failures.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == before  # a figure outside pyplot: nothing left open


def test_funnel_chart(charts, results):
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    ax = charts.funnel_chart(results, ax=given)
    assert ax is given
    assert [t.get_text() for t in ax.get_xticklabels()][:3] == ["all rows", "submitted\nto BUKA", "accepted"]
    assert {"36", "29", "24", "20", "4"} <= set(_texts(ax))  # SMS: rows, submitted, accepted, delivered, failed
    share = charts.funnel_chart(results, normalize=True)
    assert "100%" in _texts(share)


def test_country_chart(charts, results):
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    ax = charts.country_chart(results, ax=given)
    assert ax is given
    assert _ticks(ax)[0] == "India (+91)"  # 7 failures, the most
    assert "  7 of 7 (100.0%)" in _texts(ax)
    assert "United Kingdom (+44)" in _ticks(ax)


def test_over_time_chart(charts, results):
    import matplotlib.pyplot as plt

    fig, given = plt.subplots()
    ax = charts.over_time_chart(results, ax=given, freq="1h")
    assert ax is given
    assert [line.get_label() for line in ax.get_lines()] == ["SMS", "Email", "Voice"]
    sms = ax.get_lines()[0]
    assert list(sms.get_ydata()) == [4.0, 5.0]  # 09:00 UNDELIV; 10:00 -12 and -16
    rate = charts.over_time_chart(results, rate=True)
    assert rate.get_ylabel() == "failure rate"


def test_charts_leave_input_alone_and_never_show(charts, results, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.setattr(plt, "show", lambda *a, **k: pytest.fail("library code called plt.show()"))
    before = results.copy(deep=True)
    for draw in (charts.failures_by_reason_chart, charts.funnel_chart, charts.country_chart, charts.over_time_chart):
        draw(results)
    pd.testing.assert_frame_equal(results, before)


def test_import_buka_nb_does_not_load_matplotlib_or_ipywidgets():
    code = ("import sys, buka_nb, buka_nb.analysis; "
            "heavy = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; "
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_docstring_examples(charts):
    import doctest

    assert doctest.testmod(charts).failed == 0
