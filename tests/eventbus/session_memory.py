"""Traced memory while 1000 sessions are open, then after each later wave of 1000 has closed.

Run by test_stress as ``python -m tests.eventbus.session_memory``: tracemalloc sees every
thread of a process and the state that earlier tests left (grown asyncio tables, threads that
use asyncio at the same time), so the test's own pytest worker cannot measure this honestly.
Prints the traced bytes while the first wave is open, then after each of ``WAVES`` waves has
closed. A leak grows the level by the same amount every wave; tables and free lists that grow
to a wave's size (asyncio's set of all tasks, deque blocks; by how much depends on how the
loop interleaved the wave's tasks, which a loaded machine changes) grow in some waves only.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc

from eventbus import EventBus, Session
from tests.eventbus.support import Ping

SESSIONS = 1000
WAVES = 6


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


async def scenario(waves: int) -> list[int]:
    """Traced bytes while the first wave is open, then after each wave has closed."""
    async with EventBus() as bus:
        bus.subscribe(Ping, lambda e: None)
        sessions = await open_wave(bus, SESSIONS)
        levels = [tracemalloc.get_traced_memory()[0]]
        close_wave(sessions)
        for _ in range(waves):
            close_wave(await open_wave(bus, SESSIONS))
            gc.collect()
            levels.append(tracemalloc.get_traced_memory()[0])
    return levels


def main() -> None:
    tracemalloc.start()
    try:
        levels = asyncio.run(scenario(WAVES))
    finally:
        tracemalloc.stop()
    print(*levels)


if __name__ == "__main__":
    main()
