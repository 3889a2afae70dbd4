"""Failure analysis of result frames: why rows failed, where, when, and what to do next.

Every function takes a result frame (:data:`buka_nb.schema.RESULT_SCHEMA`, one channel or several
concatenated), never mutates it and returns a new, small frame. A row *failed* when its ``state``
is ``rejected``, ``invalid``, ``not_sent`` or ``unknown``, or when its delivery report says
``failed`` (see :func:`failure_mask`). The work is done with vectorised masks and group-bys on the
few columns involved, so ten million rows take well under a second or two; catalog look-ups and
phone-prefix parsing run once per distinct value, never per row.

>>> res = example_results()
>>> summary(res)[["channel", "rows", "accepted", "invalid", "failed"]]
  channel  rows  accepted  invalid  failed
0     sms     6         2        2       1
1   email     3         1        1       0
2   voice     3         1        0       0
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .catalog import CHANNELS, lookup
from .errors import InputError
from .schema import conform, retype

if TYPE_CHECKING:
    from collections.abc import Iterable

#: States that count as a failure on their own (``accepted`` rows fail only through delivery).
FAILED_STATES = ("rejected", "invalid", "not_sent", "unknown")
#: States of rows that actually reached BUKA.
SENT_STATES = ("accepted", "rejected", "unknown")

# The reason buka_nb.engine gives unknown rows (not imported: analysis stays free of the I/O layer).
_UNKNOWN_REASON = "Outcome unknown: the request was sent but no response arrived"

# Filled in for failure groups whose rows carry no code (or no reason/category): why, and what to do.
_DEFAULTS: dict[str, tuple[str, str, bool, str]] = {
    "unknown": ("No answer from BUKA: outcome unknown", "unknown", False,
                "Reconcile with the delivery reports or the BUKA console first; never resend blindly."),
    "not_sent": ("Not sent (campaign stopped early or dry run)", "not_sent", True,
                 "Send these rows again once whatever stopped the campaign is fixed."),
    "invalid": ("Invalid input", "input", False,
                "Fix the rows named in the detail column and send them again."),
    "rejected": ("Rejected by BUKA", "unknown", False,
                 "Look the reason up with BUKA support."),
    "delivery": ("Delivery failed", "delivery", False,
                 "Check the recipient is right and reachable; resend only after fixing it."),
}

#: Delivery failures that are usually temporary, per channel (the reports' reason texts): worth another try later.
_TEMPORARY_DELIVERY: dict[str, frozenset[str]] = {
    "voice": frozenset({"NO_ANSWER", "BUSY", "POWER_OFF", "CALL_LOSS", "CAN_NOT_CONNECT"}),
    "email": frozenset({"SOFT_BOUNCE", "MAILBOX_FULL"}),
}
_TEMPORARY_ACTION = "Usually temporary (no answer, busy, switched off, mailbox full): try again later."
_DELIVERY_ACTION = {
    "sms": "Check the number is right and reachable; resend only after fixing it.",
    "email": "Check the address is right (a hard bounce means it does not exist); resend only after fixing it.",
    "voice": "Check the number is right (vacant, out of service, refused); call again only after fixing it.",
}

# What to do next, per category: (priority, short step). Blocking problems come first because
# nothing gets through until they are fixed.
_STEPS: dict[str, tuple[int, str]] = {
    "auth": (0, "Fix the credentials"),
    "account": (1, "Top up / unlock the account"),
    "config": (2, "Contact BUKA support"),
    "content": (3, "Fix the content"),
    "input": (4, "Fix the data"),
    "limit": (5, "Raise the limit"),
    "platform": (6, "Retry later"),
    "not_sent": (7, "Send again"),
    "transport": (7, "Send again"),
    "unknown": (8, "Check before resending"),
    "delivery": (9, "Check the numbers"),
}

_REASON_COLUMNS = ["channel", "code", "reason", "rows", "share", "category", "retryable", "action"]


# --------------------------------------------------------------------------- helpers


def _require(results: pd.DataFrame, columns: Iterable[str], where: str) -> pd.DataFrame:
    """*results* with *columns* there and in the schema's dtypes (a copy where a file round trip changed them)."""
    if not isinstance(results, pd.DataFrame):
        raise InputError(f"{where}: expected a result DataFrame, got {type(results).__name__}")
    columns = list(columns)
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise InputError(f"{where}: the frame has no column {', '.join(map(repr, missing))}; pass the "
                         "frame a send function returned (columns: buka_nb.schema.RESULT_COLUMNS)")
    # read back with pd.read_csv(..., dtype=str) or without dtypes: the columns used are typed again
    try:
        return retype(results, columns)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: a column does not hold result values ({exc}); pass the frame a send "
                         "function returned, or read a results file with buka_nb's dtypes") from None


