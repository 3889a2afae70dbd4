"""The simulator's HTTP layer: a loopback ThreadingHTTPServer, routing, auth, fault injection.

Requests under ``/v3/`` go through: count → pick faults → (reset before) → read body → (terminal
fault) → parse → authenticate → handler → wait out the latency → (reset after) → (slow) → answer;
the latency counts from the request's arrival (a reset before reading waits it out too). Paths under
``/_sim/`` are the unauthenticated control API (:mod:`.control`). Responses are written in one
``send`` with Nagle off and HTTP/1.1 keep-alive, because the client's throughput tests measure
*us* otherwise.
"""

from __future__ import annotations

import email.parser
import http.client
import json
import logging
import re
import socket
import struct
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import orjson

from ..signing import MAX_SKEW_SECONDS, verify
from . import aivoice, control, email as email_api, sms
from .common import AUTH_CODE, CRASH_CODE, PARAM_CODE, SKEW_CODE, Call, Route, encode
from .config import TERMINAL
from .state import SimState

log = logging.getLogger("buka_nb.simulator")

LOOPBACK = ("127.0.0.1", "localhost")
JSON_TYPE = "application/json;charset=UTF-8"

#: http.client's limits on header lines (its _MAXLINE and _MAXHEADERS).
MAX_LINE = 65536
MAX_HEADERS = 100

#: A plain header line: a token name, a colon, the value on this one line. The class of name
#: characters is the email parser's (printable ASCII but the colon); blanks after the colon are not
#: part of the value, anything else up to the line end is, as in the email package's compat32 policy.
_FIELD = re.compile(rb"([!-9;-~]+):[ \t]*([^\r\n]*)\r?\n")


class Headers(dict):
    """Request headers keyed by lower-cased name; like ``email.message.Message.get``, the first of
    repeated headers wins and lookups ignore case."""

    def get(self, name: str, default: Any = None) -> Any:
        return dict.get(self, name.lower(), default)


def read_headers(rfile: Any) -> Headers | http.client.HTTPMessage:
    """``http.client.parse_headers`` for the usual request, without the email parser's ~100 µs.

    Lines are read with the same limits (and the same exceptions). When every line is a plain
    ``Name: value`` the fields are split here; anything else (folded lines, a missing colon, a stray
    CR) goes to the email parser exactly as ``parse_headers`` would, so the answers cannot differ.
    """
    lines = []
    while True:
        line = rfile.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            break
    fields = Headers()
    for line in lines[:-1]:
        match = _FIELD.fullmatch(line)
        if match is None:
            text = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)
        fields.setdefault(match[1].decode("ascii").lower(), match[2].decode("iso-8859-1"))
    return fields


