"""Chaos toolkit: wrap handlers so they fail or stall at a given rate, and squeeze memory.

Every decision comes from a seeded RNG so a failing run can be replayed exactly, and every
injection is counted so tests can compare the bus's statistics with what really happened.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any


class ChaosError(RuntimeError):
    """The failure a chaotic handler raises."""


class Chaos:
    """Injects failures (probability `failure_rate`) and delays (probability `delay_rate`,
    uniformly up to `max_delay` seconds) into wrapped handlers."""

    def __init__(
        self,
        seed: int,
        *,
        failure_rate: float = 0.0,
        delay_rate: float = 0.0,
        max_delay: float = 0.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self.delay_rate = delay_rate
        self.max_delay = max_delay
        self.calls = 0
        self.failures = 0
        self.delays = 0

    def wrap(self, handler: Callable[[Any], Any]) -> Callable[[Any], Awaitable[None]]:
        """An async handler that may stall, then may fail, else calls `handler`."""

        async def chaotic(message: Any) -> None:
            self.calls += 1
            if self.rng.random() < self.delay_rate:
                self.delays += 1
                await asyncio.sleep(self.rng.uniform(0, self.max_delay))
            if self.rng.random() < self.failure_rate:
                self.failures += 1
                raise ChaosError(f"injected failure #{self.failures}")
            result = handler(message)
            if asyncio.iscoroutine(result):
                await result

        chaotic.__qualname__ = f"chaos({getattr(handler, '__qualname__', handler)!s})"
        return chaotic

    def wrap_sync(self, handler: Callable[[Any], Any]) -> Callable[[Any], None]:
        """A sync handler that may fail (sync handlers cannot stall the loop politely)."""

        def chaotic(message: Any) -> None:
            self.calls += 1
            if self.rng.random() < self.failure_rate:
                self.failures += 1
                raise ChaosError(f"injected failure #{self.failures}")
            handler(message)

        return chaotic


@contextmanager
def memory_pressure(megabytes: int) -> Iterator[list[bytearray]]:
    """Hold `megabytes` of touched memory (1 MiB blocks) while the block runs."""
    ballast = [bytearray(b"\x01" * (1 << 20)) for _ in range(megabytes)]
    try:
        yield ballast
    finally:
        ballast.clear()