def _flag(values: pd.Series | pd.api.extensions.ExtensionArray) -> np.ndarray:
    """A plain numpy bool array, NA counting as False."""
    return pd.Series(values).to_numpy(dtype=bool, na_value=False)


def _send_failed(results: pd.DataFrame) -> np.ndarray:
    return _flag(results["state"].isin(FAILED_STATES))


def _delivery_failed(results: pd.DataFrame) -> np.ndarray:
    return _flag(results["delivery"] == "failed")


def _channel_rank(channels: pd.Series) -> pd.Series:
    """Sort key putting sms, email, voice first, then anything else."""
    return channels.map({c: i for i, c in enumerate(CHANNELS)}).astype("float64").fillna(len(CHANNELS))


def _sorted(frame: pd.DataFrame, by: list[str], ascending: list[bool]) -> pd.DataFrame:
    if "channel" in frame.columns:
        frame = frame.assign(_rank=_channel_rank(frame["channel"]))
        by, ascending = ["_rank", *by], [True, *ascending]
    out = frame.sort_values(by, ascending=ascending, kind="stable", na_position="last")
    return out.drop(columns="_rank", errors="ignore").reset_index(drop=True)


def failure_mask(results: pd.DataFrame) -> pd.Series:
    """True for each failed row: a failing ``state`` or ``delivery == "failed"``.

    >>> failure_mask(example_results()).sum()
    np.int64(9)
    """
    results = _require(results, ["state", "delivery"], "failure_mask")
    return pd.Series(_send_failed(results) | _delivery_failed(results), index=results.index, name="failed")


# --------------------------------------------------------------------------- reasons


def _failure_groups(results: pd.DataFrame) -> pd.DataFrame:
    """Failing rows counted per (channel, state, code, reason, category, retryable), delivery
    failures included, with every gap filled from the catalog or :data:`_DEFAULTS`."""
    send = _send_failed(results)
    keys = ["channel", "state", "code", "reason", "category", "retryable"]
    sent = (results.loc[send, keys]
            .groupby(keys, dropna=False, observed=True, sort=False).size().rename("rows").reset_index())
    deliv = ~send & _delivery_failed(results)
    failed = (results.loc[deliv, ["channel", "delivery_reason"]]
              .groupby(["channel", "delivery_reason"], dropna=False, observed=True, sort=False).size()
              .rename("rows").reset_index().rename(columns={"delivery_reason": "reason"})
              .assign(state="delivery", code=pd.NA, category="delivery"))
    temporary = [str(r).strip().upper() in _TEMPORARY_DELIVERY.get(str(ch), ()) for ch, r in zip(failed["channel"],
                                                                                                   failed["reason"])]
    failed["retryable"] = temporary
    failed["action"] = [_TEMPORARY_ACTION if t else _DELIVERY_ACTION.get(str(ch), _DEFAULTS["delivery"][3])
                        for ch, t in zip(failed["channel"], temporary)]
    table = pd.concat([sent.astype({"channel": "string", "state": "string", "reason": "string"}),
                       failed], ignore_index=True)
    table = table.astype({"channel": "string", "state": "string", "code": "Int64", "reason": "string",
                          "category": "string", "retryable": "boolean", "rows": "int64"})
    table["action"] = (table["action"] if "action" in table else pd.Series(pd.NA, index=table.index)).astype("string")
    if table.empty:
        return table

    info = {}
    for channel, code in table.loc[table["code"].notna(), ["channel", "code"]].drop_duplicates().itertuples(index=False):
        if isinstance(channel, str) and channel in CHANNELS:
            info[(channel, int(code))] = lookup(channel, int(code))
    fallback = table["state"].map(lambda s: _DEFAULTS.get(s, _DEFAULTS["rejected"]))
    from_code = pd.Series([info.get((ch, int(c))) if not pd.isna(c) and st != "delivery" else None
                           for ch, c, st in zip(table["channel"], table["code"], table["state"])],
                          index=table.index, dtype=object)
    for column, pos in (("reason", 0), ("category", 1), ("retryable", 2), ("action", 3)):
        known = from_code.map(lambda i: None if i is None else getattr(i, column))
        default = fallback.map(lambda d: d[pos])
        filled = known.where(known.notna(), default)
        table[column] = table[column].fillna(pd.Series(filled, index=table.index).astype(table[column].dtype))
    return table


