"""The JSONL handler's overflow policies against a real file and a writer held up for real.

The writer is slowed by holding the file's lock from the test: the loop finds the file busy and
hands the write to the worker thread, which blocks on the lock exactly as it would behind a slow
disk. Every policy must account for
every trace: written + dropped == traced, and the file holds exactly the written lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

import pytest

from eventbus import EventBus, JsonlFileHandler, Trace, TraceOverflow
from eventbus.trace import encode_trace
from tests.eventbus.support import Ping, Pong, run


def trace(n: int) -> Trace:
    return Trace(kind="published", message=Ping(n=n), at=1_700_000_000.0)


def written_numbers(path: Path) -> list[int]:
    return [json.loads(line)["message"].get("n", 0) for line in path.read_bytes().splitlines()]


async def wait_until(condition: object, timeout: float = 20.0) -> None:
    async def poll() -> None:
        while not condition():  # type: ignore[operator]
            await asyncio.sleep(0.002)

    await asyncio.wait_for(poll(), timeout)


def drop_scenario(path: Path, overflow: str) -> JsonlFileHandler:
    """One batch in flight behind a held writer, four more encoded and waiting for it (the
    50 traces max_buffer allows), then 160 traces more."""

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(
            path, flush_interval=0.002, batch_size=10, max_buffer=50, overflow=overflow
        )
        await log.start()
        log._file_lock.acquire()
        try:
            for n in range(10):  # the file is busy: this batch goes to the thread, and waits
                log(trace(n))
            assert log._writing is not None and log._backlog == 10
            for n in range(10, 210):
                log(trace(n))
            assert log._backlog == 50  # 0-9 in flight, 4 batches waiting
        finally:
            log._file_lock.release()
        await log.aclose()
        return log

    return run(scenario())


def test_drop_oldest_keeps_the_newest_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    log = drop_scenario(path, "drop-oldest")
    assert log.overflow is TraceOverflow.DROP_OLDEST
    # each full batch past the 50 discarded the oldest waiting one
    assert written_numbers(path) == [*range(10), *range(170, 210)]
    stats = log.stats
    assert stats.traced == 210 and stats.written == 50
    assert stats.dropped_oldest == 160 and stats.dropped_newest == stats.dropped_deadline == 0
    assert stats.written + stats.dropped == stats.traced
    assert stats.lost == stats.dropped and stats.errors == 0
    assert stats.last_error == "writer behind: oldest waiting traces discarded"


def test_drop_newest_keeps_the_oldest_and_counts_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"
    log = drop_scenario(path, "drop-newest")
    # 50-59 filled a batch with no room: it waited, and 60-209 were discarded
    assert written_numbers(path) == list(range(60))
    stats = log.stats
    assert stats.traced == 210 and stats.written == 60
    assert stats.dropped_newest == 150 and stats.dropped_oldest == stats.dropped_deadline == 0
    assert stats.written + stats.dropped == stats.traced
    assert stats.lost == stats.dropped
    assert not log.behind  # the writer made room: traces are taken again


def test_drop_oldest_is_the_default_and_discards_from_a_deque(tmp_path: Path) -> None:
    log = JsonlFileHandler(tmp_path / "x.jsonl")
    assert log.overflow is TraceOverflow.DROP_OLDEST and not log.paces_publishers
    assert isinstance(log._encoded, deque)  # O(1) popleft, not del list[0]


def test_block_slows_the_publisher_down_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    async def scenario() -> tuple[EventBus, JsonlFileHandler]:
        log = JsonlFileHandler(
            path,
            flush_interval=0.002,
            batch_size=10,
            max_buffer=50,
            overflow="block",
            block_timeout=30.0,  # far beyond the hold: nothing may be dropped
        )
        async with log, EventBus() as bus:
            bus.observe(log)
            log._file_lock.acquire()
            try:

                async def publisher() -> None:
                    for n in range(300):
                        await bus.publish(Ping(n=n))

                task = asyncio.get_running_loop().create_task(publisher())
                await wait_until(lambda: bool(log._pending))
                await asyncio.sleep(0.05)  # the publisher is parked on room(), not running
                held_at = bus.stats().published
                assert not task.done()
                assert held_at < 300
            finally:
                log._file_lock.release()
            await asyncio.wait_for(task, 30)
            await bus.join()
        return bus, log

    bus, log = run(scenario())
    stats = log.stats
    assert bus.stats().published == 300
    assert stats.dropped == 0 and stats.lost == 0
    assert stats.written == stats.traced == 600  # a published and a delivered trace each
    assert stats.written + stats.dropped == stats.traced
    assert len(written_numbers(path)) == stats.written


def test_block_drops_a_trace_that_waits_past_its_deadline(tmp_path: Path) -> None:
    path = tmp_path / "bus.jsonl"

    async def scenario() -> tuple[EventBus, JsonlFileHandler]:
        log = JsonlFileHandler(
            path,
            flush_interval=0.002,
            batch_size=10,
            max_buffer=20,
            overflow=TraceOverflow.BLOCK,
            block_timeout=0.02,
        )
        async with log, EventBus() as bus:
            bus.observe(log)
            log._file_lock.acquire()
            try:
                for n in range(60):  # the writer never moves: the waits run out
                    await bus.publish(Ping(n=n))
                await bus.join()
            finally:
                log._file_lock.release()
        return bus, log

    bus, log = run(scenario())
    stats = log.stats
    assert bus.stats().published == bus.stats().delivered == 60
    assert stats.traced == 120
    assert stats.dropped_deadline > 0 and stats.dropped_oldest == stats.dropped_newest == 0
    assert stats.written + stats.dropped == stats.traced
    assert stats.lost == stats.dropped and stats.errors == 0
    assert len(written_numbers(path)) == stats.written
    assert "writer behind" in (stats.last_error or "")


def test_overflow_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="drop-sideways"):
        JsonlFileHandler(tmp_path / "x", overflow="drop-sideways")
    with pytest.raises(ValueError, match="block_timeout must be positive"):
        JsonlFileHandler(tmp_path / "x", overflow="block", block_timeout=0)


def write_syscalls() -> int:
    """write/writev syscalls this process made so far, as the kernel counts them."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("syscw:"):
            return int(line.split()[1])
    raise AssertionError("no syscw in /proc/self/io")


