"""The signed httpx client for BUKA's HTTP API: SMS, email and intelligent voice.

``AsyncBukaClient`` does the work; ``BukaClient`` is its synchronous twin for scripts and notebooks.
Both sign every request, normalise the three response envelopes and retry only where it is safe:

* the request never left this machine (connect error, pool timeout), or the server said so (429/503);
* ``-15`` "too frequently" (and voice ``-47`` "network busy"): back off with jitter, then retry;
* the channel's clock-skew code (``-16``/``-6``/``-4``): re-sign with a fresh timestamp, once.

A send that went out and got no answer (read timeout, dropped connection, 5xx) raises
:class:`~buka_nb.errors.OutcomeUnknownError` and is **never resent** here; the send engine records
it as unknown and reconciles it. Queries are idempotent and are retried on those errors too.

>>> from buka_nb.simulator import Simulator                     # doctest: +SKIP
>>> with Simulator() as sim, BukaClient(sim.credentials) as c:   # doctest: +SKIP
...     c.balance()["balance"]
1000.0
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import orjson

# httpx imports its transport (httpcore, h11) when its first client is made, and httpcore anyio's
# asyncio backend on the first connection (its pools' locks, and httpx's network streams): ~80 ms in
# all, paid by whichever campaign comes first in a process, while its first requests wait. Imported
# with this module instead.
import httpcore  # noqa: E402,F401

try:
    import anyio._backends._asyncio  # noqa: E402,F401
    import httpcore._backends.anyio  # noqa: E402,F401
except ImportError:  # other versions lay these out differently: they then load on first use, as before
    pass

from . import errors
from ._aio import LoopThread
from .catalog import CLOCK_SKEW_CODE
from .credentials import REDACTED, Credentials, get_logger, redact
from .envelope import Envelope, error_for, normalise
from .signing import auth_headers
from .transport import NOT_SENT_ERRORS, TRANSPORT_ERRORS, wire_for

log = get_logger("buka_nb.client")

#: Codes that say "not processed, come back later", retried with backoff.
BACKOFF_CODES = {"sms": frozenset({-15}), "email": frozenset(), "voice": frozenset({-47})}
#: HTTP statuses that mean the server did not act on the request.
NOT_PROCESSED_HTTP = frozenset({429, 503})
BUKA_TZ = timezone(timedelta(hours=8))
MAX_REPORT_IDS = 200


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry where retrying is safe (exponential, full jitter)."""

    max_attempts: int = 5
    backoff: float = 0.2
    max_backoff: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


class RateLimiter:
    """Spaces requests at least ``1/rate`` seconds apart across all concurrent senders."""

    def __init__(self, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep) -> None:
        self.interval = 1.0 / rate
        self._next = 0.0
        self._lock = asyncio.Lock()
        self._clock, self._sleep = clock, sleep

    async def wait(self) -> None:
        async with self._lock:
            now = self._clock()
            wait = self._next - now
            self._next = max(now, self._next) + self.interval
        if wait > 0:
            await self._sleep(wait)


