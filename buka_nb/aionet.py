"""httpcore's network backend on asyncio's own transports: TCP and TLS streams without anyio's layers.

httpcore reaches the network through a pluggable *network backend* (``httpcore.AsyncNetworkBackend``,
its public extension point); its default on asyncio is anyio's, which wraps every read and write in
a cancel scope, an exception map and a resource guard, and answers each pool's "is this idle
connection still usable?" with a ``getpeername`` and a ``poll``. For buka_nb's few large requests
those layers cost more client CPU than the bytes (benchmarks/RESULTS.md). Here a plain
:class:`asyncio.Protocol` buffers what arrives, a read returns it at once when there is some, and a
timer is armed only when a read or a write must wait. TLS is asyncio's (``loop.start_tls``), as for
any asyncio program; errors are httpcore's own, as its anyio backend raises them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections import deque
from collections.abc import Iterable
from typing import Any

import httpcore

#: Bytes buffered unread before the socket is no longer read (resumed once read down to half).
HIGH_WATER = 1 << 20


class _Protocol(asyncio.Protocol):
    """The receiving side of one connection: a queue of chunks, EOF and loss, and who waits for them."""

    def __init__(self) -> None:
        self.transport: Any = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.lost: BaseException | None = None
        self.closed = False
        self.reading = True
        self.waiter: asyncio.Future[None] | None = None
        self.drained: asyncio.Future[None] | None = None  # set while the transport asks writers to pause

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > HIGH_WATER and self.reading:
            self.reading = False
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed = True
        self.lost = exc
        self._wake()
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def pause_writing(self) -> None:
        if self.drained is None or self.drained.done():
            self.drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self.drained is not None and not self.drained.done():
            self.drained.set_result(None)

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def _wait(fut: asyncio.Future[None], timeout: float | None, error: type[Exception]) -> None:
    """Wait for *fut*, raising *error* after *timeout* seconds (a cancellation from outside stays one)."""
    if timeout is None:
        await fut
        return
    expired = []

    def expire() -> None:
        expired.append(True)
        fut.cancel()
    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        await fut
    except asyncio.CancelledError:
        if not expired:
            raise
        raise error(f"timed out after {timeout} s") from None
    finally:
        timer.cancel()


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One TCP (or TLS) connection as httpcore reads and writes it."""

    def __init__(self, transport: Any, protocol: _Protocol) -> None:
        self._transport, self._protocol = transport, protocol

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        p = self._protocol
        while not p.chunks:
            if p.lost is not None:
                raise httpcore.ReadError(str(p.lost) or type(p.lost).__name__)
            if p.eof or p.closed:
                return b""
            p.waiter = asyncio.get_running_loop().create_future()
            try:
                await _wait(p.waiter, timeout, httpcore.ReadTimeout)
            finally:
                p.waiter = None
        data = p.chunks.popleft()
        if len(data) > max_bytes:
            p.chunks.appendleft(data[max_bytes:])
            data = data[:max_bytes]
        p.buffered -= len(data)
        if not p.reading and p.buffered <= HIGH_WATER // 2 and not p.closed:
            p.reading = True
            self._transport.resume_reading()
        return data

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        p = self._protocol
        if p.closed or self._transport.is_closing():
            raise httpcore.WriteError(str(p.lost) if p.lost else "the connection is closed")
        try:
            self._transport.write(buffer)
        except (OSError, RuntimeError) as exc:
            raise httpcore.WriteError(str(exc)) from exc
        if p.drained is not None and not p.drained.done():  # the kernel's buffer is full: wait for it to drain
            await _wait(p.drained, timeout, httpcore.WriteTimeout)
            if p.lost is not None:
                raise httpcore.WriteError(str(p.lost))

    async def aclose(self) -> None:
        self._transport.close()

    async def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                        timeout: float | None = None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            transport = await asyncio.wait_for(
                loop.start_tls(self._transport, self._protocol, ssl_context, server_hostname=server_hostname),
                timeout)
        except (TimeoutError, asyncio.TimeoutError):
            self._transport.close()
            raise httpcore.ConnectTimeout(f"TLS handshake timed out after {timeout} s") from None
        except (OSError, ssl.SSLError, ConnectionError) as exc:
            self._transport.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return AsyncioStream(transport, self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":  # an idle keep-alive connection that has anything to read is unusable
            p = self._protocol
            return bool(p.chunks) or p.eof or p.closed
        if info == "ssl_object":
            return self._transport.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._transport.get_extra_info("sockname")
        if info == "server_addr":
            return self._transport.get_extra_info("peername")
        if info == "socket":
            return self._transport.get_extra_info("socket")
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections made with ``loop.create_connection`` (asyncio sets ``TCP_NODELAY`` on TCP sockets)."""

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        return await self._connect(lambda loop, factory: loop.create_connection(
            factory, host, port, local_addr=(local_address, 0) if local_address else None), timeout, socket_options)

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[Any] | None = None) -> AsyncioStream:
        return await self._connect(lambda loop, factory: loop.create_unix_connection(factory, path), timeout,
                                   socket_options)

    @staticmethod
    async def _connect(open_: Any, timeout: float | None, socket_options: Iterable[Any] | None) -> AsyncioStream:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await asyncio.wait_for(open_(loop, _Protocol), timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise httpcore.ConnectTimeout(f"connecting timed out after {timeout} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        sock: socket.socket | None = transport.get_extra_info("socket")
        for option in socket_options or ():
            if sock is not None:
                sock.setsockopt(*option)
        return AsyncioStream(transport, protocol)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