def failures_by_reason(results: pd.DataFrame, by_channel: bool = True) -> pd.DataFrame:
    """Failing rows counted per BUKA reason, most frequent first, with what each reason means.

    Columns: ``channel``, ``code`` (Int64; NA for delivery failures, ``unknown`` and other rows
    without a code), ``reason``, ``rows`` (failing rows), ``share`` (of the channel's failing rows,
    or of all of them when ``by_channel=False``), ``category`` (catalog category, ``delivery`` for
    delivery-report failures), ``retryable`` and ``action``. Delivery failures take their reason
    from ``delivery_reason``. With ``by_channel=False`` the same reason text is merged across
    channels, ``channel`` is dropped and ``code`` is NA where the channels' codes differ.

    >>> failures_by_reason(example_results())[["channel", "code", "rows", "share", "category"]].head(4)
      channel  code  rows  share  category
    0     sms    -9     2    0.4     input
    1     sms   -10     1    0.2   account
    2     sms  <NA>     1    0.2   unknown
    3     sms  <NA>     1    0.2  delivery
    """
    results = _require(results, ["channel", "state", "code", "reason", "category", "retryable", "delivery",
                       "delivery_reason"], "failures_by_reason")
    table = _failure_groups(results)
    keys = ["channel", "code", "reason"] if by_channel else ["reason"]
    # The biggest sub-group of a key decides its category/retryable/action.
    table = table.sort_values("rows", ascending=False, kind="stable")
    agg = {"rows": ("rows", "sum"), "category": ("category", "first"),
           "retryable": ("retryable", "first"), "action": ("action", "first")}
    if not by_channel:
        agg["code"] = ("code", lambda s: s.iloc[0] if s.nunique(dropna=False) == 1 else pd.NA)
    out = table.groupby(keys, dropna=False, sort=False).agg(**agg).reset_index()
    total = out.groupby("channel", dropna=False)["rows"].transform("sum") if by_channel else out["rows"].sum()
    out["share"] = (out["rows"] / total).astype("float64") if len(out) else pd.Series(dtype="float64")
    columns = _REASON_COLUMNS if by_channel else _REASON_COLUMNS[1:]
    out = out.astype({"code": "Int64", "rows": "int64"})[columns]
    order = ["rows", *keys]
    if by_channel:
        out = out.assign(_rank=_channel_rank(out["channel"]))
        order = ["rows", "_rank", "code", "reason"]
    out = out.sort_values(order, ascending=[False] + [True] * (len(order) - 1), kind="stable", na_position="last")
    return out.drop(columns="_rank", errors="ignore").reset_index(drop=True)


