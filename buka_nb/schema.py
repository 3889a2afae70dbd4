"""The one result schema shared by SMS, email and voice result frames.

A bulk send returns one row per input row, on the input's index, with exactly these columns and
dtypes, so ``pd.concat([sms, email, voice])`` needs no renaming or casting.

==================  ======================  ======================================================
column              dtype                   meaning
==================  ======================  ======================================================
channel             string                  ``sms``, ``email`` or ``voice``
recipient           string                  normalised number (digits) or address, as sent
order_id            string                  buka_nb's per-row id, sent as BUKA ``orderId`` (SMS)
msg_id              string                  platform id: SMS msgId, email emailId, voice row id
task_id             string                  voice task jobId (empty for SMS and email)
state               string                  see :data:`STATES`
code                Int64                   the channel's BUKA status code (NA when unknown)
reason              string                  the BUKA reason text for ``code``
category            string                  catalog category (ok, input, account, limit, ...)
retryable           boolean                 whether sending the row again can help
detail              string                  local detail: the column, the problem and the fix
batch               Int64                   request (batch) number within the campaign
attempts            Int64                   HTTP attempts made for the row's batch
submitted_at        datetime64[ns, UTC]     when the batch's request was sent
delivery            string                  delivered / pending / failed (after reports)
delivery_reason     string                  delivery report text
delivered_at        datetime64[ns, UTC]     delivery report time
delivery_code       string                  the delivery status as BUKA reported it (SMS DLR status,
                                            email status, voice terminationCode)
report_source       string                  where the delivery columns came from: ``push`` or ``pull``
mcc                 string                  mobile country code of the delivering network (SMS DLR)
mnc                 string                  mobile network code (``-1``: unknown), as BUKA gave it
country             string                  ISO 3166-1 alpha-2 region of the recipient's network
operator            string                  operator name for mcc/mnc
segments            Int64                   billed segments (DLR ``pricedetail.chargeCnt``)
price               Float64                 unit price (DLR ``pricedetail.price``)
cost                Float64                 amount charged for the row (``pricedetail.pay``, voice cost)
currency            string                  currency of price and cost
latency_s           Float64                 seconds from submitted_at to delivered_at
duration_s          Int64                   voice call duration in seconds
==================  ======================  ======================================================
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    import pandas as pd

RESULT_SCHEMA: dict[str, str] = {
    "channel": "string",
    "recipient": "string",
    "order_id": "string",
    "msg_id": "string",
    "task_id": "string",
    "state": "string",
    "code": "Int64",
    "reason": "string",
    "category": "string",
    "retryable": "boolean",
    "detail": "string",
    "batch": "Int64",
    "attempts": "Int64",
    "submitted_at": "datetime64[ns, UTC]",
    "delivery": "string",
    "delivery_reason": "string",
    "delivered_at": "datetime64[ns, UTC]",
    "delivery_code": "string",
    "report_source": "string",
    "mcc": "string",
    "mnc": "string",
    "country": "string",
    "operator": "string",
    "segments": "Int64",
    "price": "Float64",
    "cost": "Float64",
    "currency": "string",
    "latency_s": "Float64",
    "duration_s": "Int64",
}

#: The columns delivery reports fill (the send itself leaves them NA).
REPORT_FIELDS = ("delivery", "delivery_reason", "delivered_at", "delivery_code", "report_source", "mcc", "mnc",
                 "country", "operator", "segments", "price", "cost", "currency", "latency_s", "duration_s")
RESULT_COLUMNS = list(RESULT_SCHEMA)

#: Row states. ``accepted``: the platform took the row. ``rejected``: the platform refused it.
#: ``invalid``: local validation refused it; never sent. ``not_sent``: deliberately not sent
#: (campaign stopped early, or a dry run). ``unknown``: sent, but no answer came back and
#: reconciliation could not tell; never resent unless forced.
STATES = ("accepted", "rejected", "invalid", "not_sent", "unknown")

#: Delivery values after reports are merged.
DELIVERY = ("delivered", "pending", "failed")


_BOOL = {True: True, False: False, "True": True, "False": False, "true": True, "false": False,
         "1": True, "0": False, 1: True, 0: False}


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """Return *frame* with exactly the schema's columns (missing ones NA) in order and dtype."""
    import pandas as pd

    out = pd.DataFrame(index=frame.index)
    for column, dtype in RESULT_SCHEMA.items():
        out[column] = conform_column(frame[column], column) if column in frame.columns else \
            pd.Series(pd.NaT if dtype.startswith("datetime64") else pd.NA, index=frame.index, dtype=dtype)
    return out


def conform_column(values: pd.Series, column: str) -> pd.Series:
    """One result column in the schema's dtype, from whatever a file round trip left (text, floats ...)."""
    import pandas as pd

    dtype = RESULT_SCHEMA[column]
    if str(values.dtype) == dtype:
        return values
    if dtype.startswith("datetime64"):
        return pd.to_datetime(values, utc=True).astype(dtype)
    if dtype in ("Int64", "Float64") and not pd.api.types.is_numeric_dtype(values.dtype) or \
            dtype == "Int64" and pd.api.types.is_float_dtype(values.dtype):
        return pd.to_numeric(values, errors="coerce").astype(dtype)
    if dtype == "boolean" and not pd.api.types.is_bool_dtype(values.dtype):
        # a CSV round trip brings "True"/"False" back as text
        return values.map(_BOOL, na_action="ignore").astype(dtype)
    return values.astype(dtype)


def retype(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """*frame* with those of *columns* the schema has in its dtypes: a copy only when one differed (a file round trip)."""
    differ = [c for c in columns if c in RESULT_SCHEMA and c in frame.columns and str(frame[c].dtype) != RESULT_SCHEMA[c]]
    return frame.assign(**{c: conform_column(frame[c], c) for c in differ}) if differ else frame


def empty_results(index: pd.Index | None = None) -> pd.DataFrame:
    """An all-NA result frame on *index* with the schema's dtypes."""
    import pandas as pd

    return conform(pd.DataFrame(index=index if index is not None else pd.RangeIndex(0)))