def test_a_writer_held_up_catches_up_in_one_write_per_file(tmp_path: Path) -> None:
    """Batches encoded while the writer is busy go out together: one syscall per file they
    land in, rotation still between batches, never a file past max_bytes."""
    path = tmp_path / "bus.jsonl"

    def numbered(n: int) -> Trace:  # every line the same length
        text = f"{n:04d}" + "x" * 96
        return Trace(kind="published", message=Pong(id="fixed", timestamp=1.5, text=text), at=1.5)

    batch_bytes = 10 * (len(encode_trace(numbered(0))) + 1)

    async def scenario() -> tuple[JsonlFileHandler, int]:
        log = JsonlFileHandler(  # a full batch wakes the flusher; the interval never does
            path, flush_interval=60.0, batch_size=10, max_bytes=3 * batch_bytes, backups=5
        )
        await log.start()
        log._file_lock.acquire()
        try:
            for first in range(0, 100, 10):  # batch 0 goes to the held writer, 1-9 wait
                for n in range(first, first + 10):
                    log(numbered(n))
                assert not log._batch  # the call that filled it encoded it
            assert log._writing is not None and len(log._encoded) == 9
            before = write_syscalls()
        finally:
            log._file_lock.release()
        await log.aclose()
        return log, write_syscalls() - before

    log, syscalls = run(scenario())
    # batch 0 alone; then 2 batches fill its file, 3 + 3 go to two new files, 1 to a last one
    assert syscalls == 5  # one write per batch would be 10
    files = [path.with_name(f"bus.jsonl.{i}") for i in (3, 2, 1)] + [path]
    assert [p.stat().st_size for p in files] == [3 * batch_bytes] * 3 + [batch_bytes]
    lines = [json.loads(line) for p in files for line in p.read_bytes().splitlines()]
    assert [int(line["message"]["text"][:4]) for line in lines] == list(range(100))
    stats = log.stats
    assert stats.written == stats.traced == 100 and stats.lost == 0 and stats.rotations == 3