def next_steps(results: pd.DataFrame) -> pd.DataFrame:
    """What to do next: every failing reason with a short ``step``, blocking problems first.

    Columns: ``step`` (Fix the credentials, Top up / unlock the account, Contact BUKA support, Fix
    the content, Fix the data, Raise the limit, Retry later, Send again, Check before resending,
    Check the numbers), ``channel``, ``category``, ``code``, ``reason``, ``rows``, ``retryable``,
    ``action`` (the catalog's concrete advice). Ordered by how much the step blocks everything else
    (credentials, account, setup first; retryable codes with "Retry later"), then by row count.

    >>> next_steps(example_results())[["step", "channel", "rows"]].head(3)
                              step channel  rows
    0  Top up / unlock the account     sms     1
    1  Top up / unlock the account   voice     1
    2                 Fix the data     sms     2
    """
    reasons = failures_by_reason(results, by_channel=True)
    # A retryable limit, clock or input code needs no fix, only a later retry: rank it with those.
    retry_later = reasons["retryable"].fillna(False).to_numpy(dtype=bool) & reasons["category"].isin(
        ["limit", "auth", "input"]).to_numpy(dtype=bool)
    category = reasons["category"].where(~retry_later, "platform")
    known = category.map(lambda c: _STEPS.get(c, (len(_STEPS), "Contact BUKA support")))
    out = reasons.assign(step=pd.Series([s for _, s in known], index=reasons.index, dtype="string"),
                         _priority=[p for p, _ in known])
    out = out.sort_values(["_priority", "rows"], ascending=[True, False], kind="stable")
    return out[["step", "channel", "category", "code", "reason", "rows", "retryable", "action"]].reset_index(drop=True)


# --------------------------------------------------------------------------- states and funnel


def _state_counts(results: pd.DataFrame) -> pd.DataFrame:
    """Rows per (channel, state, delivery): one pass over the big frame, everything else on this."""
    return (results.groupby(["channel", "state", "delivery"], dropna=False, observed=True, sort=False)
            .size().rename("rows").reset_index()
            .astype({"channel": "string", "state": "string", "delivery": "string"}))


def summary(results: pd.DataFrame) -> pd.DataFrame:
    """One row per channel: how many rows ended in each state and delivery outcome.

    Columns: ``channel``, ``rows``, ``accepted``, ``invalid``, ``rejected``, ``not_sent``,
    ``unknown``, ``delivered``, ``pending`` (accepted, no final report yet), ``failed`` (delivery
    report said failed) and ``failure_rate`` (every failed row, :func:`failure_mask`, over ``rows``).

    >>> summary(example_results())[["channel", "rejected", "unknown", "pending", "failure_rate"]].round(2)
      channel  rejected  unknown  pending  failure_rate
    0     sms         1        1        0          0.83
    1   email         1        0        0          0.67
    2   voice         1        0        1          0.67
    """
    results = _require(results, ["channel", "state", "delivery"], "summary")
    counts = _state_counts(results)
    state, delivery = counts["state"], counts["delivery"]
    accepted = _flag(state == "accepted")
    parts = {"rows": np.ones(len(counts), dtype=bool)}
    for name in ("accepted", "invalid", "rejected", "not_sent", "unknown"):
        parts[name] = _flag(state == name)
    parts["delivered"] = accepted & _flag(delivery == "delivered")
    parts["failed"] = _flag(delivery == "failed") & ~_flag(state.isin(FAILED_STATES))
    parts["pending"] = accepted & ~_flag(delivery.isin(["delivered", "failed"]))
    parts["_failures"] = _flag(state.isin(FAILED_STATES)) | parts["failed"]
    frame = pd.DataFrame({k: np.where(v, counts["rows"], 0) for k, v in parts.items()})
    frame.insert(0, "channel", counts["channel"])
    out = frame.groupby("channel", dropna=False, sort=False).sum().reset_index()
    out["failure_rate"] = (out.pop("_failures") / out["rows"]).astype("float64")
    columns = ["channel", "rows", "accepted", "invalid", "rejected", "not_sent", "unknown", "delivered",
               "pending", "failed", "failure_rate"]
    return _sorted(out[columns].astype({c: "int64" for c in columns[1:-1]}), [], [])


#: Funnel stages, in order.
FUNNEL_STAGES = ("rows", "submitted", "accepted", "delivered", "pending", "failed")