def iso8601(moment: datetime) -> str:
    """BUKA's record-query time format: ISO-8601 seconds with the +08:00 offset."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BUKA_TZ).isoformat(timespec="seconds")


class AsyncBukaClient:
    """Async BUKA API client. Settings are keyword-only; ``transport=`` (an httpx transport) is the test seam.

    Requests go through httpcore's connection pools directly, or through httpx when a ``transport``
    is given or the environment names a proxy (:mod:`buka_nb.transport`). ``clock`` returns Unix
    seconds for the Timestamp header; ``tracer`` receives one dict per HTTP attempt (method, path,
    status, code, elapsed, headers with the Sign redacted). ``max_connections`` above
    :data:`~buka_nb.transport.POOL_CONNECTIONS` are split into several connection pools, and each
    request goes to the pool with the fewest requests under way.
    """

    def __init__(self, credentials: Credentials | None = None, *, base_url: str | None = None,
                 timeout: float | httpx.Timeout = 15.0, transport: httpx.AsyncBaseTransport | None = None,
                 retry: RetryPolicy = RetryPolicy(), rate_limit: float | None = None,
                 max_connections: int = 16, tracer: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time, ai_voice_prefix: str = "AiVoice") -> None:
        self.credentials = Credentials.resolve(credentials)
        if base_url:
            self.credentials = self.credentials.with_base_url(base_url)
        self.retry = retry
        self.tracer = tracer
        self.clock = clock
        self.ai_voice_prefix = ai_voice_prefix
        self._limiter = RateLimiter(rate_limit) if rate_limit else None
        timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout, connect=min(5.0, timeout))
        self._wire = wire_for(self.credentials.base_url, timeout, max_connections, transport)

    def __repr__(self) -> str:
        return f"AsyncBukaClient(base_url={self.credentials.base_url!r}, api_key={self.credentials.api_key!r})"

    async def __aenter__(self) -> AsyncBukaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._wire.aclose()

    # -- the one request path ---------------------------------------------------------------
    async def call(self, method: str, path: str, *, channel: str, params: dict[str, Any] | None = None,
                   body: Any = None, idempotent: bool = False, check: bool = True) -> Envelope:
        """Sign, send and normalise one request; returns the :class:`Envelope` with ``attempts`` set.

        With ``check=True`` a non-zero status raises the typed :class:`~buka_nb.errors.ApiError`.
        """
        # orjson writes the same compact UTF-8 JSON as json.dumps(ensure_ascii=False, separators=(",", ":")),
        # several times faster: a 1000-number sendSms/batch body is ~40 kB and there may be 10^4 of them.
        content = None if body is None else orjson.dumps(body)
        attempt = 0
        skew_retried = False
        while True:
            attempt += 1
            if self._limiter:
                await self._limiter.wait()
            headers = auth_headers(self.credentials.api_key, self.credentials.api_secret.reveal(), int(self.clock()))
            started = time.perf_counter()
            try:
                status, answer = await self._wire.send(method, path, params, content, headers)
            except NOT_SENT_ERRORS as exc:
                self._trace(method, path, headers, None, None, started, attempt, type(exc).__name__)
                if attempt < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                raise _attach(errors.NotSentError(f"{method} {path}: could not connect ({type(exc).__name__})",
                                                  path=path), attempt) from None
            except TRANSPORT_ERRORS as exc:
                self._trace(method, path, headers, None, None, started, attempt, type(exc).__name__)
                if idempotent and attempt < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                raise _attach(errors.OutcomeUnknownError(
                    f"{method} {path}: request sent but no response ({type(exc).__name__}); "
                    "not resent automatically", path=path), attempt) from None
            if status != 200:
                self._trace(method, path, headers, status, None, started, attempt)
                retry_ok = status in NOT_PROCESSED_HTTP or idempotent
                if retry_ok and attempt < self.retry.max_attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if status in NOT_PROCESSED_HTTP:
                    raise _attach(errors.NotSentError(f"{method} {path}: HTTP {status}, not processed", path=path), attempt)
                raise _attach(errors.OutcomeUnknownError(
                    f"{method} {path}: HTTP {status}; the platform may have acted on it", path=path), attempt)
            try:
                envelope = normalise(orjson.loads(answer))
            except ValueError:
                if idempotent and attempt < self.retry.max_attempts:
                    continue
                raise _attach(errors.OutcomeUnknownError(f"{method} {path}: response is not JSON", path=path), attempt) from None
            self._trace(method, path, headers, status, envelope.code, started, attempt)
            if envelope.code in BACKOFF_CODES.get(channel, ()) and attempt < self.retry.max_attempts:
                await asyncio.sleep(self.retry.delay(attempt))
                continue
            if envelope.code == CLOCK_SKEW_CODE.get(channel) and not skew_retried:
                skew_retried = True  # a fresh timestamp fixes a stale one; a wrong clock stays wrong
                continue
            envelope = replace(envelope, attempts=attempt)
            if check and not envelope.ok:
                raise _attach(error_for(channel, envelope.code, envelope.reason, path=path), attempt)
            return envelope

    def _trace(self, method: str, path: str, headers: dict[str, str], status: int | None, code: int | None,
               started: float, attempt: int, error: str | None = None) -> None:
        event = {"method": method, "path": path, "status": status, "code": code, "attempt": attempt,
                 "elapsed": round(time.perf_counter() - started, 6), "error": error,
                 "headers": {**headers, "Sign": REDACTED}}
        if log.isEnabledFor(logging.DEBUG):
            log.debug(redact(f"{method} {path} -> {status} code={code} attempt={attempt} error={error}"))
        if self.tracer:
            self.tracer(event)

    def _app(self, channel: str, app_id: str | None) -> str:
        return app_id or self.credentials.app_id(channel)

    # -- account and SMS --------------------------------------------------------------------
    async def get_balance(self) -> Envelope:
        """``GET /getBalance``."""
        return await self.call("GET", "/getBalance", channel="sms", idempotent=True)

    async def balance(self) -> dict[str, float]:
        """Balance, gift and credit as floats."""
        env = await self.get_balance()
        return {k: float(env.field(k) or 0) for k in ("balance", "gift", "credit")}

    async def send_sms(self, numbers: Sequence[str], content: str, *, sender_id: str | None = None,
                       order_ids: Sequence[str] | None = None, app_id: str | None = None,
                       check: bool = True) -> Envelope:
        """``POST /sendSms``: one content to at most 1000 numbers (a list, or already comma-joined)."""
        body: dict[str, Any] = {"appId": self._app("sms", app_id), "numbers": _commas(numbers), "content": content}
        if sender_id:
            body["senderId"] = sender_id
        if order_ids is not None:
            body["orderId"] = _commas(order_ids)
        return await self.call("POST", "/sendSms", channel="sms", body=body, check=check)

    async def send_sms_batch(self, groups: Iterable[dict[str, Any]], *, app_id: str | None = None,
                             check: bool = True) -> Envelope:
        """``POST /sendSms/batch``: groups of ``{"numbers": [...], "content": str, "order_ids": [...]}``.

        ``numbers`` and ``order_ids`` may be lists or strings already joined with commas.
        """
        array = []
        for g in groups:
            item = {"numbers": _commas(g["numbers"]), "content": g["content"]}
            if g.get("sender_id"):
                item["senderId"] = g["sender_id"]
            if g.get("order_ids") is not None:
                item["orderId"] = _commas(g["order_ids"])
            array.append(item)
        body = {"appId": self._app("sms", app_id), "array": array}
        return await self.call("POST", "/sendSms/batch", channel="sms", body=body, check=check)

    async def get_report(self, msg_ids: Sequence[str], *, app_id: str | None = None) -> Envelope:
        """``GET /getReport`` for at most 200 msgIds (item status 0 delivered, -1 sending, 1 failed)."""
        _limit(msg_ids, MAX_REPORT_IDS, "msgIds")
        params = {"appId": self._app("sms", app_id), "msgIds": ",".join(msg_ids)}
        return await self.call("GET", "/getReport", channel="sms", params=params, idempotent=True)

    async def get_sent_rcd(self, start: datetime, end: datetime, *, start_index: int = 0,
                           app_id: str | None = None) -> Envelope:
        """``GET /getSentRcd``: final messages in a time window (item status 0 delivered, 2 failed)."""
        params = {"appId": self._app("sms", app_id), "startTime": iso8601(start), "endTime": iso8601(end),
                  "startIndex": start_index}
        return await self.call("GET", "/getSentRcd", channel="sms", params=params, idempotent=True)

    # -- email ------------------------------------------------------------------------------
    async def send_email(self, to: Sequence[str], *, template_id: str, from_address: str,
                         subject: str | None = None, template_data: dict[str, Any] | str | None = None,
                         language: str | None = None, ad_flag: int | None = None, app_id: str | None = None,
                         check: bool = True) -> Envelope:
        """``POST /email/sendEmail`` to at most 50 addresses; ``template_data`` is sent as JSON text."""
        body: dict[str, Any] = {"appId": self._app("email", app_id), "fromEmailAddress": from_address,
                                "toAddress": ",".join(to), "templateID": str(template_id)}
        if subject is not None:
            body["subject"] = subject
        if template_data is not None:
            body["templateData"] = template_data if isinstance(template_data, str) else \
                json.dumps(template_data, ensure_ascii=False, separators=(",", ":"))
        if language:
            body["language"] = language
        if ad_flag is not None:
            body["adFlag"] = ad_flag
        return await self.call("POST", "/email/sendEmail", channel="email", body=body, check=check)

    async def get_email_records(self, email_ids: Sequence[str], *, app_id: str | None = None) -> Envelope:
        """``POST /email/getSendEmailRcd`` for at most 200 emailIds."""
        _limit(email_ids, MAX_REPORT_IDS, "emailIds")
        body = {"appId": self._app("email", app_id), "emailId": ",".join(email_ids)}
        return await self.call("POST", "/email/getSendEmailRcd", channel="email", body=body, idempotent=True)

    async def batch_send_email(self, *, receiver_id: str, template_id: str, from_address: str, url: str,
                               subject: str | None = None, language: str | None = None,
                               ad_flag: int | None = None, app_id: str | None = None) -> Envelope:
        """``POST /email/batchSendEmail`` to a recipient list stored in the console."""
        body: dict[str, Any] = {"appId": self._app("email", app_id), "fromEmailAddress": from_address,
                                "receiverId": receiver_id, "templateID": str(template_id), "url": url}
        for key, value in (("subject", subject), ("language", language), ("adFlag", ad_flag)):
            if value is not None:
                body[key] = value
        return await self.call("POST", "/email/batchSendEmail", channel="email", body=body)

    # -- intelligent voice ------------------------------------------------------------------
    async def ai_voice(self, op: str, body: dict[str, Any], *, idempotent: bool = False,
                       check: bool = True) -> Envelope:
        """``POST /AiVoice/<op>``; ``appId`` is filled in when absent."""
        body = {"appId": self._app("voice", None), **body} if "params" not in body else body
        return await self.call("POST", f"/{self.ai_voice_prefix}/{op}", channel="voice", body=body,
                               idempotent=idempotent, check=check)

    async def dialog_flows(self) -> list[dict[str, Any]]:
        """Scripts: ``[{dialogFlowId, name, status, createTime}]``."""
        return (await self.ai_voice("dialogFlowList", {}, idempotent=True)).items("data")

    async def voice_lines(self) -> list[dict[str, Any]]:
        """Outbound lines: ``[{tenantPhoneNumberId, phoneNumber}]``."""
        return (await self.ai_voice("channelList", {}, idempotent=True)).items("data")

    async def create_task(self, **fields: Any) -> int:
        """``taskAdd``; returns the new jobId. Fields use BUKA's names (name, dialogFlowId, ...)."""
        return int((await self.ai_voice("taskAdd", fields)).data)

    async def start_task(self, job_id: int) -> Envelope:
        """``taskStart``: start calling a task's imported customers."""
        return await self.ai_voice("taskStart", {"jobId": job_id})

    async def stop_task(self, job_id: int) -> Envelope:
        """``taskStop``: pause a running task."""
        return await self.ai_voice("taskStop", {"jobId": job_id})

    async def delete_task(self, job_id: int) -> Envelope:
        """``taskDel``: delete a task."""
        return await self.ai_voice("taskDel", {"jobId": job_id})

    async def import_customers(self, job_id: int, persons: Sequence[dict[str, Any]], *,
                               call_record_dup: bool = False, check: bool = True) -> Envelope:
        """``importCustomer`` (at most 100); ``data`` lists the rows the platform refused."""
        _limit(persons, 100, "customers")
        body = {"jobId": job_id, "callRecordDup": call_record_dup, "customerPersons": list(persons)}
        return await self.ai_voice("importCustomer", body, check=check)

    async def list_tasks(self, *, name: str | None = None, current: int = 1, size: int = 100) -> Envelope:
        """``taskList``: the app's tasks (paged), optionally by name."""
        params = {"appId": self._app("voice", None), **({"name": name} if name else {})}
        return await self.ai_voice("taskList", {"current": current, "size": size, "params": params}, idempotent=True)

    async def uncalled(self, job_id: int, *, current: int = 1, size: int = 100) -> Envelope:
        """``taskNoCall``: numbers of a task not called yet (paged)."""
        params = {"appId": self._app("voice", None), "jobId": job_id}
        return await self.ai_voice("taskNoCall", {"current": current, "size": size, "params": params}, idempotent=True)

    async def call_records(self, start: datetime, end: datetime, *, current: int = 1, size: int = 100) -> Envelope:
        """``recordQuery``: AI call records in a window (``yyyy-MM-dd HH:mm:ss``, BUKA time)."""
        fmt = "%Y-%m-%d %H:%M:%S"
        params = {"appId": self._app("voice", None), "startTime": _buka_local(start).strftime(fmt),
                  "endTime": _buka_local(end).strftime(fmt)}
        return await self.ai_voice("recordQuery", {"current": current, "size": size, "params": params}, idempotent=True)


