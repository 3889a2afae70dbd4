"""A small HTTP endpoint that receives BUKA's delivery-report pushes and stores them durably.

BUKA POSTs one JSON report per message to a URL set in its console (buka-api.md §7): SMS delivery
reports (``msgid``, ``orderId``, ``status`` 0 = delivered, epoch-ms ``timestamp``) and voice call
reports (``voiceId``/``callId``, ``callee``/``calledPhoneNumber``, ``terminationCode`` 200 =
connected). The receiver binds to loopback by default, caps the body size (413), answers malformed
payloads with a 400 that says what is wrong, is lenient with the documented quirks (``"orderId "``
with a trailing space, single quotes, numbers as strings), and stores each report once (SQLite,
keyed by kind and id) however often BUKA retries it.

>>> with ReportReceiver(tmp_path / "reports.db") as rx:        # doctest: +SKIP
...     print(rx.url)                                           # configure this URL in BUKA's console
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

MAX_BODY = 64 * 1024
#: A double-quoted JSON string (left as it is) or a single-quoted one (the published quirk, rewritten).
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"|\'([^\'\\]*)\'')


class PayloadError(ValueError):
    """A push that cannot be understood; the message is sent back in the 400 body."""


def parse_lenient(body: bytes) -> dict[str, Any]:
    """Decode a push body as JSON, tolerating BUKA's published quirks.

    >>> parse_lenient(b"{\\"orderId \\": \\"7\\", \\"mcc\\": '404'}")
    {'orderId': '7', 'mcc': '404'}
    >>> parse_lenient(b"{\\"reason\\": \\"user's phone off\\", \\"mnc\\": '-1'}")
    {'reason': "user's phone off", 'mnc': '-1'}
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PayloadError("body is not UTF-8") from None
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = json.loads(_QUOTED.sub(_double_quoted, text))
        except ValueError:
            raise PayloadError("body is not JSON") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    return {str(k).strip(): v for k, v in data.items()}


def _double_quoted(match: re.Match[str]) -> str:
    """A single-quoted value as a JSON string; a double-quoted one (apostrophes and all) unchanged."""
    return match.group(0) if match.group(1) is None else json.dumps(match.group(1))


def is_reply(data: dict[str, Any]) -> bool:
    """An SMS reply (MO, buka-api.md §7.2) pushed to the same URL: a message in, not a report on one out."""
    return "msgid" in data and "status" not in data and ("reply_time" in data or "content" in data)


def classify(data: dict[str, Any]) -> dict[str, Any]:
    """Turn one push into a report row, or raise :class:`PayloadError` naming the missing field."""
    if "msgid" in data or "msgId" in data:
        msg_id = str(data.get("msgid", data.get("msgId")) or "").strip()
        if not msg_id:
            raise PayloadError("SMS report has an empty 'msgid'")
        if "status" not in data:
            raise PayloadError("SMS report has no 'status'")
        try:
            ok = int(str(data["status"]).strip()) == 0
        except ValueError:
            raise PayloadError(f"SMS report 'status' is not a number: {data['status']!r}") from None
        return {"kind": "sms", "msg_id": msg_id, "order_id": _text(data.get("orderId")),
                "recipient": _text(data.get("mobile")), "delivery": "delivered" if ok else "failed",
                "delivery_reason": _text(data.get("reason")) or ("success" if ok else "failed"),
                "delivered_at": _epoch_ms(data.get("timestamp"))}
    job, phone = _text(data.get("robotCallJobId")), _text(data.get("calledPhoneNumber"))
    if job and phone:  # an AI-voice call record: keyed as voice result frames key their rows, task:phone
        result = _text(data.get("resultStatus")).upper()
        answered = result == "ANSWERED"
        return {"kind": "voice", "msg_id": f"{job}:{phone}", "order_id": "", "recipient": phone,
                "delivery": "delivered" if answered else "failed",
                "delivery_reason": result or ("ANSWERED" if answered else "not answered"),
                "delivered_at": _epoch_ms(data.get("hangupTime")) if data.get("hangupTime") else
                _epoch_s(data.get("endTime"))}
    call_id = data.get("voiceId") or data.get("callId") or data.get("callRecordId") or data.get("keyId")
    if call_id is not None and str(call_id).strip():
        term = _text(data.get("terminationCode") or data.get("hangupCode"))
        result = _text(data.get("resultStatus"))
        answered = term == "200" if term else result.upper() in ("ANSWERED", "SUCCESS", "CONNECTED")
        return {"kind": "voice", "msg_id": str(call_id).strip(), "order_id": _text(data.get("calledInfo")),
                "recipient": _text(data.get("callee") or data.get("calledPhoneNumber") or data.get("called")),
                "delivery": "delivered" if answered else "failed",
                "delivery_reason": _text(data.get("terminationReason") or data.get("resultStatus")) or
                ("answered" if answered else "not answered"),
                "delivered_at": _epoch_ms(data.get("hangupTime") or data.get("endTime"))}
    raise PayloadError("not a BUKA report: expected 'msgid' (SMS) or 'voiceId'/'callId' (voice)")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _epoch_s(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(str(value).strip()), timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value) if value else None


def _epoch_ms(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(int(str(value).strip()) / 1000, timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return str(value) if value else None


class ReportStore:
    """Durable, de-duplicated storage of received reports (SQLite)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS reports (kind TEXT, msg_id TEXT, order_id TEXT, recipient TEXT, "
                         "delivery TEXT, delivery_reason TEXT, delivered_at TEXT, raw TEXT, "
                         "PRIMARY KEY (kind, msg_id))")

    def add(self, row: dict[str, Any], raw: dict[str, Any]) -> bool:
        """Store a report; False when that message's report was already stored."""
        with self._lock:
            cur = self._db.execute(
                "INSERT OR IGNORE INTO reports VALUES (?,?,?,?,?,?,?,?)",
                (row["kind"], row["msg_id"], row["order_id"], row["recipient"], row["delivery"],
                 row["delivery_reason"], row["delivered_at"], json.dumps(raw)))
            return cur.rowcount == 1

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]

    def frame(self) -> pd.DataFrame:
        """All reports, one row per message: msg_id, order_id, recipient, delivery, delivery_reason, delivered_at."""
        import pandas as pd

        with self._lock:
            rows = self._db.execute("SELECT kind, msg_id, order_id, recipient, delivery, delivery_reason, "
                                    "delivered_at FROM reports ORDER BY rowid").fetchall()
        return pd.DataFrame(rows, columns=["kind", "msg_id", "order_id", "recipient", "delivery", "delivery_reason",
                                           "delivered_at"]).astype("string")

    def close(self) -> None:
        with self._lock:
            self._db.close()


def merge_pushed(results: pd.DataFrame, reports: pd.DataFrame) -> pd.DataFrame:
    """Merge received reports into a result frame by msg_id, and by order_id where msg_id is missing.

    Returns a new frame (rows whose msg_id was unknown also get the msg_id from the report).
    """
    from .reports import merge_reports

    out = results.copy()
    if reports.empty:
        return out
    by_order = reports[reports.order_id.fillna("") != ""].drop_duplicates("order_id").set_index("order_id")
    lacking = out.msg_id.isna() & out.order_id.isin(by_order.index).fillna(False)
    if lacking.any():
        out.loc[lacking, "msg_id"] = out.loc[lacking, "order_id"].map(by_order.msg_id).astype("string")
    return merge_reports(out, reports[["msg_id", "delivery", "delivery_reason", "delivered_at"]])


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:  # the library never prints
        pass

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or "0")
        except ValueError:
            return self._reply(400, {"error": "bad Content-Length"})
        if length > self.server.max_body:
            self.close_connection = True
            return self._reply(413, {"error": f"body over {self.server.max_body} bytes"})
        body = self.rfile.read(length)
        try:
            raw = parse_lenient(body)
            if is_reply(raw):  # BUKA needs a 200, or it keeps the reply pending; it is not a report
                return self._reply(200, {"status": "0", "reason": "success", "stored": False,
                                         "note": "an SMS reply (MO), not a delivery report: not stored"})
            row = classify(raw)
        except PayloadError as exc:
            return self._reply(400, {"error": str(exc)})
        stored = self.server.store.add(row, raw)
        self._reply(200, {"status": "0", "reason": "success", "stored": stored})

    def do_GET(self) -> None:
        self._reply(200 if self.path in ("/", "/health") else 404,
                    {"reports": self.server.store.count()} if self.path in ("/", "/health") else {"error": "not found"})

    def do_PUT(self) -> None:
        self._reply(405, {"error": "use POST"})

    do_DELETE = do_PATCH = do_PUT


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    store: ReportStore
    max_body: int


class ReportReceiver:
    """Receive BUKA pushes on ``http://HOST:PORT/`` (any path) and store them in *path*."""

    def __init__(self, path: str | Path, *, host: str = "127.0.0.1", port: int = 0, max_body: int = MAX_BODY) -> None:
        self._server = _Server((host, port), _Handler)  # bound first: a taken port leaves no file behind
        self.store = ReportStore(path)
        self._server.store = self.store
        self._server.max_body = max_body
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> ReportReceiver:
        self._thread = threading.Thread(target=self._server.serve_forever, name="buka_nb-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.store.close()

    def __enter__(self) -> ReportReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        return self.store.frame()

    def merge(self, results: pd.DataFrame) -> pd.DataFrame:
        """*results* with every received report merged in (see :func:`merge_pushed`)."""
        return merge_pushed(results, self.frame())
