"""The push thread: POSTs each SMS DLR (§7.1) and AI-voice call report once, when it turns final in sim time.

Reports are queued by the endpoints (only while a push URL is configured) in a heap ordered by
delivery time; the thread sleeps until the next one is due, or until the clock is advanced.
Connection failures are retried a few times with a short back-off; HTTP error answers are not
retried (BUKA only needs a 200 and does not inspect the body).
"""

from __future__ import annotations

import heapq
import json
import logging
import threading
from typing import Any

from . import aivoice, sms
from .state import SimState

log = logging.getLogger("buka_nb.simulator")


class Pusher:
    """Delivers queued reports; :meth:`flush` pushes everything already final, synchronously."""

    def __init__(self, state: SimState, *, retries: int = 3, timeout: float = 5.0) -> None:
        self.state = state
        self.retries = retries
        self.timeout = timeout
        self.sent = 0
        self.failed = 0
        self._inflight = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: Any = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="buka-sim-push", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.state.changed:
            self.state.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def stats(self) -> dict[str, int]:
        return {"sent": self.sent, "failed": self.failed, "queued": len(self.state.pushes),
                "in_flight": self._inflight}

    def flush(self, timeout: float = 30.0) -> int:
        """Push every report that is final now, and wait for pushes the thread has in flight."""
        items = self._due()
        self._post_all(items)
        with self.state.changed:
            self.state.changed.wait_for(lambda: self._inflight == 0, timeout=timeout)
        return len(items)

    # -- internals -------------------------------------------------------------------------------
    def _due(self) -> list[tuple[str, dict[str, Any]]]:
        state = self.state
        out = []
        with state.lock:
            now = state.now()
            while state.pushes and state.pushes[0][0] <= now:
                at, _, channel, row = heapq.heappop(state.pushes)
                led = state.ledger.channels[channel]
                # Stale entries: the ledger was reset, or a paused AI call was unscheduled.
                if row >= len(led) or led.deliver_at[row] != at:
                    continue
                url = state.push_url if channel == "sms" else state.voice_push_url
                if not url:
                    continue
                payload = sms.dlr_payload(state, row) if channel == "sms" else aivoice.call_report(state, row)
                out.append((url, payload))
            self._inflight += len(out)
        return out

    def _post_all(self, items: list[tuple[str, dict[str, Any]]]) -> None:
        for url, payload in items:
            try:
                self._post(url, payload)
            finally:
                with self.state.changed:
                    self._inflight -= 1
                    self.state.changed.notify_all()

    def _post(self, url: str, payload: dict[str, Any]) -> None:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout)
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=UTF-8", "User-Agent": "buka-sim-push/1"}
        for attempt in range(self.retries + 1):
            try:
                self._client.post(url, content=body, headers=headers)
                self.sent += 1
                return
            except httpx.HTTPError:
                if attempt == self.retries or self._stop.wait(0.2 * (attempt + 1)):
                    break
        self.failed += 1
        log.debug("push to %s failed after %d attempts", url, self.retries + 1)

    def _run(self) -> None:
        state = self.state
        while not self._stop.is_set():
            items = self._due()
            if items:
                self._post_all(items)
                continue
            with state.changed:
                wait = 0.5
                if state.pushes:
                    wait = min(wait, max(state.pushes[0][0] - state.now(), 0.01))
                state.changed.wait(timeout=wait)
