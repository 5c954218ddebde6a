"""The message bus (src/eventbus): publish throughput, command latency, sessions, memory.

Targets (issue 4, on a 2-core machine): publish with 3 handlers >= 200 000 events/s (higher is
better); command latency p99 <= 100 us (``track_`` in seconds, lower is better); session
create+close <= 20 us (seconds, lower is better); 100 000 retained events <= 40 MB (tracemalloc
bytes, lower is better).

Run the suite with asv (``asv run --python=same --quick -b bench_bus``), or
``python benchmarks/bench_bus.py [rounds]`` for the median of several rounds of every figure.
"""

from __future__ import annotations

import asyncio
import gc
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventbus import Command, Event, EventBus, JsonlFileHandler, Message, Next

try:
    from perfguard.tracking import tracemalloc_tracks
except ImportError:  # a commit older than perfguard.tracking: asv runs this suite on history
    tracemalloc_tracks = None

PUBLISH_EVENTS = 100_000
COMMANDS = 20_000
SESSIONS = 20_000
RETAINED_EVENTS = 100_000


class Tick(Event):
    """A small event, as a typical domain event: an id, a number and a short text."""

    sequence: int
    source: str = "bench"


class Double(Command[int]):
    value: int


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- workloads (each returns its figure) -------------------------------------------------------


async def publish_rate(
    n: int = PUBLISH_EVENTS,
    *,
    asynchronous: bool = True,
    middleware: bool = False,
    log_to: Path | None = None,
) -> float:
    """Events/s for building and publishing `n` events to 3 handlers and draining the queue
    (with `log_to`, a JSONL handler also logs every trace to that file, flushed at the end)."""
    handled = 0

    async def async_handler(event: Tick) -> None:
        nonlocal handled
        handled += 1

    def sync_handler(event: Tick) -> None:
        nonlocal handled
        handled += 1

    async def passthrough(message: Message, call_next: Next) -> Any:
        return await call_next(message)

    handler: Callable[[Tick], Any] = async_handler if asynchronous else sync_handler
    log = JsonlFileHandler(log_to, max_bytes=1 << 40, max_buffer=4 * n) if log_to else None
    async with EventBus() as bus:
        for _ in range(3):
            bus.subscribe(Tick, handler)
        if middleware:
            bus.use(passthrough)
        if log is not None:
            await log.start()
            bus.observe(log)
        started = time.perf_counter()
        for sequence in range(n):
            await bus.publish(Tick(sequence=sequence))
        await bus.join()
        if log is not None:
            await log.aclose()
            if log.stats.written != 2 * n:
                raise AssertionError(f"expected {2 * n} log lines, got {log.stats}")
        elapsed = time.perf_counter() - started
    if handled != 3 * n:
        raise AssertionError(f"expected {3 * n} handler calls, got {handled}")
    return n / elapsed


async def command_latencies(n: int = COMMANDS) -> list[float]:
    """Seconds per execute() of a command with an async handler, one sample per call."""

    async def double(command: Double) -> int:
        return command.value * 2

    bus = EventBus()
    bus.handle(Double, double)
    clock = time.perf_counter_ns
    samples = []
    for value in range(n):
        command = Double(value=value)
        started = clock()
        await bus.execute(command)
        samples.append((clock() - started) / 1e9)
    return samples


async def session_seconds(n: int = SESSIONS, *, with_handler: bool = False) -> float:
    """Mean seconds to open and close one session (optionally registering one handler)."""
    bus = EventBus()

    def handler(event: Tick) -> None:
        pass

    started = time.perf_counter()
    for _ in range(n):
        session = bus.session()
        if with_handler:
            session.subscribe(Tick, handler)
        session.close()
    return (time.perf_counter() - started) / n


async def _publish_retained(n: int, retained: list[Tick]) -> None:
    async with EventBus(max_queue=n) as bus:
        bus.subscribe(Tick, retained.append)
        for sequence in range(n):
            await bus.publish(Tick(sequence=sequence))
        await bus.join()


def retained_blocks(n: int = RETAINED_EVENTS) -> int:
    """Allocated memory blocks still held after `n` events went through the bus into a list."""
    gc.collect()
    before = sys.getallocatedblocks()
    retained: list[Tick] = []
    asyncio.run(_publish_retained(n, retained))
    gc.collect()
    after = sys.getallocatedblocks()
    if len(retained) != n:
        raise AssertionError(f"expected {n} retained events, got {len(retained)}")
    return after - before


