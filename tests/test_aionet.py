"""buka_nb's asyncio network backend for httpcore: keep-alive, flow control, timeouts, resets and TLS.

Each test runs httpcore's connection pool on :class:`buka_nb.aionet.AsyncioBackend` against a small
asyncio server on loopback that misbehaves in one precise way.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl

import httpcore
import pytest

from buka_nb import aionet
from buka_nb.aionet import AsyncioBackend
from buka_nb.transport import NOT_SENT_ERRORS, TRANSPORT_ERRORS, CoreWire, wire_for


def answer(body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's body (Content-Length framed, as httpcore sends a bytes body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    return await reader.readexactly(length)


async def serve(handler, ssl_context=None):
    connections = []

    async def on_connect(reader, writer):
        connections.append(writer)
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0, ssl=ssl_context)
    return server, server.sockets[0].getsockname()[1], connections


def pool(**kw):
    return httpcore.AsyncConnectionPool(network_backend=AsyncioBackend(), **kw)


def test_campaign_requests_go_through_this_backend_unless_httpx_is_needed():
    wire = wire_for("http://127.0.0.1:9/v3", __import__("httpx").Timeout(5.0), 8)
    assert isinstance(wire, CoreWire)
    assert {type(p._network_backend) for p in wire.pools} == {AsyncioBackend}


def test_keep_alive_reuses_one_connection_for_requests_in_turn():
    async def handler(reader, writer):
        while True:
            body = await read_request(reader)
            writer.write(answer(b"echo:" + body))

    async def main():
        server, port, connections = await serve(handler)
        async with server, pool() as p:
            bodies = [(await p.request("POST", f"http://127.0.0.1:{port}/x", content=b"n%d" % k)).content
                      for k in range(3)]
        return bodies, len(connections)

    assert asyncio.run(main()) == ([b"echo:n0", b"echo:n1", b"echo:n2"], 1)


def test_an_idle_connection_the_server_closed_is_not_reused():
    # The server answers once and hangs up without saying so (no "Connection: close"). The pool
    # must see the idle connection is finished, not write the next request into it and fail.
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(answer(b"once"))
        await writer.drain()

    async def main():
        server, port, connections = await serve(handler)
        async with server, pool() as p:
            first = await p.request("GET", f"http://127.0.0.1:{port}/a")
            await asyncio.sleep(0.05)  # the FIN arrives
            second = await p.request("GET", f"http://127.0.0.1:{port}/b")
        return first.content, second.content, len(connections)

    assert asyncio.run(main()) == (b"once", b"once", 2)


def test_bodies_larger_than_the_buffers_arrive_whole_both_ways(monkeypatch):
    monkeypatch.setattr(aionet, "HIGH_WATER", 1 << 16)  # reading pauses and resumes many times
    request_body = bytes(range(256)) * (16 * 1024)  # 4 MiB: the client waits for the socket to drain
    response_body = hashlib.sha256(b"x").digest() * (96 * 1024)  # 3 MiB
    got = []
    paused = []

    async def handler(reader, writer):
        got.append(hashlib.sha256(await read_request(reader)).hexdigest())
        writer.write(answer(response_body))
        await writer.drain()
        await reader.read()

    original = aionet._Protocol.pause_writing

    def pause_writing(self):
        paused.append(True)
        original(self)
    monkeypatch.setattr(aionet._Protocol, "pause_writing", pause_writing)

    async def slow_reader(reader, writer):  # reads the request slowly, so the client's writes must wait
        await asyncio.sleep(0.2)
        await handler(reader, writer)

    async def main():
        server, port, _ = await serve(slow_reader)
        async with server, pool() as p:
            r = await p.request("POST", f"http://127.0.0.1:{port}/big", content=request_body)
        return r.content

    content = asyncio.run(main())
    assert hashlib.sha256(content).digest() == hashlib.sha256(response_body).digest()
    assert got == [hashlib.sha256(request_body).hexdigest()]
    assert paused  # the write side really waited for the kernel's buffer to drain


def test_a_silent_server_is_a_read_timeout_and_an_outside_cancellation_stays_one():
    async def handler(reader, writer):
        await read_request(reader)
        await asyncio.sleep(10)

    async def main():
        server, port, _ = await serve(handler)
        async with server, pool() as p:
            url = f"http://127.0.0.1:{port}/slow"
            with pytest.raises(httpcore.ReadTimeout):
                await p.request("GET", url, extensions={"timeout": {"read": 0.1}})
            task = asyncio.create_task(p.request("GET", url, extensions={"timeout": {"read": 5.0}}))
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(main())
    assert issubclass(httpcore.ReadTimeout, TRANSPORT_ERRORS)


def test_nobody_listening_is_a_connect_error_which_means_not_sent():
    async def main():
        server, port, _ = await serve(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        async with pool() as p:
            with pytest.raises(httpcore.ConnectError):
                await p.request("GET", f"http://127.0.0.1:{port}/")

    asyncio.run(main())
    assert issubclass(httpcore.ConnectError, NOT_SENT_ERRORS)


def test_a_reset_in_the_middle_of_an_answer_is_a_transport_error():
    async def handler(reader, writer):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nonly part of it")
        await writer.drain()
        writer.transport.abort()  # RST, the rest never comes

    async def main():
        server, port, _ = await serve(handler)
        async with server, pool() as p:
            with pytest.raises(TRANSPORT_ERRORS) as info:
                await p.request("POST", f"http://127.0.0.1:{port}/", content=b"x")
        return info.value

    error = asyncio.run(main())
    assert isinstance(error, (httpcore.ReadError, httpcore.RemoteProtocolError))


def test_tls_to_a_trusted_certificate_and_refusal_of_an_untrusted_one():
    import trustme  # a test dependency (pyproject.toml): certificates from a throw-away CA
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    trusting = ssl.create_default_context()
    ca.configure_trust(trusting)

    async def handler(reader, writer):
        while True:
            body = await read_request(reader)
            writer.write(answer(b"tls:" + body))

    async def main():
        server, port, connections = await serve(handler, server_context)
        url = f"https://127.0.0.1:{port}/secure"
        async with server:
            async with pool(ssl_context=trusting) as p:
                first = await p.request("POST", url, content=b"a")
                second = await p.request("POST", url, content=b"b")
                ssl_object = first.extensions["network_stream"].get_extra_info("ssl_object")
            async with pool(ssl_context=ssl.create_default_context()) as p:  # the CA is not in the default store
                with pytest.raises(httpcore.ConnectError):
                    await p.request("POST", url, content=b"c")
        return first.content, second.content, len(connections), ssl_object

    first, second, n_connections, ssl_object = asyncio.run(main())
    # one connection for both (keep-alive over TLS); the refused handshake never reached the handler
    assert (first, second, n_connections) == (b"tls:a", b"tls:b", 1)
    assert isinstance(ssl_object, ssl.SSLObject) and ssl_object.version().startswith("TLS")


def test_a_reader_that_falls_behind_stops_the_socket_being_read_until_it_catches_up(monkeypatch):
    monkeypatch.setattr(aionet, "HIGH_WATER", 1 << 16)
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB, pushed at once

    async def handler(reader, writer):
        writer.write(payload)
        await writer.drain()

    async def main():
        server, port, _ = await serve(handler)
        async with server:
            stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
            await asyncio.sleep(0.3)  # not reading: the server's bytes pile up in the kernel, not here
            held = stream._protocol.buffered
            got = bytearray()
            while chunk := await stream.read(1 << 16, timeout=5):
                got += chunk
            await stream.aclose()
        return held, bytes(got)

    held, got = asyncio.run(main())
    assert got == payload
    assert held <= (1 << 16) + (256 << 10)  # at most one more of asyncio's reads past the mark