class Router:
    """Path → :class:`Route`. SMS and email paths are exact; AI voice is case-insensitive (§8 row 9)."""

    def __init__(self) -> None:
        self.exact = {r.name: r for r in sms.ROUTES + email_api.ROUTES}
        self.folded = {r.name.lower(): r for r in aivoice.ROUTES}

    def resolve(self, path: str) -> Route | None:
        rel = path[len("/v3/"):].strip("/") if path.startswith("/v3/") else None
        if not rel:
            return None
        return self.exact.get(rel) or self.folded.get(rel.lower())


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True          # slow-fault sleepers must not keep the process alive
    allow_reuse_address = True
    request_queue_size = 512       # benchmarks open many connections at once

    def __init__(self, port: int, app: Any) -> None:
        self.app = app
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), Handler)

    def close_connections(self) -> None:
        """Shut every open keep-alive connection. Without this a client's pooled connection could
        outlive stop() and, once the port is reused by a new simulator, talk to the old one."""
        with self.connections_lock:
            connections, self.connections = self.connections, set()
        for sock in connections:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Resets and client timeouts are the point of a fault simulator: never print tracebacks.
        log.debug("connection error from %s", client_address, exc_info=True)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    rbufsize = 1 << 18  # a whole 1000-number request in one recv (the default 8 kB took three)
    server_version = "buka-sim/1"

    def log_message(self, format: str, *args: Any) -> None:  # no per-request logging
        pass

    def parse_request(self) -> bool:
        """``BaseHTTPRequestHandler.parse_request`` with a lean path for the usual request line.

        ``METHOD PATH HTTP/1.1`` (or 1.0) is handled here with the stdlib's results and the headers
        come from :func:`read_headers`; any other request line goes to the stdlib untouched.
        """
        requestline = str(self.raw_requestline, "iso-8859-1").rstrip("\r\n")
        words = requestline.split()
        if len(words) != 3 or words[2] not in ("HTTP/1.1", "HTTP/1.0") or words[1].startswith("//"):
            return super().parse_request()
        self.requestline = requestline
        self.command, self.path, self.request_version = words
        self.close_connection = words[2] != "HTTP/1.1"
        try:
            self.headers = read_headers(self.rfile)
        except http.client.LineTooLong as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Line too long", str(err))
            return False
        except http.client.HTTPException as err:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "Too many headers", str(err))
            return False
        conntype = self.headers.get("Connection", "").lower()
        if conntype == "close":
            self.close_connection = True
        elif conntype == "keep-alive":
            self.close_connection = False
        if self.headers.get("Expect", "").lower() == "100-continue" and self.request_version == "HTTP/1.1":
            return self.handle_expect_100()
        return True

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------------------
    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if not size:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def send_bytes(self, status: int, body: bytes, content_type: str = JSON_TYPE) -> None:
        head = (f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\nServer: {self.server_version}\r\n"
                f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n")
        if self.close_connection:
            head += "Connection: close\r\n"
        try:
            self.wfile.write(head.encode("latin-1") + b"\r\n" + body)
        except OSError:  # the client gave up (timeout fault): nothing to answer
            self.close_connection = True

    def send_json(self, status: int, obj: Any) -> None:
        self.send_bytes(status, encode(obj))

    def send_stream(self, chunks: Any, content_type: str) -> None:
        """Chunked transfer for large control answers (the 10^6-row ledger)."""
        head = (f"HTTP/1.1 200 OK\r\nServer: {self.server_version}\r\nContent-Type: {content_type}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n")
        try:
            self.wfile.write(head.encode("latin-1"))
            for chunk in chunks:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True

    def abort(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0) and write nothing."""
        self.close_connection = True
        sock = self.connection
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        for stream in (self.rfile, self.wfile):
            try:
                stream.close()
            except OSError:
                pass
        try:
            sock.close()  # with rfile closed this is the real close, so the RST goes out now
        except OSError:
            pass

    # -- the request pipeline --------------------------------------------------------------------
    def _dispatch(self, method: str) -> None:
        app = self.server.app
        path, _, query = self.path.partition("?")
        if path.startswith("/_sim"):
            control.handle(self, app, method, path, query)
            return
        route = app.router.resolve(path)
        if route is None:
            self.read_body()
            self.send_json(404, {"status": "404", "reason": "Not Found", "path": path})
            return
        if method not in route.methods:
            self.read_body()
            self.send_json(405, {"status": "405", "reason": "Method Not Allowed", "path": path})
            return
        state: SimState = app.state
        with state.lock:
            request_no = state.record_request(route.name)
            faults = state.plan.pick(route.name, time.monotonic())
        for fault in faults:
            state.record_fault(f"http{fault.value}" if fault.kind == "http" else fault.kind)
        # The latency is the time on the wire: the request is processed at once and answered when
        # it is over, as a distant server's would be, so the simulator's own work (~2 ms for 1000
        # messages) is not added on top of it, nor queued behind requests that arrived together.
        answer_at = time.monotonic() + state.latency + sum(float(f.value) for f in faults if f.kind == "latency")
        terminal = next((f for f in faults if f.kind in TERMINAL), None)
        if terminal is not None and terminal.kind == "reset_before":
            self._wait_until(app, answer_at)
            state.record_outcome(route.name, "reset_before")
            self.abort()
            return
        raw = self.read_body()
        if terminal is not None:
            if terminal.kind == "http":
                status = int(terminal.value)
                state.record_outcome(route.name, f"http{status}")
                self._wait_until(app, answer_at)
                self.send_bytes(status, f"{status} {HTTPStatus(status).phrase}".encode(), "text/plain")
                return
            body = route.error(terminal.code_for(route.channel))
        else:
            body = self._process(app, route, method, query, raw, request_no)
        state.record_outcome(route.name, body.get("status", "?"))
        self._wait_until(app, answer_at)
        if any(f.kind == "reset_after" for f in faults):
            self.abort()
            return
        slow = next((f for f in faults if f.kind == "slow"), None)
        if slow is not None:
            app.stopping.wait(float(slow.value))
        self.send_json(200, body)

    @staticmethod
    def _wait_until(app: Any, moment: float) -> None:
        """Sleep until *moment* (``time.monotonic``), or until the simulator stops."""
        left = moment - time.monotonic()
        if left > 0:
            app.stopping.wait(left)

    def _process(self, app: Any, route: Route, method: str, query: str, raw: bytes,
                 request_no: int) -> dict[str, Any]:
        state: SimState = app.state
        channel = route.channel
        # Authentication first, as an interceptor would: a bad body from a stranger is still -1.
        key = self.headers.get("Api-Key") or ""
        stamp = self.headers.get("Timestamp") or ""
        account = state.accounts.get(key.strip())
        if account is None or not verify(account.api_key, account.api_secret, stamp.strip(),
                                         self.headers.get("Sign") or ""):
            return route.error(AUTH_CODE[channel])
        if abs(state.now() - int(stamp)) > MAX_SKEW_SECONDS:
            return route.error(SKEW_CODE[channel])
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if raw.strip():
            # §8 row 23: the body is JSON whatever the Content-Type says.
            try:
                body = parse_json(raw)
            except ValueError:
                return route.error(PARAM_CODE[channel])
            if not isinstance(body, dict):
                return route.error(PARAM_CODE[channel])
            params.update(body)
        call = Call(state, account, route.name, channel, method, params, request_no)
        try:
            return route.handler(call)
        except Exception as exc:  # a simulator bug must look like BUKA's "port program unusual", not hang
            log.exception("simulator handler %s failed", route.name)
            state.record_crash(route.name, exc)
            return route.error(CRASH_CODE[channel])


def parse_json(raw: bytes) -> Any:
    """``json.loads(raw)``, computed by orjson when it gives the same answer (5x faster on a batch).

    orjson refuses what only the json module accepts (NaN, a BOM, UTF-16, lone surrogates, deep
    nesting), and reads integers beyond 64 bits as floats: those bodies, and any with a float, are
    read again by json so that every body means what it meant before.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw)
    stack = [body]
    while stack:  # iterative: a body may nest ~1000 deep
        item = stack.pop()
        if type(item) is dict:
            stack.extend(item.values())
        elif type(item) is list:
            stack.extend(item)
        elif type(item) is float:
            return json.loads(raw)
    return body


def serve_in_thread(server: SimHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"buka-sim-{server.server_address[1]}", daemon=True)
    thread.start()
    return thread