class BukaClient:
    """Synchronous twin of :class:`AsyncBukaClient`: same methods, same settings, blocking calls."""

    def __init__(self, credentials: Credentials | None = None, **settings: Any) -> None:
        self._runner = LoopThread()
        self._async = self._runner.run(_make_async(credentials, settings))
        self.credentials = self._async.credentials

    def __repr__(self) -> str:
        return f"BukaClient(base_url={self.credentials.base_url!r}, api_key={self.credentials.api_key!r})"

    def __enter__(self) -> BukaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._runner.loop.is_running():
            self._runner.run(self._async.aclose())
        self._runner.close()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._async, name)
        if not asyncio.iscoroutinefunction(target):
            return target
        def blocking(*args: Any, **kwargs: Any) -> Any:
            return self._runner.run(target(*args, **kwargs))
        blocking.__doc__ = target.__doc__
        blocking.__name__ = name
        return blocking


async def _make_async(credentials: Credentials | None, settings: dict[str, Any]) -> AsyncBukaClient:
    return AsyncBukaClient(credentials, **settings)


def _attach(error: errors.BukaError, attempts: int) -> errors.BukaError:
    error.attempts = attempts  # type: ignore[attr-defined]
    return error


def _commas(values: str | Sequence[str]) -> str:
    """BUKA's comma-separated list; the SMS planner hands over lists it has already joined (vectorised)."""
    return values if isinstance(values, str) else ",".join(values)


def _limit(items: Sequence[Any], most: int, what: str) -> None:
    if len(items) > most:
        raise errors.InputError(f"at most {most} {what} per request, got {len(items)}: split the list")


def _buka_local(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(BUKA_TZ)