def funnel(results: pd.DataFrame) -> pd.DataFrame:
    """The send funnel per channel, long format: rows → submitted → accepted → delivered/pending/failed.

    ``rows`` are all input rows; ``submitted`` the rows that reached BUKA (accepted, rejected or
    unknown; invalid and not-sent rows never went out); ``accepted`` the rows BUKA took, which end
    ``delivered``, ``failed`` or still ``pending`` (no final report yet). Columns: ``channel``,
    ``stage`` (ordered categorical, :data:`FUNNEL_STAGES`), ``rows`` and ``share`` (of the
    channel's ``rows``).

    >>> funnel(example_results()).query("channel == 'sms'")["rows"].tolist()
    [6, 4, 2, 1, 0, 1]
    """
    table = summary(results)
    table["submitted"] = table["accepted"] + table["rejected"] + table["unknown"]
    long = (table.melt(id_vars="channel", value_vars=list(FUNNEL_STAGES), var_name="stage", value_name="_n")
            .rename(columns={"_n": "rows"}))
    long["stage"] = pd.Categorical(long["stage"], categories=FUNNEL_STAGES, ordered=True)
    long = long.merge(table[["channel", "rows"]].rename(columns={"rows": "_total"}), on="channel", how="left")
    long["share"] = (long["rows"] / long.pop("_total").where(lambda t: t > 0)).astype("float64")
    long = long.astype({"rows": "int64"})
    return _sorted(long, ["stage"], [True])


# --------------------------------------------------------------------------- where and when


def _calling_code(prefix: str) -> int | None:
    """The country calling code a number starts with (``+44 7…``, ``0044…``, ``447…``), else None."""
    import phonenumbers

    text = re.sub(r"[\s()\-.]", "", str(prefix))
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    digits = re.match(r"\d*", text).group(0)  # type: ignore[union-attr]
    if digits.startswith("0"):  # a national number (07911...): no country code to read
        return None
    for size in (1, 2, 3):  # calling codes are prefix-free: the first hit is the code
        if len(digits) >= size and int(digits[:size]) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(digits[:size])
    return None


def _country_name(region: str) -> str:
    import phonenumbers
    from phonenumbers import geocoder

    if region in ("ZZ", "001"):
        return "Unknown" if region == "ZZ" else "International (non-geographic)"
    example = phonenumbers.example_number(region)
    return (geocoder.country_name_for_number(example, "en") if example is not None else "") or region


def failures_by_country(results: pd.DataFrame, *, by_channel: bool = False) -> pd.DataFrame:
    """Rows and failures per destination country of the phone number (email rows are left out).

    The country comes from the number's country calling code via ``phonenumbers``: its main region
    (``+1`` counts as US, ``+7`` as RU, ``+44`` as GB). Numbers are parsed once per distinct
    six-character prefix, so ``+44 7911…``, ``0044…`` and ``447911…`` all work; numbers without
    a country code land in region ``ZZ`` ("Unknown"). Columns: ``region`` (ISO code),
    ``country``, ``calling_code``, ``rows``, ``failed``, ``failure_rate``; with ``by_channel=True``
    also ``channel``. Most failures first.

    >>> failures_by_country(example_results())[["region", "country", "rows", "failed"]]
      region         country  rows  failed
    0     GB  United Kingdom     3       2
    1     IN           India     2       2
    2     NG         Nigeria     2       2
    3     PH     Philippines     2       1
    """
    results = _require(results, ["channel", "recipient", "state", "delivery"], "failures_by_country")
    recipient = results["recipient"]
    if not pd.api.types.is_string_dtype(recipient):
        recipient = recipient.astype("string")
    # Grouping on the channel (3 values) is cheaper than subsetting ten million rows first.
    frame = pd.DataFrame({"channel": results["channel"], "prefix": recipient.str.slice(0, 6),
                          "failed": _send_failed(results) | _delivery_failed(results)})
    counts = frame.groupby(["channel", "prefix"], dropna=False, observed=True, sort=False).agg(
        rows=("failed", "size"), failed=("failed", "sum")).reset_index()
    counts = counts.loc[~_flag(counts["channel"] == "email")]
    import phonenumbers

    codes = {p: _calling_code(p.strip()) for p in counts["prefix"].dropna().unique()}
    counts["calling_code"] = pd.array([codes.get(p) if not pd.isna(p) else None for p in counts["prefix"]],
                                      dtype="Int64")
    regions = {c: phonenumbers.region_code_for_country_code(int(c)) for c in counts["calling_code"].dropna().unique()}
    counts["region"] = counts["calling_code"].map(lambda c: "ZZ" if pd.isna(c) else regions[c]).astype("string")
    counts.loc[counts["region"] == "ZZ", "calling_code"] = pd.NA
    group = (["channel"] if by_channel else []) + ["region"]
    out = counts.groupby(group, dropna=False, sort=False).agg(
        calling_code=("calling_code", "first"), rows=("rows", "sum"), failed=("failed", "sum")).reset_index()
    names = {r: _country_name(r) for r in out["region"].unique()}
    out["country"] = out["region"].map(names).astype("string")
    out["failure_rate"] = (out["failed"] / out["rows"]).astype("float64")
    out = out.astype({"rows": "int64", "failed": "int64", "calling_code": "Int64"})
    columns = (["channel"] if by_channel else []) + ["region", "country", "calling_code", "rows", "failed",
                                                     "failure_rate"]
    out = out[columns].sort_values(["failed", "rows", "region"], ascending=[False, False, True], kind="stable")
    return (_sorted(out, ["failed", "rows"], [False, False]) if by_channel else out.reset_index(drop=True))