def retained_bytes(n: int = RETAINED_EVENTS) -> int:
    """tracemalloc bytes still held after `n` events went through the bus into a list."""
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        retained: list[Tick] = []
        asyncio.run(_publish_retained(n, retained))
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    if len(retained) != n:
        raise AssertionError(f"expected {n} retained events, got {len(retained)}")
    return after - before


def burst_peak_bytes(n: int = PUBLISH_EVENTS) -> int:
    """tracemalloc peak while `n` events are published into an unbounded-enough queue and
    drained by 3 handlers that keep nothing: what a burst costs in flight."""

    async def burst() -> None:
        async with EventBus(max_queue=n) as bus:
            for _ in range(3):
                bus.subscribe(Tick, lambda event: None)
            for sequence in range(n):
                await bus.publish(Tick(sequence=sequence))
            await bus.join()

    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        asyncio.run(burst())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak - base


# -- asv benchmarks ----------------------------------------------------------------------------


class PublishThroughput:
    """Build + publish + deliver to 3 handlers, events/s (higher is better)."""

    unit = "events/s"
    timeout = 120

    def track_publish_3_async_handlers(self) -> float:
        return asyncio.run(publish_rate())

    def track_publish_3_sync_handlers(self) -> float:
        return asyncio.run(publish_rate(asynchronous=False))

    def track_publish_3_async_handlers_with_middleware(self) -> float:
        return asyncio.run(publish_rate(middleware=True))

    def track_publish_3_async_handlers_with_jsonl_log(self) -> float:
        directory = Path(tempfile.mkdtemp(prefix="bench-bus-"))
        try:
            return asyncio.run(publish_rate(log_to=directory / "bus.jsonl"))
        finally:
            shutil.rmtree(directory)


class CommandLatency:
    """execute() of one command with an async handler, seconds (lower is better)."""

    unit = "seconds"
    timeout = 120

    def track_command_latency_p50(self) -> float:
        return percentile(asyncio.run(command_latencies()), 0.50)

    def track_command_latency_p99(self) -> float:
        return percentile(asyncio.run(command_latencies()), 0.99)


class Sessions:
    """Open + close one session, seconds (lower is better)."""

    unit = "seconds"
    timeout = 120

    def track_session_create_close(self) -> float:
        return asyncio.run(session_seconds())

    def track_session_create_subscribe_close(self) -> float:
        return asyncio.run(session_seconds(with_handler=True))


class Memory:
    """tracemalloc bytes (lower is better)."""

    unit = "bytes"
    timeout = 120

    def track_memory_100k_retained_events(self) -> int:
        return retained_bytes()

    def track_memory_peak_100k_event_burst(self) -> int:
        return burst_peak_bytes()


def publish_1000_retained() -> None:
    """1000 events through a bus into a list: an allocation figure that repeats exactly."""
    asyncio.run(_publish_retained(1000, []))


# Allocation count and peak of the same work repeat exactly from run to run (perfguard.tracking):
# a gate on them has no noise to fight.
if tracemalloc_tracks is not None:
    track_publish_1000_blocks, track_publish_1000_peak = tracemalloc_tracks(
        publish_1000_retained, name="publish_1000"
    )


class Allocations:
    """Allocated memory blocks (lower is better)."""

    unit = "blocks"
    timeout = 120

    def track_allocated_blocks_100k_retained_events(self) -> int:
        return retained_blocks()


def main(rounds: int) -> None:
    """Print the median (and spread) of every figure over `rounds` runs, without asv."""
    suites: list[Any] = [PublishThroughput, CommandLatency, Sessions, Memory, Allocations]
    figures: dict[str, list[float]] = {}
    for _ in range(rounds):
        for cls in suites:
            instance = cls()
            for name in sorted(dir(cls)):
                if name.startswith("track_"):
                    value = float(getattr(instance, name)())
                    figures.setdefault(f"{name} ({cls.unit})", []).append(value)
    for name, values in figures.items():
        print(
            f"{name:<60} median {statistics.median(values):>14.6g}"
            f"   min {min(values):.6g}   max {max(values):.6g}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