class CountingPacer:
    """An observer that paces publishers, and counts how often publish() waited on it."""

    paces_publishers = True

    def __init__(self) -> None:
        self.behind = False
        self.waits = 0

    def __call__(self, trace: Trace) -> None:
        pass

    async def room(self) -> None:
        self.waits += 1


def test_publish_waits_on_a_pacer_only_while_it_is_behind() -> None:
    async def scenario() -> CountingPacer:
        pacer = CountingPacer()
        async with EventBus() as bus:
            bus.observe(pacer)
            for n in range(5):
                await bus.publish(Ping(n=n))
            assert pacer.waits == 0  # keeping up: no room() coroutine per event
            pacer.behind = True
            for n in range(3):
                await bus.publish(Ping(n=n))
            await bus.join()
        return pacer

    assert run(scenario()).waits == 3


def test_the_call_that_fills_a_batch_encodes_and_writes_it(tmp_path: Path) -> None:
    """Encoded in the observer call, while the traces are in the CPU's cache (encoding them
    after thousands of others cost more), and written there: into the page cache a batch
    takes tens of microseconds, less than handing it to a thread."""
    path = tmp_path / "bus.jsonl"

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(path, flush_interval=60.0, batch_size=10)
        await log.start()
        for n in range(9):
            log(trace(n))
        assert len(log._batch) == 9 and not log._encoded and log.stats.written == 0
        log(trace(9))  # no await in between: no task had a turn
        assert not log._batch and log._backlog == 0 and log._writing is None
        assert log.stats.written == 10
        await log.aclose()
        return log

    log = run(scenario())
    assert written_numbers(path) == list(range(10))
    assert log.stats.written == log.stats.traced == 10


def test_lines_stay_in_order_while_waiting_traces_catch_up(tmp_path: Path) -> None:
    """Under block, a full batch and the traces beside it wait for room; as writes finish
    they move into the backlog ahead of anything newer, so the file keeps their order."""
    path = tmp_path / "bus.jsonl"

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(
            path,
            flush_interval=60.0,
            batch_size=10,
            max_buffer=20,
            overflow="block",
            block_timeout=30.0,
        )
        await log.start()
        log._file_lock.acquire()
        try:
            for n in range(100):  # 0-9 held in the thread, 10-19 wait, 20-29 full, 30-99 beside
                log(trace(n))
            assert log.behind and len(log._pending) == 70
        finally:
            log._file_lock.release()
        await log.aclose()
        return log

    log = run(scenario())
    assert written_numbers(path) == list(range(100))
    assert log.stats.written == log.stats.traced == 100 and log.stats.dropped == 0


def test_a_slow_write_sends_the_next_writes_to_a_thread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A file that stalls (here a FIFO whose reader waits before reading: the batch is
    larger than the pipe's 64 KiB) holds the loop once; the next writes go to a thread."""
    fifo = tmp_path / "slow.jsonl"
    os.mkfifo(fifo)
    received = bytearray()

    def reader() -> None:
        fd = os.open(fifo, os.O_RDONLY)
        time.sleep(0.05)
        while chunk := os.read(fd, 1 << 16):
            received.extend(chunk)
        os.close(fd)

    thread = threading.Thread(target=reader)
    thread.start()

    async def scenario() -> JsonlFileHandler:
        log = JsonlFileHandler(fifo, flush_interval=60.0, batch_size=1000, max_buffer=10_000)
        await log.start()
        started = time.perf_counter()
        for n in range(1000):  # about 120 kB: the write waits for the reader
            log(trace(n))
        assert time.perf_counter() - started >= 0.04  # the loop was held, once
        assert log._writing is None and log._loop_writes_from > time.monotonic()
        for n in range(1000, 2000):
            log(trace(n))
        assert log._writing is not None  # this one went to the thread
        await log.aclose()
        return log

    with caplog.at_level(logging.INFO, logger="eventbus.observability"):
        log = run(scenario())
    thread.join(10)
    numbers = [json.loads(line)["message"].get("n", 0) for line in received.splitlines()]
    assert numbers == list(range(2000))
    assert log.stats.written == log.stats.traced == 2000
    assert any("writing in a thread for 1 s" in r.getMessage() for r in caplog.records)