def failures_over_time(results: pd.DataFrame, freq: str = "1h") -> pd.DataFrame:
    """Rows and failures per time bin of ``submitted_at`` and channel, empty bins filled with 0.

    Rows that were never submitted (``submitted_at`` NaT: invalid and not-sent rows) are left out;
    delivery failures count in the bin their row was submitted in. *freq* is any pandas offset
    (``"15min"``, ``"1h"``, ``"1D"``). Columns: ``time`` (bin start, UTC), ``channel``, ``rows``,
    ``failed``, ``failure_rate`` (NaN for empty bins).

    >>> failures_over_time(example_results(), freq="1h").query("channel == 'sms'")
                           time channel  rows  failed  failure_rate
    0 2025-03-03 09:00:00+00:00     sms     3       2      0.666667
    3 2025-03-03 10:00:00+00:00     sms     1       1      1.000000
    """
    results = _require(results, ["channel", "state", "delivery", "submitted_at"], "failures_over_time")
    when = pd.to_datetime(results["submitted_at"], utc=True)
    keep = when.notna().to_numpy()
    failed = (_send_failed(results) | _delivery_failed(results))[keep]
    try:  # fixed frequencies: flooring then a plain group-by is ~10x faster than pd.Grouper
        key: object = when[keep].dt.floor(freq)
        frame = pd.DataFrame({"time": key, "channel": results.loc[keep, "channel"], "failed": failed})
        by: list[object] = ["time", "channel"]
    except ValueError:  # calendar frequencies ("W", "MS") cannot be floored
        frame = pd.DataFrame({"time": when[keep], "channel": results.loc[keep, "channel"], "failed": failed})
        by = [pd.Grouper(key="time", freq=freq), "channel"]
    counts = frame.groupby(by, observed=True, sort=False).agg(rows=("failed", "size"), failed=("failed", "sum"))
    columns = ["time", "channel", "rows", "failed", "failure_rate"]
    if counts.empty:
        return pd.DataFrame({"time": pd.Series(dtype="datetime64[ns, UTC]"), "channel": pd.Series(dtype="string"),
                             "rows": pd.Series(dtype="int64"), "failed": pd.Series(dtype="int64"),
                             "failure_rate": pd.Series(dtype="float64")})
    bins = counts.index.get_level_values("time")
    channels = _sorted(pd.DataFrame({"channel": counts.index.get_level_values("channel").unique()}), [], [])
    full = pd.MultiIndex.from_product([pd.date_range(bins.min(), bins.max(), freq=freq), channels["channel"]],
                                      names=["time", "channel"])
    out = counts.reindex(full, fill_value=0).reset_index()
    out["failure_rate"] = (out["failed"] / out["rows"].where(out["rows"] > 0)).astype("float64")
    return out.astype({"rows": "int64", "failed": "int64"})[columns]


