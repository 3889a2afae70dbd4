"""buka_nb.analysis on small hand-built result frames: exact counts, no mutation, speed."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from buka_nb import analysis
from buka_nb.analysis import (failure_mask, failures_by_country, failures_by_reason, failures_over_time,
                              funnel, next_steps, retryable_rows, summary)
from buka_nb.catalog import lookup
from buka_nb.errors import InputError
from buka_nb.schema import RESULT_COLUMNS, conform

UNKNOWN = "Outcome unknown: the request was sent but no response arrived"

# index: channel, recipient, state, code, delivery, delivery_reason, submitted (HH:MM UTC or None)
ROWS = {
    0: ("sms", "447911123456", "accepted", 0, "delivered", "DELIVRD", "09:05"),
    1: ("sms", "447911123457", "accepted", 0, "failed", "UNDELIV", "09:10"),
    2: ("sms", "919812345678", "accepted", 0, "failed", "UNDELIV", "09:20"),
    3: ("sms", "2348031234567", "rejected", -10, None, None, "09:20"),
    4: ("sms", "44791", "invalid", -9, None, None, None),
    5: ("sms", "0791112345", "invalid", -9, None, None, None),
    6: ("sms", "639171234567", "rejected", -15, None, None, "10:40"),
    7: ("sms", "14155552671", "unknown", None, None, None, "09:55"),
    8: ("email", "a@example.com", "accepted", 0, "delivered", "delivered", "09:00"),
    9: ("email", "b@example.com", "rejected", -6, None, None, "09:30"),
    10: ("email", "c@example.com", "not_sent", None, None, None, None),
    11: ("voice", "639181234567", "rejected", -4, None, None, "09:45"),
    12: ("voice", "2348067654321", "rejected", -1, None, None, "09:45"),
    13: ("sms", "447911123459", "rejected", -1, None, None, "09:50"),
}


def _frame(rows: dict) -> pd.DataFrame:
    records = {}
    for i, (channel, recipient, state, code, delivery, delivery_reason, at) in rows.items():
        info = lookup(channel, code) if code is not None else None
        record = {"channel": channel, "recipient": recipient, "state": state, "code": code,
                  "delivery": delivery, "delivery_reason": delivery_reason,
                  "submitted_at": f"2025-03-03T{at}:00Z" if at else None}
        if info is not None:
            record.update(reason=info.reason, category=info.category, retryable=info.retryable)
        records[i] = record
    frame = pd.DataFrame.from_dict(records, orient="index")
    return conform(frame)


@pytest.fixture
def results() -> pd.DataFrame:
    frame = _frame(ROWS)
    # What buka_nb.results writes for rows without a code; the unknown row is flagged retryable on
    # purpose, to prove retryable_rows still never picks it.
    frame.loc[7, ["reason", "category", "retryable"]] = [UNKNOWN, "unknown", True]
    frame.loc[10, ["category", "retryable"]] = ["transport", True]
    return frame


def test_failure_mask(results):
    assert failure_mask(results)[lambda s: s].index.tolist() == [1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13]


def test_failures_by_reason_per_channel(results):
    out = failures_by_reason(results)
    assert out.columns.tolist() == ["channel", "code", "reason", "rows", "share", "category", "retryable", "action"]
    got = [(r.channel, None if pd.isna(r.code) else int(r.code), r.reason, r.rows, r.share, r.category,
            bool(r.retryable)) for r in out.itertuples()]
    assert got == [
        ("sms", -9, "Numbers are abnormal", 2, 0.25, "input", False),
        ("sms", None, "UNDELIV", 2, 0.25, "delivery", False),
        ("sms", -15, "Query too frequently", 1, 0.125, "limit", True),
        ("sms", -10, "Insufficient balance which unable to support the task", 1, 0.125, "account", False),
        ("sms", -1, "Authentication error", 1, 0.125, "auth", False),
        ("sms", None, UNKNOWN, 1, 0.125, "unknown", True),
        ("email", -6, "Timestamp expires", 1, 0.5, "auth", True),
        ("email", None, "Not sent (campaign stopped early or dry run)", 1, 0.5, "transport", True),
        ("voice", -4, "Timestamp expires", 1, 0.5, "auth", True),
        ("voice", -1, "Authentication error", 1, 0.5, "auth", False),
    ]
    actions = dict(zip(out["reason"], out["action"]))
    assert actions["Insufficient balance which unable to support the task"] == "Top up the balance."
    assert actions["UNDELIV"] == "Check the number is right and reachable; resend only after fixing it."
    assert "never resend blindly" in actions[UNKNOWN]
    assert out.dtypes.astype(str).tolist() == ["string", "Int64", "string", "int64", "float64", "string",
                                               "boolean", "string"]


def test_failures_by_reason_fills_missing_reason_from_catalog(results):
    frame = results.copy()
    frame.loc[3, ["reason", "category", "retryable"]] = [pd.NA, pd.NA, pd.NA]
    row = failures_by_reason(frame).query("code == -10").iloc[0]
    assert (row.reason, row.category, bool(row.retryable)) == (
        "Insufficient balance which unable to support the task", "account", False)


def test_failures_by_reason_across_channels(results):
    out = failures_by_reason(results, by_channel=False)
    assert "channel" not in out.columns
    got = {r.reason: (None if pd.isna(r.code) else int(r.code), r.rows) for r in out.itertuples()}
    assert got["Authentication error"] == (-1, 2)  # -1 on SMS and voice alike
    assert got["Timestamp expires"] == (None, 2)   # -6 on email, -4 on voice: no single code
    assert got["Numbers are abnormal"] == (-9, 2)
    assert out["rows"].sum() == 12
    assert out["share"].sum() == pytest.approx(1.0)
    assert out["rows"].is_monotonic_decreasing


def test_no_failures_gives_empty_frames_with_columns(results):
    ok = results.loc[[0, 8]]
    reasons = failures_by_reason(ok)
    assert reasons.empty and reasons.columns.tolist()[:4] == ["channel", "code", "reason", "rows"]
    assert next_steps(ok).empty
    assert retryable_rows(ok).empty


def test_summary(results):
    out = summary(results)
    assert out.columns.tolist() == ["channel", "rows", "accepted", "invalid", "rejected", "not_sent", "unknown",
                                    "delivered", "pending", "failed", "failure_rate"]
    assert out.drop(columns="failure_rate").values.tolist() == [
        ["sms", 9, 3, 2, 3, 0, 1, 1, 0, 2],
        ["email", 3, 1, 0, 1, 1, 0, 1, 0, 0],
        ["voice", 2, 0, 0, 2, 0, 0, 0, 0, 0],
    ]
    assert out["failure_rate"].tolist() == pytest.approx([8 / 9, 2 / 3, 1.0])


def test_summary_counts_missing_report_as_pending(results):
    frame = results.copy()
    frame.loc[0, "delivery"] = pd.NA  # accepted, no report yet
    assert summary(frame).set_index("channel").loc["sms", ["delivered", "pending"]].tolist() == [0, 1]


def test_funnel(results):
    out = funnel(results)
    assert out.columns.tolist() == ["channel", "stage", "rows", "share"]
    table = out.pivot(index="channel", columns="stage", values="rows")
    assert table.loc["sms"].tolist() == [9, 7, 3, 1, 0, 2]
    assert table.loc["email"].tolist() == [3, 2, 1, 1, 0, 0]
    assert table.loc["voice"].tolist() == [2, 2, 0, 0, 0, 0]
    assert list(out["stage"].cat.categories) == ["rows", "submitted", "accepted", "delivered", "pending", "failed"]
    assert out.loc[(out.channel == "sms") & (out.stage == "submitted"), "share"].item() == pytest.approx(7 / 9)


def test_failures_by_country(results):
    out = failures_by_country(results)
    assert out.columns.tolist() == ["region", "country", "calling_code", "rows", "failed", "failure_rate"]
    got = [(r.region, r.country, None if pd.isna(r.calling_code) else int(r.calling_code), r.rows, r.failed)
           for r in out.itertuples()]
    assert got == [
        ("GB", "United Kingdom", 44, 4, 3),
        ("NG", "Nigeria", 234, 2, 2),
        ("PH", "Philippines", 63, 2, 2),
        ("IN", "India", 91, 1, 1),
        ("US", "United States", 1, 1, 1),
        ("ZZ", "Unknown", None, 1, 1),  # 0791112345: national format, no country code
    ]


def test_failures_by_country_reads_raw_formats_and_splits_channels():
    frame = _frame({
        0: ("sms", "+44 7911 123456", "invalid", -9, None, None, None),
        1: ("sms", "0044 7911 123457", "accepted", 0, "delivered", "DELIVRD", "09:00"),
        2: ("voice", "(+63) 917 123 4567", "rejected", -3, None, None, "09:00"),
        3: ("email", "x@example.com", "invalid", -32, None, None, None),
        4: ("sms", None, "invalid", -8, None, None, None),
    })
    out = failures_by_country(frame, by_channel=True)
    got = [(r.channel, r.region, r.rows, r.failed) for r in out.itertuples()]
    assert got == [("sms", "GB", 2, 1), ("sms", "ZZ", 1, 1), ("voice", "PH", 1, 1)]


def test_failures_over_time(results):
    out = failures_over_time(results, freq="1h")
    assert out.columns.tolist() == ["time", "channel", "rows", "failed", "failure_rate"]
    nine, ten = pd.Timestamp("2025-03-03T09:00Z"), pd.Timestamp("2025-03-03T10:00Z")
    got = [(r.time, r.channel, r.rows, r.failed) for r in out.itertuples()]
    assert got == [(nine, "sms", 6, 5), (nine, "email", 2, 1), (nine, "voice", 2, 2),
                   (ten, "sms", 1, 1), (ten, "email", 0, 0), (ten, "voice", 0, 0)]
    assert np.isnan(out["failure_rate"].iloc[4])
    assert str(out["time"].dtype) == "datetime64[ns, UTC]"


def test_failures_over_time_calendar_freq_and_empty(results):
    weekly = failures_over_time(results, freq="W")
    assert weekly["rows"].sum() == 11 and weekly["failed"].sum() == 9  # 3 rows were never submitted
    never = failures_over_time(results.loc[[4, 5, 10]])
    assert never.empty and never.columns.tolist() == ["time", "channel", "rows", "failed", "failure_rate"]


def test_next_steps(results):
    out = next_steps(results)
    assert out.columns.tolist() == ["step", "channel", "category", "code", "reason", "rows", "retryable", "action"]
    got = [(r.step, r.channel, None if pd.isna(r.code) else int(r.code), r.rows) for r in out.itertuples()]
    assert got == [
        ("Fix the credentials", "sms", -1, 1),
        ("Fix the credentials", "voice", -1, 1),
        ("Top up / unlock the account", "sms", -10, 1),
        ("Fix the data", "sms", -9, 2),
        ("Retry later", "sms", -15, 1),
        ("Retry later", "email", -6, 1),
        ("Retry later", "voice", -4, 1),
        ("Send again", "email", None, 1),
        ("Check before resending", "sms", None, 1),
        ("Check the numbers", "sms", None, 2),
    ]


def test_retryable_rows_never_picks_unknown(results):
    assert retryable_rows(results).index.tolist() == [6, 9, 10, 11]
    assert retryable_rows(results, include_not_sent=False).index.tolist() == [6, 9, 11]
    assert 7 not in retryable_rows(results).index  # unknown, even though flagged retryable
    assert retryable_rows(results).columns.tolist() == RESULT_COLUMNS


def test_retryable_rows_joined_to_inputs(results):
    inputs = pd.DataFrame({"phone": [f"p{i}" for i in range(14)], "name": [f"n{i}" for i in range(14)]})
    out = retryable_rows(results, inputs)
    assert out.columns.tolist() == ["phone", "name"]
    assert out["phone"].tolist() == ["p6", "p9", "p10", "p11"]
    with pytest.raises(InputError, match="not in inputs"):
        retryable_rows(results, inputs.iloc[:7])
    with pytest.raises(InputError, match="duplicate index"):
        retryable_rows(results, pd.concat([inputs, inputs]))


FUNCTIONS = [failure_mask, failures_by_reason, lambda r: failures_by_reason(r, by_channel=False), next_steps,
             summary, funnel, failures_by_country, failures_over_time, retryable_rows]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_input_is_not_mutated(results, function):
    before = results.copy(deep=True)
    function(results)
    pd.testing.assert_frame_equal(results, before)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_missing_columns_raise_input_error(function):
    with pytest.raises(InputError, match="no column"):
        function(pd.DataFrame({"phone": ["447911123456"]}))


def test_concatenated_channels_with_repeated_index(results):
    # pd.concat of per-channel results repeats index labels (each channel keeps its input's index).
    frame = pd.concat([results.loc[:7].reset_index(drop=True), results.loc[8:].reset_index(drop=True)])
    assert failures_by_reason(frame)["rows"].sum() == 12
    assert summary(frame)["rows"].tolist() == [9, 3, 2]
    assert failures_over_time(frame)["failed"].sum() == 9
    assert failures_by_country(frame)["rows"].sum() == 11


def test_categorical_columns_give_the_same_answer(results):
    frame = results.astype({c: "category" for c in ("channel", "state", "reason", "category", "delivery",
                                                    "delivery_reason")})
    pd.testing.assert_frame_equal(failures_by_reason(frame), failures_by_reason(results))
    pd.testing.assert_frame_equal(summary(frame), summary(results))


def test_a_million_rows_count_exactly(results):
    # its speed is the benchmark suite's to show (benchmarks/analysis_speed.py), not a timed test's
    k = 1_000_000 // len(results)
    big = results.iloc[np.repeat(np.arange(len(results)), k)].reset_index(drop=True)  # every row k times
    small, out = failures_by_reason(results), failures_by_reason(big)
    assert len(big) > 990_000 and out["rows"].sum() == failure_mask(big).sum()
    assert out["rows"].tolist() == (small["rows"] * k).tolist()
    pd.testing.assert_frame_equal(out.drop(columns="rows"), small.drop(columns="rows"))


def test_docstring_examples():
    assert doctest.testmod(analysis).failed == 0


def test_delivery_failures_that_are_usually_temporary_say_try_again_later():
    from buka_nb.schema import conform

    rows = [("voice", "NO_ANSWER"), ("voice", "BUSY"), ("voice", "VACANT_NUMBER"), ("email", "SOFT_BOUNCE"),
            ("email", "HARD_BOUNCE"), ("sms", "UNDELIV")]
    frame = conform(pd.DataFrame({"channel": [c for c, _ in rows], "state": "accepted", "code": 0,
                                  "delivery": "failed", "delivery_reason": [r for _, r in rows]}))
    out = failures_by_reason(frame).set_index("reason")
    assert out.retryable.to_dict() == {"NO_ANSWER": True, "BUSY": True, "VACANT_NUMBER": False, "SOFT_BOUNCE": True,
                                       "HARD_BOUNCE": False, "UNDELIV": False}
    later = "Usually temporary (no answer, busy, switched off, mailbox full): try again later."
    assert out.action["NO_ANSWER"] == out.action["SOFT_BOUNCE"] == later
    assert out.action["HARD_BOUNCE"] == ("Check the address is right (a hard bounce means it does not exist); resend "
                                         "only after fixing it.")
    assert out.action["VACANT_NUMBER"].startswith("Check the number is right (vacant, out of service, refused)")
    assert out.category.eq("delivery").all() and out.code.isna().all()


@pytest.mark.parametrize("read", [dict(dtype=str), {}])
def test_a_results_csv_read_back_any_way_analyses_like_the_frame(results, tmp_path, read):
    path = tmp_path / "results.csv"
    results.to_csv(path, index_label="row")
    back = pd.read_csv(path, index_col="row", **read)
    pd.testing.assert_frame_equal(failures_by_reason(back), failures_by_reason(results))
    assert next_steps(back).equals(next_steps(results))
    assert retryable_rows(back).index.astype(int).tolist() == retryable_rows(results).index.tolist()


def test_a_row_without_a_channel_is_counted_not_a_crash(results):
    broken = results.copy()
    broken["channel"] = broken["channel"].astype("string")
    broken.loc[broken.index[1], "channel"] = pd.NA
    out = failures_by_reason(broken)
    assert out["rows"].sum() == failure_mask(broken).sum() and out["channel"].isna().sum() == 1
