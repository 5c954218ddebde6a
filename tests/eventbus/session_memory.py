"""Traced memory before, during and after 1000 sessions, in a process of its own.

Run by test_stress as ``python -m tests.eventbus.session_memory``: tracemalloc sees every
thread of a process and the state that earlier tests left (grown asyncio tables, threads that
use asyncio at the same time), so the test's own pytest worker cannot measure this honestly.
Prints ``start during end`` in bytes.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from eventbus import EventBus, Session
from tests.eventbus.support import Ping

SESSIONS = 1000


async def open_wave(bus: EventBus, size: int) -> list[Session]:
    sessions = [bus.session() for _ in range(size)]
    for session in sessions:
        session.subscribe(Ping, lambda e: None)
        session.context["user"] = "x" * 100
    await asyncio.gather(*(s.publish(Ping(n=i)) for i, s in enumerate(sessions)))
    await bus.join()
    return sessions


def close_wave(sessions: list[Session]) -> None:
    for session in sessions:
        session.close()
    sessions.clear()


async def scenario() -> tuple[int, int, int]:
    async with EventBus() as bus:
        bus.subscribe(Ping, lambda e: None)
        # A first wave of the same size grows what outlives any wave and is not the bus's
        # (asyncio's WeakSet of all tasks, the free blocks deques keep: ~48 KiB), so the
        # second wave is measured against a settled process.
        close_wave(await open_wave(bus, SESSIONS))
        gc.collect()
        start = tracemalloc.get_traced_memory()[0]
        sessions = await open_wave(bus, SESSIONS)
        during = tracemalloc.get_traced_memory()[0]
        close_wave(sessions)
        gc.collect()
        end = tracemalloc.get_traced_memory()[0]
    return start, during, end


def main() -> None:
    tracemalloc.start()
    try:
        start, during, end = asyncio.run(scenario())
    finally:
        tracemalloc.stop()
    print(start, during, end)


if __name__ == "__main__":
    main()
