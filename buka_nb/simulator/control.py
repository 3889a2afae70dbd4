"""The unauthenticated loopback control API under ``/_sim/`` (outside BUKA's ``/v3``).

=========================  ===================================================================
endpoint                   effect
=========================  ===================================================================
``GET /_sim/health``       ``{"ok": true, "url": ...}`` (readiness probe)
``GET /_sim/stats``        requests per endpoint and outcome, messages and duplicates per
                           channel, requests/s, faults fired, balances, current configuration
``GET /_sim/ledger``       ``?channel=sms|email|voice`` (default all) ``&format=csv|jsonl|columns``
                           (default csv; ``columns`` = one JSON object of column lists, the
                           fastest); streamed in chunks, fine for 10^6 rows
``POST /_sim/config``      body = settings for :meth:`SimState.configure` (faults, scenarios,
                           balance, accounts, report_delay, clock_offset, latency, rate_limit,
                           delivery, seed, push_url, voice_push_url)
``POST /_sim/advance``     ``{"seconds": N}``: move the sim clock forward; answers the new time
``POST /_sim/reset``       back to the start-up configuration, empty ledger
``POST /_sim/flush``       push every final report now; answers ``{"pushed": n}``
``POST /_sim/shutdown``    stop the server after answering
=========================  ===================================================================
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any, Iterator
from urllib.parse import parse_qs

from .ledger import CHANNELS, COLUMNS, Ledger, iter_columns_json


def handle(handler: Any, app: Any, method: str, path: str, query: str) -> None:
    """Answer one control request on *handler* (a :class:`server.Handler`)."""
    raw = handler.read_body()
    args = {k: v[-1] for k, v in parse_qs(query).items()}
    op = path[len("/_sim"):].strip("/")
    state = app.state
    try:
        body = json.loads(raw) if raw.strip() else {}
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        if method == "GET" and op == "health":
            handler.send_json(200, {"ok": True, "url": app.url})
        elif method == "GET" and op == "stats":
            handler.send_json(200, app.stats())
        elif method == "GET" and op == "ledger":
            channel = args.get("channel") or None
            if channel is not None and channel not in CHANNELS:
                raise ValueError(f"unknown channel {channel!r}")
            fmt = args.get("format", "csv")
            if fmt == "jsonl":
                handler.send_stream(iter_jsonl(state.ledger, channel), "application/x-ndjson")
            elif fmt == "columns":
                handler.send_stream(iter_columns_json(state.ledger, channel), "application/json")
            else:
                handler.send_stream(state.ledger.iter_csv(channel), "text/csv;charset=UTF-8")
        elif method == "POST" and op == "config":
            app.configure(**body)
            handler.send_json(200, {"ok": True})
        elif method == "POST" and op == "advance":
            now = app.advance(float(body.get("seconds", args.get("seconds", 0))))
            handler.send_json(200, {"ok": True, "now": now})
        elif method == "POST" and op == "reset":
            app.reset()
            handler.send_json(200, {"ok": True})
        elif method == "POST" and op == "flush":
            handler.send_json(200, {"ok": True, "pushed": app.flush_pushes()})
        elif method == "POST" and op == "shutdown":
            handler.close_connection = True
            handler.send_json(200, {"ok": True})
            # stop() joins the serving thread, which is the one running us: do it from another thread.
            threading.Thread(target=app.stop, daemon=True).start()
        else:
            handler.send_json(404, {"ok": False, "error": f"no control endpoint {method} /_sim/{op}"})
    except (ValueError, TypeError, KeyError) as exc:
        handler.send_json(400, {"ok": False, "error": f"{type(exc).__name__}: {exc}"})


def iter_jsonl(ledger: Ledger, channel: str | None, chunk_rows: int = 20000) -> Iterator[bytes]:
    """The ledger as JSON lines; a never-final ``deliver_at`` is ``null``."""
    now = ledger.clock()
    for ch in CHANNELS if channel is None else (channel,):
        raw = ledger.columns(ch, now)
        raw["deliver_at"] = [None if math.isinf(d) else d for d in raw["deliver_at"]]
        columns = [raw[c] for c in COLUMNS]
        for start in range(0, len(raw["msg_id"]), chunk_rows):
            rows = zip(*(col[start:start + chunk_rows] for col in columns))
            lines = [json.dumps(dict(zip(COLUMNS, values)), ensure_ascii=False) for values in rows]
            yield ("\n".join(lines) + "\n").encode("utf-8")
