#!/usr/bin/env python3
"""Where the 32-writer group-commit figure of the event store stops, measured in one run.

The store benchmark ``track_group_commit_32_writers`` has 32 writers, each appending one event
and waiting until it is durable. By Little's law they reach at most 32 events per cycle, and a
cycle is the event loop's work for those 32 appends plus two thread hand-offs plus one
fdatasync. This script measures each part on this machine, side by side, so the figure can
be read against its bounds:

1. asyncio alone: 32 tasks awaiting futures resolved once per wave on the loop (no store);
2. plus a thread round trip per wave (``SimpleQueue`` out, ``call_soon_threadsafe`` back),
   the hand-off every group commit pays;
3. the real ``FileEventStore`` with ``os.fdatasync`` replaced by a no-op: its CPU and
   hand-off work without the disk;
4. a plain overwrite+fdatasync loop on the same disk (the sync a group commit waits for);
5. the real store, as the benchmark runs it.

Then ``32 / (32 / figure 3 + sync p50)`` estimates what waves of 32 can reach when nothing
overlaps the sync. The writer threads cannot overlap it much: between the sync and the
hand-offs they need the GIL, which the loop holds while it works on the next appends.

Usage: ``python scripts/store_ceiling.py [rounds]`` (default 5); medians over the rounds.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import SimpleQueue
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import bench_store  # type: ignore[import-not-found]

WRITERS: int = bench_store.WRITERS
EVENTS_PER_WRITER: int = bench_store.EVENTS_PER_WRITER


async def waves_rate(through_thread: bool) -> float:
    """32 tasks, one awaited future each; a wave of futures is resolved together, on the
    loop or after a round trip through a thread. Events/s."""
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Future[None]] = []
    jobs: SimpleQueue[list[asyncio.Future[None]] | None] = SimpleQueue()
    scheduled = False

    def resolve(wave: list[asyncio.Future[None]]) -> None:
        for future in wave:
            future.set_result(None)

    def dispatch() -> None:
        nonlocal scheduled
        scheduled = False
        wave = pending[:]
        pending.clear()
        if through_thread:
            jobs.put(wave)
        else:
            loop.call_soon(resolve, wave)

    def hand_back() -> None:
        while (wave := jobs.get()) is not None:
            loop.call_soon_threadsafe(resolve, wave)

    async def append() -> None:
        nonlocal scheduled
        future = loop.create_future()
        pending.append(future)
        if not scheduled:
            scheduled = True
            loop.call_soon(dispatch)
        await future

    async def writer() -> None:
        for _ in range(EVENTS_PER_WRITER):
            await append()

    thread = threading.Thread(target=hand_back, daemon=True)
    thread.start()
    try:
        start = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        return WRITERS * EVENTS_PER_WRITER / (time.perf_counter() - start)
    finally:
        jobs.put(None)
        thread.join()


@contextmanager
def bench_directory() -> Iterator[Path]:
    """A fresh directory on the benchmark disk, removed afterwards."""
    directory: Path = bench_store.bench_directory()
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def in_bench_directory(workload: Callable[[Path], Coroutine[Any, Any, float]]) -> float:
    with bench_directory() as directory:
        return asyncio.run(workload(directory))


def store_rate_without_sync() -> float:
    """The real store and workload, with every fdatasync a no-op (only for this figure)."""
    real = os.fdatasync
    os.fdatasync = lambda fd: None
    try:
        return in_bench_directory(bench_store.group_commit_rate)
    finally:
        os.fdatasync = real


def sync_p50() -> float:
    with bench_directory() as directory:
        samples: list[float] = bench_store.fdatasync_overwrite_latencies(directory, 500)
    return statistics.median(samples)


def main(rounds: int) -> None:
    figures: dict[str, list[float]] = {}
    measures: dict[str, Callable[[], float]] = {
        "1 asyncio waves, resolved on the loop (events/s)": lambda: asyncio.run(
            waves_rate(through_thread=False)
        ),
        "2 asyncio waves through a thread (events/s)": lambda: asyncio.run(
            waves_rate(through_thread=True)
        ),
        "3 store, fdatasync a no-op (events/s)": store_rate_without_sync,
        "4 overwrite + fdatasync p50 (s)": sync_p50,
        "5 store, real (events/s)": lambda: in_bench_directory(bench_store.group_commit_rate),
    }
    for _ in range(rounds):
        for label, measure in measures.items():
            figures.setdefault(label, []).append(measure())
    medians = {label: statistics.median(values) for label, values in figures.items()}
    for label, values in figures.items():
        print(
            f"{label:50} median {medians[label]:12.6g}   min {min(values):12.6g}   "
            f"max {max(values):12.6g}"
        )
    no_sync, sync = (
        medians["3 store, fdatasync a no-op (events/s)"],
        medians["4 overwrite + fdatasync p50 (s)"],
    )
    cycle = WRITERS / no_sync + sync
    print(
        f"waves of {WRITERS} without overlap: {WRITERS / no_sync * 1e6:.0f} us of store work "
        f"+ {sync * 1e6:.0f} us sync = {cycle * 1e6:.0f} us per cycle -> "
        f"{WRITERS / cycle:,.0f} events/s (target 100,000)"
    )
    print(f"load average: {bench_store.load_average()}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
