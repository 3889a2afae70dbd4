"""Delivery reports: poll BUKA for the fate of accepted rows and merge it into result frames.

SMS uses ``getReport`` (item status ``0`` delivered, ``-1`` sending, ``1`` failed) and email
``getSendEmailRcd`` (same enum), 200 ids per query; channels register their fetcher in
:data:`FETCHERS`. :func:`merge_reports` is pure and is also what the push receiver uses.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ._aio import run_sync
from .client import MAX_REPORT_IDS
from .errors import InputError

if TYPE_CHECKING:
    import pandas as pd

    from .client import AsyncBukaClient

#: Report item status → delivery value, for getReport and getSendEmailRcd.
ITEM_STATUS = {"0": "delivered", "-1": "pending", "1": "failed", "2": "failed"}
REPORT_COLUMNS = ["msg_id", "delivery", "delivery_reason", "delivered_at"]

Fetcher = Callable[["AsyncBukaClient", "pd.DataFrame"], Awaitable[list[dict[str, Any]]]]


async def _by_ids(client: AsyncBukaClient, ids: list[str], call: str, id_key: str,
                  max_in_flight: int = 8) -> list[dict[str, Any]]:
    chunks = [ids[i:i + MAX_REPORT_IDS] for i in range(0, len(ids), MAX_REPORT_IDS)]
    gate = asyncio.Semaphore(max_in_flight)

    async def one(chunk: list[str]) -> list[dict[str, Any]]:
        async with gate:
            env = await getattr(client, call)(chunk)
        return [{"msg_id": str(item.get(id_key, "")),
                 "delivery": ITEM_STATUS.get(str(item.get("status")).strip(), "pending"),
                 "delivery_reason": str(item.get("reason") or ITEM_STATUS.get(str(item.get("status")).strip(), "")),
                 "delivered_at": item.get("receiveTime")} for item in env.items("array")]

    return [row for part in await asyncio.gather(*(one(c) for c in chunks)) for row in part]


async def fetch_sms(client: AsyncBukaClient, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """SMS delivery reports (``getReport``) for the rows' msgIds, in pages the API allows."""
    return await _by_ids(client, rows.msg_id.dropna().astype(str).tolist(), "get_report", "msgId")


async def fetch_email(client: AsyncBukaClient, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Email delivery records (``getSendEmailRcd``) for the rows' emailIds."""
    return await _by_ids(client, rows.msg_id.dropna().astype(str).tolist(), "get_email_records", "emailId")


async def fetch_voice(client: AsyncBukaClient, rows: pd.DataFrame) -> list[dict[str, Any]]:
    """AI-voice call records for the rows' tasks and numbers."""
    from .voice import fetch_call_records  # AI-voice call records (recordQuery), matched by task and phone

    return await fetch_call_records(client, rows)


FETCHERS: dict[str, Fetcher] = {"sms": fetch_sms, "email": fetch_email, "voice": fetch_voice}


def merge_reports(results: pd.DataFrame, reports: pd.DataFrame | list[dict[str, Any]]) -> pd.DataFrame:
    """Return a copy of *results* with delivery columns filled from *reports* (keyed by msg_id).

    A final state (delivered/failed) is never overwritten by a pending one.
    """
    import pandas as pd

    reports = pd.DataFrame(reports, columns=REPORT_COLUMNS) if not isinstance(reports, pd.DataFrame) else reports
    out = results.copy()
    if reports.empty:
        return out
    latest = reports.assign(_final=reports.delivery.isin(["delivered", "failed"]))
    latest = latest.sort_values("_final").drop_duplicates("msg_id", keep="last").set_index("msg_id")
    key = out.msg_id.astype("string")
    hit = key.isin(latest.index) & ~((out.delivery.isin(["delivered", "failed"])).fillna(False)
                                      & key.map(latest.delivery).eq("pending").fillna(False))
    if not hit.any():
        return out
    matched = key[hit]
    out.loc[hit, "delivery"] = matched.map(latest.delivery).astype("string")
    out.loc[hit, "delivery_reason"] = matched.map(latest.delivery_reason).astype("string")
    stamps = pd.to_datetime(matched.map(latest.delivered_at), utc=True, errors="coerce", format="ISO8601")
    out.loc[hit, "delivered_at"] = stamps.astype(out.delivered_at.dtype)
    return out


def _typed(results: pd.DataFrame) -> pd.DataFrame:
    """*results* in the schema's dtypes, whatever a file round trip left; platform ids that became numbers are refused."""
    import pandas as pd

    from .schema import RESULT_COLUMNS, retype

    missing = [c for c in ("channel", "state", "msg_id", "delivery") if c not in results.columns]
    if missing:
        raise InputError(f"collect_reports: the frame has no column {', '.join(map(repr, missing))}; pass the "
                         f"frame a send function returned (columns: {', '.join(RESULT_COLUMNS)})")
    ids = results["msg_id"]
    if pd.api.types.is_float_dtype(ids.dtype):  # 19-digit ids do not survive float64: they cannot be looked up
        raise InputError("collect_reports: the msg_id column holds numbers, not the platform's ids (read without "
                         "dtypes, a results CSV turns them into floats and loses digits): read it with "
                         "pd.read_csv(path, index_col='row', dtype=str), or save results as .parquet")
    return retype(results, RESULT_COLUMNS)


def collect_reports(results: pd.DataFrame, *, credentials: Any = None, client: Any = None, wait: float = 0.0,
                    poll: float = 2.0) -> pd.DataFrame:
    """Fetch delivery reports for every accepted row and merge them; poll up to *wait* seconds
    while any report is still pending. Returns a new frame; *results* is not modified."""
    from .client import AsyncBukaClient, BukaClient

    results = _typed(results)

    async def run(c: AsyncBukaClient) -> pd.DataFrame:
        merged = results
        deadline = time.monotonic() + wait
        while True:
            todo = merged[(merged.state == "accepted").fillna(False) & merged.msg_id.notna()
                          & ~merged.delivery.isin(["delivered", "failed"]).fillna(False)]
            if todo.empty:
                return merged
            found: list[dict[str, Any]] = []
            for channel, rows in todo.groupby("channel", observed=True):
                fetch = FETCHERS.get(str(channel))
                if fetch is not None:
                    found += await fetch(c, rows)
            merged = merge_reports(merged, found)
            if time.monotonic() + poll > deadline:
                return merged
            await asyncio.sleep(poll)

    async def own() -> pd.DataFrame:
        async with AsyncBukaClient(credentials) as c:
            return await run(c)

    if client is None:
        return run_sync(own())
    if isinstance(client, BukaClient):
        return client._runner.run(run(client._async))
    return run_sync(run(client))