# --------------------------------------------------------------------------- resending


def retryable_rows(results: pd.DataFrame, inputs: pd.DataFrame | None = None, *,
                   include_not_sent: bool = True) -> pd.DataFrame:
    """The failed rows that sending again can help, optionally as the input rows ready to resend.

    Picks ``rejected``/``invalid`` rows whose ``retryable`` is True (rate limits, platform
    hiccups, an expired timestamp) and, with ``include_not_sent``, every ``not_sent`` row (never
    sent, so sending is safe). ``unknown`` rows are always left out even when flagged retryable:
    BUKA may already have them, and resending could message the recipient twice; reconcile them
    first. Delivery failures are left out too. Without *inputs* the result rows are returned;
    with *inputs* (the frame that was sent) its rows on the same index, ready for the same send
    function.

    >>> retryable_rows(example_results())[["channel", "state", "code"]]
       channel     state  code
    8    email  rejected   -22
    11   voice  not_sent  <NA>
    """
    results = _require(results, ["state", "retryable"], "retryable_rows")
    state = results["state"]
    pick = _flag(state.isin(["rejected", "invalid"])) & _flag(results["retryable"].astype("boolean"))
    if include_not_sent:
        pick |= _flag(state == "not_sent")
    rows = results.loc[pick]
    if inputs is None:
        return rows.copy()
    if not inputs.index.is_unique:
        raise InputError("retryable_rows: the inputs frame has a duplicate index; pass the frame that was "
                         "sent, on the index the result frame shares")
    missing = rows.index.difference(inputs.index)
    if len(missing):
        raise InputError(f"retryable_rows: {len(missing)} result row(s) are not in inputs (first: "
                         f"{missing[0]!r}); pass the frame that was sent, with its original index")
    return inputs.loc[rows.index].copy()


# --------------------------------------------------------------------------- example data


def example_results() -> pd.DataFrame:
    """A small hand-made result frame with every state and outcome, for examples and docs.

    >>> example_results().shape
    (12, 29)
    """
    start = pd.Timestamp("2025-03-03T09:00:00Z")
    rows = [  # channel, recipient, state, code, delivery, delivery_reason, submitted minute, detail
        ("sms", "447911123456", "accepted", 0, "delivered", "success", 0, None),
        ("sms", "2348031234567", "accepted", 0, "failed", "UNDELIV", 0, None),
        ("sms", "2348067654321", "rejected", -10, None, None, 5, None),
        ("sms", "44791112345", "invalid", -9, None, None, None, "phone: too short for +44"),
        ("sms", "91981234", "invalid", -9, None, None, None, "phone: too short for +91"),
        ("sms", "447700123456", "unknown", None, None, None, 65, None),
        ("email", "ana@example.com", "accepted", 0, "delivered", "success", 10, None),
        ("email", "bad@@example.com", "invalid", -32, None, None, None, "email: two @ signs"),
        ("email", "joe@example.org", "rejected", -22, None, None, 10, None),
        ("voice", "639171234567", "accepted", 0, "pending", None, 20, None),
        ("voice", "639181234567", "rejected", -3, None, None, 20, None),
        ("voice", "919876543210", "not_sent", None, None, None, None, None),
    ]
    records = []
    for channel, recipient, state, code, delivery, delivery_reason, minute, detail in rows:
        info = lookup(channel, code) if code is not None else None
        # What buka_nb.results gives rows without a code: unknown never retryable, unsent safe to resend.
        reason, category, retryable = ((info.reason, info.category, info.retryable) if info else
                                       {"unknown": (_UNKNOWN_REASON, "unknown", False),
                                        "not_sent": (None, "transport", True)}[state])
        records.append({
            "channel": channel, "recipient": recipient, "state": state, "code": code,
            "reason": reason, "category": category, "retryable": retryable,
            "batch": 1 if minute is not None else None,
            "attempts": 1 if minute is not None else None,
            "submitted_at": None if minute is None else start + pd.Timedelta(minutes=minute),
            "delivery": delivery, "delivery_reason": delivery_reason, "detail": detail,
        })
    return conform(pd.DataFrame(records))
