"""The client's retry rules, on httpx.MockTransport: retry only what is safe, never resend a send.

Also its connection pools and the transport modules it loads up front, against the simulator.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pandas as pd
import pytest

from buka_nb.client import AsyncBukaClient, BukaClient, RetryPolicy
from buka_nb.credentials import Credentials
from buka_nb.errors import AuthError, ClockSkewError, InputError, NotSentError, OutcomeUnknownError
from buka_nb.signing import sign
from buka_nb.simulator import Simulator
from buka_nb.sms import send_sms
from buka_nb.transport import CoreWire, HttpxWire, decode_body, wire_for

CREDS = Credentials("key1", "secret-value-1", sms_app_id="app1", base_url="http://127.0.0.1:9/v3")
FAST = RetryPolicy(max_attempts=4, backoff=0.001, max_backoff=0.002)
OK = {"status": "0", "reason": "success", "success": "1", "fail": "0",
      "array": [{"msgId": "2601010000001000001", "number": "447911123456", "orderId": "o1"}]}


def client_with(responses, **kw):
    seen = []

    def handler(request):
        seen.append(request)
        item = responses[min(len(seen) - 1, len(responses) - 1)]
        if isinstance(item, Exception):
            raise item
        return item if isinstance(item, httpx.Response) else httpx.Response(200, json=item)

    return BukaClient(CREDS, transport=httpx.MockTransport(handler), retry=FAST, **kw), seen


def test_send_retries_when_the_request_never_left():
    client, seen = client_with([httpx.ConnectError("refused"), httpx.ConnectError("refused"), OK])
    env = client.send_sms(["447911123456"], "hi", order_ids=["o1"])
    assert (env.ok, env.attempts, len(seen)) == (True, 3, 3)
    client.close()


def test_send_timeout_after_sending_is_unknown_and_not_resent():
    client, seen = client_with([httpx.ReadTimeout("slow"), OK])
    with pytest.raises(OutcomeUnknownError, match="not resent"):
        client.send_sms(["447911123456"], "hi")
    assert len(seen) == 1
    client.close()


def test_send_5xx_is_unknown_but_503_is_retried():
    client, seen = client_with([httpx.Response(500, text="boom"), OK])
    with pytest.raises(OutcomeUnknownError, match="HTTP 500"):
        client.send_sms(["447911123456"], "hi")
    assert len(seen) == 1
    client2, seen2 = client_with([httpx.Response(503), OK])
    assert client2.send_sms(["447911123456"], "hi").ok and len(seen2) == 2
    client.close(), client2.close()


def test_queries_are_retried_on_timeouts_and_5xx():
    report = {"status": "0", "reason": "success", "success": "0", "fail": "0", "sending": "0", "nofound": "1", "array": []}
    client, seen = client_with([httpx.ReadTimeout("slow"), httpx.Response(502), report])
    assert client.get_report(["1"]).ok and len(seen) == 3
    client.close()


def test_throttling_backs_off_then_succeeds():
    client, seen = client_with([{"status": "-15", "reason": "Query too frequently"}] * 2 + [OK])
    assert client.send_sms(["447911123456"], "hi").attempts == 3
    client.close()


def test_clock_skew_resigns_once_with_a_fresh_timestamp():
    ticks = iter([1000, 2000, 3000])
    client, seen = client_with([{"status": "-16", "reason": "Timestamp expires"}, OK], clock=lambda: next(ticks))
    assert client.send_sms(["447911123456"], "hi").ok
    assert [r.headers["Timestamp"] for r in seen] == ["1000", "2000"]
    assert seen[0].headers["Sign"] != seen[1].headers["Sign"]
    client.close()
    stuck, seen = client_with([{"status": "-16", "reason": "Timestamp expires"}])
    with pytest.raises(ClockSkewError):
        stuck.send_sms(["447911123456"], "hi")
    assert len(seen) == 2
    stuck.close()


def test_api_errors_are_typed_and_carry_code_and_reason():
    client, _ = client_with([{"status": "-1", "reason": "Authentication error"}])
    with pytest.raises(AuthError) as info:
        client.get_balance()
    assert (info.value.code, info.value.reason, info.value.channel) == (-1, "Authentication error", "sms")
    client.close()


def test_connect_failures_exhaust_into_not_sent():
    client, seen = client_with([httpx.ConnectError("refused")])
    with pytest.raises(NotSentError):
        client.send_sms(["447911123456"], "hi")
    assert len(seen) == FAST.max_attempts
    client.close()


def test_request_shape_and_tracer_redacts_sign():
    events = []
    client, seen = client_with([OK], tracer=events.append)
    client.send_sms(["447911123456", "447911123457"], "hi there", sender_id="ACME", order_ids=["a", "b"])
    req = seen[0]
    assert req.method == "POST" and req.url.path == "/v3/sendSms"
    assert req.headers["Content-Type"] == "application/json;charset=UTF-8"
    import json
    assert json.loads(req.content) == {"appId": "app1", "numbers": "447911123456,447911123457",
                                       "content": "hi there", "senderId": "ACME", "orderId": "a,b"}
    assert events[0]["headers"]["Sign"] == "********" and events[0]["code"] == 0
    assert "secret-value-1" not in repr(client) and "secret-value-1" not in str(events)
    client.close()


def test_report_query_limit_is_an_input_error():
    client, _ = client_with([OK])
    with pytest.raises(InputError, match="at most 200 msgIds"):
        client.get_report([str(i) for i in range(201)])
    client.close()


def test_plain_http_clients_skip_the_ca_store_but_never_accept_an_unverified_certificate():
    import ssl

    from buka_nb.transport import verify_for

    ctx = verify_for("HTTP://127.0.0.1:8000/v3")
    assert isinstance(ctx, ssl.SSLContext)
    assert (ctx.verify_mode, ctx.check_hostname, ctx.get_ca_certs()) == (ssl.CERT_REQUIRED, True, [])
    assert verify_for("https://api.buka.example/v3") is True


def test_the_client_module_loads_the_transport_httpx_would_load_at_the_first_request():
    """A fresh process's first campaign does not stall its first requests on imports (~80 ms)."""
    code = ("import sys, buka_nb.client; "
            "print(','.join(sorted(m for m in ('httpcore', 'h11', 'anyio._backends._asyncio') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "anyio._backends._asyncio,h11,httpcore"


def test_many_connections_are_split_into_pools_and_each_request_takes_the_least_busy():
    """httpcore checks every connection of a pool per request: 21 connections become 11 pools of 2."""
    async def main(creds):
        async with AsyncBukaClient(creds, max_connections=21) as client:
            wire = client._wire
            limits = [p._max_connections for p in wire.pools]
            codes = [env.code for env in await asyncio.gather(*(client.get_balance() for _ in range(21)))]
            return type(wire), limits, codes, [len(p.connections) for p in wire.pools], wire.busy

    with Simulator(latency=0.2) as sim:  # all 20 requests are open at once
        kind, limits, codes, opened, busy = asyncio.run(main(sim.credentials))
    assert kind is CoreWire and limits == [2] * 11 and codes == [0] * 21
    assert opened == [2] * 10 + [1] and busy == [0] * 11  # 21 at once, none queued behind a full pool


def test_a_campaigns_senders_spread_over_the_pools():
    frame = pd.DataFrame({"phone": [f"4479{i:08d}" for i in range(320)]})
    with Simulator(latency=0.1) as sim:
        client = AsyncBukaClient(sim.credentials, max_connections=16)
        results = send_sms(frame, content="hi", client=client, journal=None, max_in_flight=16, batch_size=10)
        opened = [len(p.connections) for p in client._wire.pools]
    assert results.state.eq("accepted").all() and len(results) == 320
    assert opened == [2] * 8  # 16 senders sending at once, each request to the least busy pool


def test_requests_go_through_httpcore_unless_an_httpx_transport_or_a_proxy_is_given(monkeypatch):
    for name in ("ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    timeout = httpx.Timeout(5.0)
    assert type(wire_for("http://127.0.0.1:9/v3", timeout, 8)) is CoreWire
    assert type(wire_for("http://127.0.0.1:9/v3", timeout, 8, httpx.MockTransport(lambda r: None))) is HttpxWire
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")  # httpx honours it; httpcore alone would not
    assert type(wire_for("https://api.buka.example/v3", timeout, 8)) is HttpxWire


def test_the_httpx_path_sends_what_the_httpcore_path_sends(monkeypatch):
    """The same calls through both wires reach the simulator alike: signed, with their query and body."""
    with Simulator(seed=3) as sim:
        answers = {}
        for kind in ("core", "httpx"):
            if kind == "httpx":
                monkeypatch.setenv("ALL_PROXY", "http://127.0.0.1:9")  # only chooses the wire: loopback
                monkeypatch.setenv("NO_PROXY", "127.0.0.1")               # is never sent to it
            with BukaClient(sim.credentials) as client:
                assert type(client._wire) is (CoreWire if kind == "core" else HttpxWire)
                sent = client.send_sms(["447911123456", "447911123457"], "hello", order_ids=["a", "b"])
                report = client.get_report([item["msgId"] for item in sent.items("array")])
                answers[kind] = ([i["number"] for i in sent.items("array")],
                                 [i["number"] for i in report.items("array")], client.balance()["balance"])
            sim.reset()
    assert answers["core"] == answers["httpx"] == (["447911123456", "447911123457"],
                                                   ["447911123456", "447911123457"], answers["core"][2])
    assert answers["core"][2] == pytest.approx(1000.0 - 2 * sim.account.sms_price)


def test_a_gzip_answer_is_decoded_and_the_request_carries_the_signed_headers():
    """A server may compress its answer (the client asks for gzip): the body is read as the JSON it holds."""
    import gzip
    import http.server
    import threading

    seen = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            seen.update(path=self.path, headers=dict(self.headers))
            body = gzip.compress(b'{"status":"0","reason":"success","balance":"12.5","gift":"0","credit":"0"}')
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        creds = Credentials("key1", "secret-value-1", sms_app_id="app 1",
                            base_url=f"http://127.0.0.1:{server.server_address[1]}/v3/")
        with BukaClient(creds, clock=lambda: 1630468800) as client:
            assert type(client._wire) is CoreWire
            assert client.balance() == {"balance": 12.5, "gift": 0.0, "credit": 0.0}
    finally:
        server.shutdown()
        server.server_close()
    assert seen["path"] == "/v3/getBalance"
    h = seen["headers"]
    assert (h["Api-Key"], h["Timestamp"], h["Sign"]) == ("key1", "1630468800", sign("key1", "secret-value-1", 1630468800))
    assert h["Accept-Encoding"] == "gzip, deflate" and h["User-Agent"].startswith("buka_nb/")


def test_response_bodies_are_decoded_as_their_content_encoding_says():
    import doctest
    import gzip
    import zlib

    import httpcore

    from buka_nb import transport

    assert doctest.testmod(transport).failed == 0  # pool_sizes and decode_body's examples

    body = b'{"status":"0"}'
    assert decode_body(gzip.compress(body), b"GZIP") == body
    assert decode_body(zlib.compress(body), b"deflate") == body
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decode_body(raw.compress(body) + raw.flush(), b"deflate") == body
    assert decode_body(body, b"identity") == decode_body(body, None) == body
    with pytest.raises(httpcore.RemoteProtocolError, match="'br'"):
        decode_body(b"x", b"br")
    with pytest.raises(httpcore.RemoteProtocolError, match="gzip body is damaged"):
        decode_body(gzip.compress(body)[:-6], b"gzip")


def test_with_a_proxy_in_the_environment_requests_go_through_it(monkeypatch):
    """httpx honours HTTP_PROXY (httpcore alone would not): the client then sends through httpx, via the proxy."""
    import http.client
    import http.server
    import threading
    from urllib.parse import urlsplit

    relayed = []

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _relay(self):
            target = urlsplit(self.path)  # a proxy gets the absolute URL
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            relayed.append((self.command, target.path))
            upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=5)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "connection")}
            upstream.request(self.command, target.path + (f"?{target.query}" if target.query else ""), body, headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.getheader("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()

        do_GET = do_POST = _relay

        def log_message(self, *args):
            pass

    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    try:
        with Simulator() as sim, BukaClient(sim.credentials) as client:
            assert type(client._wire) is HttpxWire
            sent = client.send_sms(["447911123456"], "hello")
            balance = client.balance()["balance"]
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert [i["number"] for i in sent.items("array")] == ["447911123456"]
    assert balance == pytest.approx(1000.0 - sim.account.sms_price)
    assert relayed == [("POST", "/v3/sendSms"), ("GET", "/v3/getBalance")]
