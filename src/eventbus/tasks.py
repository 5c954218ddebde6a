"""The bus's worker task, its cancellation test and command timeouts, on Python 3.10 and 3.11.

3.11 gave tasks ``cancelling()`` and asyncio ``timeout()``; on 3.10 the same behaviour is
built from what there is. Kept apart so the bus reads the same on both.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

from eventbus.errors import CommandTimeoutError
from eventbus.messages import Message, describe

R = TypeVar("R")

if sys.version_info >= (3, 11):

    def spawn_worker(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return asyncio.get_running_loop().create_task(work, name="eventbus")

    def cancelling() -> bool:
        """Is the current task itself being cancelled, rather than a handler's await failing
        with CancelledError (a cancelled future it awaited)?"""
        task = asyncio.current_task()
        return task is None or task.cancelling() > 0

else:  # pragma: no cover - Python 3.10

    class _WorkerTask(asyncio.Task[None]):
        """Python 3.10's tasks have no ``cancelling()``: the worker counts its own cancel
        requests instead (every cancellation of a task, asyncio's own included, is a call of
        its ``cancel``), so a handler's foreign CancelledError is told apart as on 3.11."""

        cancel_requests = 0

        def cancel(self, msg: Any = None) -> bool:
            self.cancel_requests += 1
            return super().cancel(msg)

    def spawn_worker(work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        return _WorkerTask(work, loop=asyncio.get_running_loop(), name="eventbus")

    def cancelling() -> bool:
        """As on 3.11; a task that is not the worker is assumed to be cancelled."""
        return getattr(asyncio.current_task(), "cancel_requests", 1) > 0


async def bounded(awaitable: Awaitable[R], timeout: float | None, command: Message) -> R:
    """Await with an optional timeout, turning expiry into CommandTimeoutError."""
    if timeout is None:
        return await awaitable
    if sys.version_info >= (3, 11):
        scope = asyncio.timeout(timeout)
        try:
            async with scope:
                return await awaitable
        except TimeoutError:
            if scope.expired():
                raise CommandTimeoutError(
                    f"{describe(command)} did not finish within {timeout} s"
                ) from None
            raise
    else:  # pragma: no cover - Python 3.10
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:
            raise CommandTimeoutError(
                f"{describe(command)} did not finish within {timeout} s"
            ) from None
