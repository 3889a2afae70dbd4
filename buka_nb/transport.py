"""How one signed request crosses the network: httpcore's connection pools, or httpx when asked.

:class:`AsyncBukaClient` hands every attempt to a *wire*: ``send(method, path, params, content,
headers)`` answers ``(status, body)`` once the whole body is read, or raises one of
:data:`NOT_SENT_ERRORS` (the request never left: connect error, connect or pool timeout) or
:data:`TRANSPORT_ERRORS` (it may have left and no answer came).

* :class:`CoreWire`, the default: httpcore's connection pools, which httpx itself sends through,
  used directly. httpx's client layer on top (building a ``Request``, merging URLs and headers,
  auth, redirect and cookie handling, wrapping the ``Response``) cost more client CPU than
  httpcore's own work for a 1000-number request (benchmarks/RESULTS.md), and buka_nb needs none
  of it: it signs its own headers, follows no redirects and keeps no cookies. Its pools reach the
  network through :class:`buka_nb.aionet.AsyncioBackend` (asyncio's transports, TLS included)
  rather than anyio's streams: ~15% less CPU for the same requests.
* :class:`HttpxWire`: ``httpx.AsyncClient`` s, when the caller passes an httpx ``transport=`` (the
  test seam: ``httpx.MockTransport``, recorders) or the environment names a proxy (httpx honours
  ``HTTP(S)_PROXY``, ``ALL_PROXY`` and ``NO_PROXY``; httpcore alone would not).

Both split ``max_connections`` into pools of at most :data:`POOL_CONNECTIONS`, each request going
to the pool with the fewest requests under way: httpcore checks every idle connection of a pool on
every request (its socket's state, through anyio's extra attributes, ~20 µs each), so one pool of
32 costs more per request than the request itself, and even pools of 8 cost ~10% of the client's
CPU in a 10^6-row campaign against pools of 2 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import os
import ssl
import zlib
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpcore
import httpx

from . import __version__
from .aionet import AsyncioBackend

#: Connections per pool; more connections means more pools.
POOL_CONNECTIONS = 2
#: Seconds an idle keep-alive connection is kept (httpx's default).
KEEPALIVE_EXPIRY = 5.0
USER_AGENT = f"buka_nb/{__version__}"

#: The request never left this machine: safe to send again.
NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout,
    httpcore.ConnectError, httpcore.ConnectTimeout, httpcore.PoolTimeout)
#: Anything else the transport raised: the request may have reached the platform.
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    httpx.TransportError, httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError,
    httpcore.ProxyError, httpcore.UnsupportedProtocol)

_PROXY_VARIABLES = ("ALL_PROXY", "HTTP_PROXY", "HTTPS_PROXY")


def pool_sizes(max_connections: int) -> list[int]:
    """Connections per pool: *max_connections* split into pools of at most :data:`POOL_CONNECTIONS`.

    >>> pool_sizes(2), pool_sizes(8), pool_sizes(5), pool_sizes(0)
    ([2], [2, 2, 2, 2], [2, 2, 2], [1])
    """
    total = max(max_connections, 1)
    pools = -(-total // POOL_CONNECTIONS)
    return [-(-total // pools)] * pools


def proxy_configured(environ: Any = os.environ) -> bool:
    """True when the environment names a proxy that httpx would consider (upper or lower case)."""
    return any(environ.get(name) or environ.get(name.lower()) for name in _PROXY_VARIABLES)


def verify_for(base_url: str) -> bool | ssl.SSLContext:
    """TLS verification for an httpx client of *base_url*: the default CA store, unless it is plain http.

    Loading the CA store costs ~25 ms per client, a tenth of a small campaign against the simulator.
    A plain-http client never opens TLS (redirects are not followed); its context has no CAs, so it
    would refuse every certificate rather than accept one unverified.
    """
    return True if urlsplit(base_url).scheme != "http" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def decode_body(content: bytes, encoding: bytes | None) -> bytes:
    """A response body undone from its ``Content-Encoding`` (gzip or deflate, which are asked for).

    >>> import gzip
    >>> decode_body(gzip.compress(b'{"status":"0"}'), b"gzip")
    b'{"status":"0"}'
    >>> decode_body(b"plain", None)
    b'plain'
    """
    coding = (encoding or b"").strip().lower()
    if coding in (b"", b"identity"):
        return content
    try:
        if coding in (b"gzip", b"x-gzip"):
            return zlib.decompress(content, 16 + zlib.MAX_WBITS)
        if coding == b"deflate":  # zlib-wrapped as the RFC says, or raw as some servers send it
            try:
                return zlib.decompress(content)
            except zlib.error:
                return zlib.decompress(content, -zlib.MAX_WBITS)
    except zlib.error as exc:  # a damaged answer: as good as none (the request may have been acted on)
        raise httpcore.RemoteProtocolError(f"the response's {coding.decode('latin-1')} body is damaged: {exc}") from None
    raise httpcore.RemoteProtocolError(f"the response is encoded as {coding.decode('latin-1')!r}, "
                                       "which was not asked for")


class _Pools:
    """Requests spread over pools, each to the one with the fewest under way."""

    def __init__(self, pools: Sequence[Any]) -> None:
        self.pools = list(pools)
        self.busy = [0] * len(self.pools)

    async def send(self, method: str, path: str, params: dict[str, Any] | None, content: bytes | None,
                   headers: dict[str, str]) -> tuple[int, bytes]:
        k = self.busy.index(min(self.busy))
        self.busy[k] += 1
        try:
            return await self._send(self.pools[k], method, path, params, content, headers)
        finally:
            self.busy[k] -= 1

    async def _send(self, pool: Any, method: str, path: str, params: dict[str, Any] | None,
                    content: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        raise NotImplementedError

    async def aclose(self) -> None:
        for pool in self.pools:
            await pool.aclose()


class CoreWire(_Pools):
    """httpcore's connection pools, used directly (HTTP/1.1, keep-alive, no retries of its own)."""

    def __init__(self, base_url: str, timeout: httpx.Timeout, max_connections: int) -> None:
        self.root = base_url.rstrip("/")
        https = urlsplit(base_url).scheme == "https"
        context = (getattr(httpx, "create_ssl_context", None) or ssl.create_default_context)() if https else None
        backend = AsyncioBackend()
        super().__init__([httpcore.AsyncConnectionPool(
            ssl_context=context, network_backend=backend, max_connections=n, max_keepalive_connections=n,
            keepalive_expiry=KEEPALIVE_EXPIRY) for n in pool_sizes(max_connections)])
        self.extensions = {"timeout": timeout.as_dict()}
        self.fixed = {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}

    async def _send(self, pool: Any, method: str, path: str, params: dict[str, Any] | None,
                    content: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        url = self.root + path
        if params:
            url += "?" + urlencode({k: "" if v is None else v for k, v in params.items()})
        response = await pool.request(method, url, headers={**self.fixed, **headers}, content=content,
                                      extensions=self.extensions)
        body = response.content
        for name, value in response.headers:
            if name.lower() == b"content-encoding":
                return response.status, decode_body(body, value)
        return response.status, body


class HttpxWire(_Pools):
    """``httpx.AsyncClient`` s: for an httpx transport given by the caller, or a proxy from the environment."""

    def __init__(self, base_url: str, timeout: httpx.Timeout, max_connections: int,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        sizes = [max(max_connections, 1)] if transport is not None else pool_sizes(max_connections)
        verify = verify_for(base_url)
        super().__init__([httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, verify=verify,
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n)) for n in sizes])

    async def _send(self, pool: Any, method: str, path: str, params: dict[str, Any] | None,
                    content: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
        response = await pool.request(method, path, params=params, content=content, headers=headers)
        # httpx's response and its stream refer to each other, a cycle only the garbage collector
        # frees (~100 kB with both bodies and the request). The body is read by now: cutting the
        # link lets reference counting free them as soon as this call is done with them. (Should
        # a later httpx make the attribute read-only, they are merely left to the collector.)
        try:
            response.stream = httpx.ByteStream(b"")
        except AttributeError:
            pass
        return response.status_code, response.content


def wire_for(base_url: str, timeout: httpx.Timeout, max_connections: int,
             transport: httpx.AsyncBaseTransport | None = None) -> CoreWire | HttpxWire:
    """httpcore directly, unless an httpx transport is given or a proxy is configured."""
    if transport is not None or proxy_configured():
        return HttpxWire(base_url, timeout, max_connections, transport)
    return CoreWire(base_url, timeout, max_connections)
