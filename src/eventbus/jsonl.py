"""The JSONL file handler: every trace as one JSON line, encoded and written in batches.

It is a bus observer (`bus.observe(handler)`), called synchronously for every trace, so its
call does as little as it can: a count and a list append; the call that fills a batch also
encodes it (one msgspec call), while its traces are still in the CPU's cache, frees them, and
writes it (one writev into the page cache, tens of microseconds). A worker thread writes
only while the file is slow (see `_start_write`): on a busy loop it is starved of the GIL.
Encoded batches that wait for it sit in a deque. A background task encodes partial batches
every `flush_interval`. Write failures (full disk, unwritable path) are counted in `stats`
and logged; they never reach the bus. What a full backlog does is the handler's `overflow`
policy (see TraceOverflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import time
from collections import deque
from pathlib import Path
from types import TracebackType

from eventbus.jsonl_file import MAX_CHUNKS, RotatingFile, log
from eventbus.observability import HandlerStats, TraceFilter
from eventbus.trace import Trace, encode_traces

# A write on the loop slower than this (a stalled disk, throttled writeback) sends the next
# writes to a worker thread for COOL_DOWN_S, doubling while they stay slow, up to the max.
SLOW_WRITE_S = 0.005
COOL_DOWN_S = 1.0
MAX_COOL_DOWN_S = 60.0


class TraceOverflow(str, enum.Enum):
    """What a JSONL handler does with a full batch when `max_buffer` traces already wait.

    - DROP_OLDEST: the batch is encoded and queued; the oldest waiting batches are discarded
      to make room (counted in `dropped_oldest`). The default: the log keeps the most recent
      history.
    - DROP_NEWEST: the full batch waits as it is and incoming traces are discarded until the
      writer makes room (counted in `dropped_newest`).
    - BLOCK: the full batch waits, incoming traces wait beside it, and the bus's publish()
      waits for the writer to make room (the handler paces the bus, see `room()`), at most
      `block_timeout` seconds per trace; a trace still waiting then is discarded (counted in
      `dropped_deadline`).
    """

    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"
    BLOCK = "block"


class JsonlFileHandler:
    """Appends one JSON object per line to `path`, in batches.

    Use as `async with JsonlFileHandler(path) as log: bus.observe(log)`. Traces are encoded
    and written `batch_size` at a time (the rest every `flush_interval` seconds), on the
    loop thread while writes are quick, in a worker thread while the file is slow. The file
    rotates when it would pass `max_bytes` (path.1 ... path.N, N = `backups`). At most
    `max_buffer` encoded traces wait for the writer (at least two batches' worth: one in the
    writer's hands while the next fills); past that `overflow` decides:
    drop the oldest waiting batch (default), drop the newest traces, or `block`: slow the
    bus's publishers down, each waiting trace for at most `block_timeout` seconds before it
    is dropped. Every outcome is counted in `stats` (`written + lost == traced` once closed).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        filter: TraceFilter | None = None,
        max_bytes: int = 10_000_000,
        backups: int = 3,
        flush_interval: float = 0.05,
        batch_size: int = 500,
        max_buffer: int = 100_000,
        overflow: TraceOverflow | str = TraceOverflow.DROP_OLDEST,
        block_timeout: float = 1.0,
    ) -> None:
        if max_bytes < 1 or backups < 0 or batch_size < 1 or max_buffer < 2 * batch_size:
            raise ValueError(
                "need max_bytes >= 1, backups >= 0, batch_size >= 1, max_buffer >= 2 * batch_size"
            )
        if block_timeout <= 0:
            raise ValueError(f"block_timeout must be positive, got {block_timeout}")
        self.overflow = TraceOverflow(overflow)
        self.block_timeout = block_timeout
        # The bus awaits room() in publish() only for observers that say they pace it, and
        # only while they are `behind`. DROP_NEWEST uses `behind` too: it drops while true.
        self.paces_publishers = self.overflow is TraceOverflow.BLOCK
        self.behind = False  # a full batch waits for room (never under DROP_OLDEST)
        self.path = Path(path)
        self.filter = filter
        self.max_bytes = max_bytes
        self.backups = backups
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        # One write takes at most half the backlog, so a full backlog always holds a waiting
        # batch that DROP_OLDEST can discard (the one in the writer's hands cannot be).
        self._chunks_per_write = max(1, min(MAX_CHUNKS, max_buffer // (2 * batch_size)))
        self._batch: list[Trace] = []  # the batch being filled (raw traces)
        # BLOCK only: traces past a full batch, each with its deadline (monotonic: in order).
        self._pending: deque[tuple[float, Trace]] = deque()
        self._room: asyncio.Event | None = None  # set while nothing waits for room
        # Encoded batches (data, trace count) waiting for the writer: a deque, so discarding
        # the oldest is O(1); the write in flight and its count.
        self._encoded: deque[tuple[bytes, int]] = deque()
        self._backlog = 0  # traces encoded and not yet written (waiting or in flight)
        self._writing: asyncio.Future[bool] | None = None
        self._writing_count = 0
        self._writing_here = False  # _start_write is writing on the loop
        self._loop_writes_from = 0.0  # monotonic time; until then writes go to the thread
        self._cool_down = COOL_DOWN_S
        # Counters. Changed on the loop thread only: traced and the drops. Changed by the
        # write running (on the loop or in the thread, one at a time: the file's lock): the
        # file's written, lost, errors, rotations. So no counter needs a lock of its own;
        # `stats` assembles them.
        self._traced = 0
        self._dropped_oldest = 0
        self._dropped_newest = 0
        self._dropped_deadline = 0
        self._last_error: str | None = None
        self._file = RotatingFile(self.path, max_bytes, backups, self._set_last_error)
        # One write at a time, on the loop or in the thread, even if a flush is cancelled
        # while its write runs in the thread.
        self._file_lock = self._file.lock
        self._started = False
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def __call__(self, trace: Trace) -> None:
        if self.filter is not None and not self.filter(trace):
            return
        # The hot path: a count, a flag, an append and a length check.
        self._traced += 1
        if self.behind:
            if self.paces_publishers:
                self._wait_beside(trace)
            else:  # DROP_NEWEST; its last_error is set in `stats`, not per trace
                self._dropped_newest += 1
            return
        batch = self._batch
        batch.append(trace)
        if len(batch) >= self.batch_size:
            self._batch_filled()

    @property
    def stats(self) -> HandlerStats:
        """A snapshot of what the handler did so far (`written + lost == traced` once closed)."""
        dropped = self._dropped_oldest + self._dropped_newest + self._dropped_deadline
        last_error = self._last_error
        if last_error is None and self._dropped_oldest:
            last_error = "writer behind: oldest waiting traces discarded"
        if last_error is None and self._dropped_newest:
            last_error = "writer behind: newest trace discarded"
        file = self._file
        return HandlerStats(
            traced=self._traced,
            written=file.written,
            lost=file.lost + dropped,
            errors=file.errors,
            rotations=file.rotations,
            dropped_oldest=self._dropped_oldest,
            dropped_newest=self._dropped_newest,
            dropped_deadline=self._dropped_deadline,
            last_error=last_error,
        )

    def _set_last_error(self, message: str) -> None:
        self._last_error = message

    # ------------------------------------------------------------------ the backlog

    def _batch_filled(self) -> None:
        """The batch is full: encode and queue it if the backlog has room; else the overflow
        policy: discard the oldest waiting batches, or wait (and be `behind`) for room."""
        count = len(self._batch)
        if self._backlog + count > self.max_buffer:
            if self.overflow is not TraceOverflow.DROP_OLDEST:
                self._fall_behind()
                return
            encoded = self._encoded
            while encoded and self._backlog + count > self.max_buffer:
                _, dropped = encoded.popleft()
                self._backlog -= dropped
                self._dropped_oldest += dropped
        self._queue_batch()

    def _queue_batch(self) -> None:
        """Encode the batch (one msgspec call), queue it, and hand it on if the writer idles."""
        batch = self._batch
        self._batch = []
        self._encoded.append((encode_traces(batch), len(batch)))
        self._backlog += len(batch)
        if self._writing is None and self._started:
            self._start_write()

    def _start_write(self) -> None:
        """Write the waiting batches (up to _chunks_per_write, one writev per file).

        On the loop thread, while writes are quick: a batch takes tens of microseconds into
        the page cache. A worker thread only gets the GIL when the busy loop lets it (the
        loop's own short releases starve it: writes waited a second to start), so it takes
        over only while the file is slow: after a write on the loop took over SLOW_WRITE_S
        (for a cool-down that doubles while writes stay slow), or while the file's lock is
        held by a write still running in the thread."""
        if self._writing_here:
            return  # called back from _catch_up below: the loop takes up what it queued
        encoded = self._encoded
        self._writing_here = True
        try:
            while self._writing is None and encoded:
                chunks = [
                    encoded.popleft() for _ in range(min(self._chunks_per_write, len(encoded)))
                ]
                count = sum(count for _, count in chunks)
                if time.monotonic() >= self._loop_writes_from:
                    started = time.perf_counter()
                    try:
                        wrote = self._file.write(chunks, wait=False)
                    except Exception as exc:  # a bug: counted, never raised into the bus
                        self._writer_failed(exc, count)
                        wrote = True
                    if wrote:
                        self._backlog -= count
                        self._note_write_time(time.perf_counter() - started)
                        self._catch_up()
                        continue
                loop = asyncio.get_running_loop()
                self._writing = writing = loop.run_in_executor(None, self._file.write, chunks)
                self._writing_count = count
                writing.add_done_callback(self._written)
        finally:
            self._writing_here = False

    def _note_write_time(self, seconds: float) -> None:
        """A slow write on the loop sends the next ones to the thread for a while."""
        if seconds <= SLOW_WRITE_S:
            self._cool_down = COOL_DOWN_S
            return
        self._loop_writes_from = time.monotonic() + self._cool_down
        log.info(
            "writing %s took %.0f ms: writing in a thread for %g s",
            self.path,
            seconds * 1e3,
            self._cool_down,
        )
        self._cool_down = min(2 * self._cool_down, MAX_COOL_DOWN_S)

    def _written(self, writing: asyncio.Future[bool]) -> None:
        """A write in the thread finished (on the loop thread): the next one starts.

        Done here, not by a task, so a loop busy with publishers cannot hold the writer up."""
        if writing is not self._writing:
            return  # collected already (flush() does not wait for this callback)
        self._writing = None
        count, self._writing_count = self._writing_count, 0
        self._backlog -= count
        error = None if writing.cancelled() else writing.exception()
        if error is not None:
            self._writer_failed(error, count)
        self._catch_up()
        self._start_write()

    def _writer_failed(self, error: BaseException, count: int) -> None:
        """A bug in the writer, not an OSError (those the file counts itself): the traces
        are lost and said so, but the bus and later writes go on."""
        self._file.lost += count
        self._last_error = f"writer failed: {error!r} ({count} traces lost)"
        log.error("%s", self._last_error, exc_info=error)

    # ------------------------------------------------------------------ overflow

    def _fall_behind(self) -> None:
        """DROP_NEWEST or BLOCK with a full backlog: the full batch waits for room."""
        self.behind = True
        if self._room is not None:
            self._room.clear()

    def _wait_beside(self, trace: Trace) -> None:
        """BLOCK while behind: `trace` waits beside the full batch, with its deadline."""
        now = time.monotonic()
        self._expire_pending(now)
        self._pending.append((now + self.block_timeout, trace))

    def _expire_pending(self, now: float) -> None:
        """Drop the waiting traces whose deadline passed (the oldest are first)."""
        pending = self._pending
        expired = 0
        while pending and pending[0][0] <= now:
            pending.popleft()
            expired += 1
        if expired:
            self._dropped_deadline += expired
            self._last_error = (
                f"writer behind for {self.block_timeout}s: {expired} traces discarded"
            )

    def _catch_up(self, everything: bool = False) -> None:
        """Move the full batch and the traces waiting beside it into the backlog while it has
        room (`everything`: regardless, when closing); no longer behind once all are in."""
        if not self.behind:
            return
        if not everything:
            self._expire_pending(time.monotonic())
        pending, size = self._pending, self.batch_size
        while True:
            if len(self._batch) >= size:
                if not everything and self._backlog + len(self._batch) > self.max_buffer:
                    return  # still behind
                self._queue_batch()
            if not pending:
                break
            batch = self._batch
            for _ in range(min(size - len(batch), len(pending))):
                batch.append(pending.popleft()[1])
        self.behind = False
        if self._room is not None:
            self._room.set()

    async def room(self) -> None:
        """Wait until the handler is no longer behind, at most `block_timeout` seconds.

        The bus awaits this in publish() when `paces_publishers` is true (overflow=BLOCK) and
        the handler is `behind`, so publishing slows to the writer's pace instead of dropping
        traces."""
        if not self.behind:
            return
        if self._room is None:
            self._room = asyncio.Event()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._room.wait(), self.block_timeout)
        self._expire_pending(time.monotonic())

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start writing (and the background task that writes partial batches)."""
        if self._task is None:
            self._started = True
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._flush_loop(), name=f"jsonl:{self.path}"
            )
            self._start_write()

    async def flush(self) -> None:
        """Write everything buffered so far (errors are recorded in `stats`, never raised)."""
        while True:
            self._take_up(everything=self._stopping)
            if self._writing is not None:
                writing = self._writing
                await asyncio.wait((writing,))  # never cancels the write itself
                self._written(writing)
            elif self._encoded:
                self._start_write()
            elif not self._batch and not self._pending:
                return

    async def aclose(self) -> None:
        """Stop the flusher, write what is left (waiting traces too) and close the file."""
        self._stopping = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()
        self._file.close()

    async def __aenter__(self) -> JsonlFileHandler:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _take_up(self, everything: bool = False) -> None:
        """What waits for room moves into the backlog, then the partial batch if it fits."""
        self._catch_up(everything)
        if (
            self._batch
            and not self.behind
            and (everything or self._backlog + len(self._batch) <= self.max_buffer)
        ):
            self._queue_batch()

    async def _flush_loop(self) -> None:
        """Every flush_interval: expire and take up waiting traces, write a partial batch."""
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            self._take_up()
            self._start_write()
