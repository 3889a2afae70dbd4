"""Running buka_nb's async core from sync code, in scripts and inside Jupyter's running event loop.

A notebook cell already runs inside an event loop, so ``asyncio.run`` would fail there; buka_nb
then runs the coroutine on a private loop in a worker thread and waits for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run *coro* to completion from synchronous code, whether or not a loop is running here."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        running = False
    else:
        running = True
    if not running:  # outside the except block, so errors do not chain onto "no running event loop"
        return _run(coro)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = _run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target, name="buka_nb-run", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)``, with the value kept out of the main task.

    When asyncio.run puts Ctrl-C handling back, ``signal.getsignal`` (CPython 3.11) formats its
    handler's repr, and with it the main task's result: a 10^6-row result frame was rendered as
    text, 0.13 s for nothing.
    """
    box: list[T] = []

    async def main() -> None:
        box.append(await coro)

    asyncio.run(main())
    return box[0]


class LoopThread:
    """A private event loop in a daemon thread, for sync facades over async objects."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="buka_nb-loop", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()
