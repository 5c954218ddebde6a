"""Group commit, the writing half of ``FileEventStore``: how an append becomes durable.

Appends are checked on the event loop and queued; once per loop iteration the queue is handed
to writer threads, which encode each batch, write it with one ``write`` (in order) and make it
durable with one ``fdatasync`` (group commit; up to four syncs overlap). Only then are the
events indexed and their callers resumed, so an acknowledged event is on disk and readable.
Opening, closing and reading the log are ``log.py``'s part.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from array import array
from contextlib import suppress
from itertools import accumulate
from pathlib import Path
from queue import SimpleQueue
from typing import NoReturn

from .base import IndexedEventStore
from .batch import Encoded, Queued, encode_batch
from .errors import StoreClosedError, StoreFailedError
from .framing import SEGMENT_HEADER_SIZE
from .index import EventIndex
from .interface import Payload, StoredEvent, StoreLimits
from .preallocate import PREALLOCATE_BYTES, Preallocator
from .prepare import PreparedEvent, prepare_event
from .reading import SegmentFile
from .segment import create_segment

MAX_WRITE_BYTES = 16 << 20
"""Most bytes one group commit writes; whole appends and batches are never split."""
MAX_IN_FLIGHT = 4
"""Batches written but not yet synced; their fdatasyncs overlap (see ``_dispatch``)."""
SPLIT_ABOVE_SECONDS = 0.001
"""Queued appends are split over free writer threads only while syncs take longer than this."""


class GroupCommitLog(IndexedEventStore):
    """The segments of the log in ``directory``, the appends on their way into them, and the
    writer threads that write and sync them; the base of ``FileEventStore``."""

    def __init__(self, directory: Path, *, segment_bytes: int, limits: StoreLimits | None) -> None:
        super().__init__(limits=limits)
        self.directory = directory
        self.segment_bytes = segment_bytes
        self._segments: list[SegmentFile] = []
        self._loc_segment = array("l")
        self._loc_offset = array("q")
        self._loc_size = array("l")
        self._active_fd: int | None = None
        self._active_size = 0
        """Where the next write goes in the active segment (zero-filled space follows)."""
        self._space = Preallocator()
        self._next_position = 1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Queued] = []
        self._dispatch_scheduled = False
        self._failure: BaseException | None = None
        self._closing = False
        self._drained: asyncio.Future[None] | None = None
        # Pipelined group commit (see _dispatch): batches numbered in write order.
        self._jobs: SimpleQueue[tuple[int, list[Queued], int, float] | None] = SimpleQueue()
        """Batches for the writer threads, in dispatch order; ``None`` stops a thread."""
        self._writers: list[threading.Thread] = []
        self._in_flight: dict[int, list[Queued]] = {}
        self._written: dict[int, tuple[Encoded, int, int]] = {}
        """Batches written (their encoding, segment and offset), until acknowledged."""
        self._next_seq = 0
        self._acked_seq = -1
        self._turn = threading.Condition()
        self._write_turn = 0
        self._write_error: BaseException | None = None
        self._sync_fds: list[int] = []
        self._retired_fds: list[int] = []
        self._sync_seconds = 0.0
        """Moving average of fdatasync time, written by the writer threads."""

    def _reset(self) -> None:
        """Forget what an earlier open of this object indexed (a store can be reopened)."""
        self._space = Preallocator()
        self._index = EventIndex()
        self._loc_segment = array("l")
        self._loc_offset = array("q")
        self._loc_size = array("l")
        self._segments = []
        self._pending = []
        self._in_flight = {}
        self._written = {}
        self._next_seq = 0
        self._acked_seq = -1
        self._write_turn = 0

    # -- writing -------------------------------------------------------------------------

    async def append(self, stream: str, type: str, payload: Payload = b"") -> StoredEvent:
        """Append one event (a lean path: one future and one queue entry per append)."""
        loop = self._loop
        if self._closing or not self._is_open or self._failure is not None or loop is None:
            self._refuse()
        event = prepare_event(stream, type, payload, self.limits)
        future: asyncio.Future[StoredEvent] = loop.create_future()
        self._pending.append((event, future, 1, event.size))
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            loop.call_soon(self._dispatch)
        return await future

    async def _commit(self, events: list[PreparedEvent]) -> list[StoredEvent]:
        future: asyncio.Future[list[StoredEvent]] = self._running_loop().create_future()
        self._enqueue((events, future, len(events), sum(e.size for e in events)))
        return await future

    def _check_writable(self) -> None:
        if self._closing or not self._is_open or self._failure is not None:
            self._refuse()

    def _refuse(self) -> NoReturn:
        if self._closing:
            raise StoreClosedError("the event store is closing")
        self._check_open()
        raise StoreFailedError(
            f"event log {self.directory} failed to write ({self._failure}); reopen it"
        ) from self._failure

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        assert loop is not None
        return loop

    def _enqueue(self, queued: Queued) -> None:
        self._pending.append(queued)
        if not self._dispatch_scheduled:
            self._dispatch_scheduled = True
            self._running_loop().call_soon(self._dispatch)

    def _dispatch(self) -> None:
        """Loop thread: hand what is queued to the writer threads, up to MAX_IN_FLIGHT batches.

        Runs once per loop iteration in which appends were queued, and whenever a sync
        returns; so while syncs are in flight, appends accumulate into the next batch (group
        commit). Writes happen in order (one at a time, see ``_write_and_sync``); their
        fdatasyncs may overlap, which lets the kernel merge them into fewer device flushes.

        While syncs are slow (a busy disk: ms each), queued appends are spread over the free
        threads so several syncs overlap (measured here: twice the throughput at 4 ms per
        sync). While syncs are fast, everything queued goes in one batch, as each extra
        thread hop costs more CPU than it saves.
        """
        self._dispatch_scheduled = False
        pending = self._pending
        while pending and self._failure is None and self._is_open:
            free = MAX_IN_FLIGHT - len(self._in_flight)
            if free <= 0:
                break
            share = len(pending)
            if self._sync_seconds > SPLIT_ABOVE_SECONDS:
                share = -(-share // free)
            batch, count = self._take_batch(share)
            seq = self._next_seq
            self._next_seq += 1
            self._in_flight[seq] = batch
            position = self._next_position
            self._next_position += count
            self._jobs.put((seq, batch, position, self._timestamp()))
            if len(self._writers) < len(self._in_flight):
                self._start_writer()
        drained = self._drained
        if (
            drained is not None
            and not self._in_flight
            and (not pending or self._failure is not None)
            and not drained.done()
        ):
            drained.set_result(None)

    def _start_writer(self) -> None:
        """One more writer thread (at most one per batch in flight, so a batch never waits
        for a thread). A long-lived thread fed by a ``SimpleQueue`` costs the loop a fraction
        of an executor's ``submit`` (a ``concurrent.futures.Future`` and a lock per batch)."""
        thread = threading.Thread(
            target=self._run_writer, name=f"eventlog-writer-{len(self._writers)}", daemon=True
        )
        thread.start()
        self._writers.append(thread)

    def _run_writer(self) -> None:
        jobs = self._jobs
        while (job := jobs.get()) is not None:
            self._write_and_sync(*job)

    def _take_batch(self, max_items: int) -> tuple[list[Queued], int]:
        """The oldest queued appends, at most ``max_items`` and MAX_WRITE_BYTES; their events."""
        pending = self._pending
        total = count = taken = 0
        for _, _, events, size in pending:
            if taken and (taken >= max_items or total + size > MAX_WRITE_BYTES):
                break
            total += size
            count += events
            taken += 1
        batch = pending[:taken]
        del pending[:taken]
        return batch, count

    def _write_and_sync(
        self, seq: int, batch: list[Queued], position: int, timestamp: float
    ) -> None:
        """Writer thread: encode batch ``seq``, write it after every earlier one, fdatasync it,
        and tell the loop (one callback per batch)."""
        error: BaseException | None = None
        try:
            encoded: Encoded | None = encode_batch(batch, position, timestamp)
        except BaseException as exc:  # checked events encode; this is for MemoryError and bugs
            encoded, error = None, exc
        try:
            with self._turn:
                while self._write_turn != seq:
                    self._turn.wait()
                try:
                    sync_fd = self._write(seq, position, encoded, error)
                finally:
                    self._write_turn += 1
                    self._turn.notify_all()
            started = time.perf_counter()
            try:
                os.fdatasync(sync_fd)
            except BaseException as exc:
                self._write_error = exc
                raise
            self._sync_seconds += (time.perf_counter() - started - self._sync_seconds) * 0.2
        except BaseException as exc:
            error = exc
        # RuntimeError: the loop was closed with the store open, so nobody is waiting.
        with suppress(RuntimeError):
            self._running_loop().call_soon_threadsafe(self._synced, seq, error)

    def _write(
        self, seq: int, position: int, encoded: Encoded | None, error: BaseException | None
    ) -> int:
        """Writer thread, holding the turn: write batch ``seq``; return the fd to sync it with."""
        try:
            if error is not None:
                raise error
            if self._write_error is not None:
                raise StoreFailedError(f"an earlier write failed: {self._write_error}")
            assert encoded is not None
            if self._active_fd is None or self._active_size >= self.segment_bytes:
                self._rotate(position)
            fd = self._active_fd
            assert fd is not None
            data = encoded.data
            view = memoryview(data)
            offset = self._active_size
            end = offset + len(data)
            self._space.before_write(end)
            written = 0
            while written < len(data):
                written += os.pwrite(fd, view[written:], offset + written)
            self._space.after_write(end)
            self._written[seq] = (encoded, len(self._segments) - 1, offset)
            self._active_size = end
            return self._sync_fds[seq % MAX_IN_FLIGHT]
        except BaseException as exc:
            self._write_error = exc
            raise

    def _synced(self, seq: int, error: BaseException | None) -> None:
        """Loop thread: batch ``seq`` is durable (or failed); acknowledge up to it, in order.

        When a sync returns, that batch and every batch written before it are durable (same
        file, or an older segment synced at rotation), so they are acknowledged right away.
        """
        if error is not None and self._failure is None:
            self._fail(error)
        if self._failure is not None:
            self._in_flight.pop(seq, None)
            self._written.pop(seq, None)
        else:
            for done in range(self._acked_seq + 1, seq + 1):
                self._acknowledge(self._in_flight.pop(done), *self._written.pop(done))
            self._acked_seq = max(self._acked_seq, seq)
        self._dispatch()

    def _acknowledge(
        self, batch: list[Queued], encoded: Encoded, segment: int, offset: int
    ) -> None:
        sizes = encoded.sizes
        self._index.add_run(encoded.events)
        self._loc_segment.extend(array("l", (segment,)) * len(sizes))
        self._loc_offset.extend(accumulate(sizes[:-1], initial=offset))
        self._loc_size.extend(sizes)
        for (_, future, _, _), result in zip(batch, encoded.results, strict=True):
            if not future.done():
                future.set_result(result)

    def _fail(self, exc: BaseException) -> None:
        self._failure = exc
        error = StoreFailedError(f"event log {self.directory}: write failed: {exc}")
        error.__cause__ = exc
        waiting = [queued for batch in self._in_flight.values() for queued in batch]
        for _, future, _, _ in [*waiting, *self._pending]:
            if not future.done():
                future.set_exception(error)
        self._pending.clear()

    def _rotate(self, base_position: int) -> None:
        """Writer thread, holding the turn: sync the old segment, then start a new one.

        Syncing first keeps "a batch is durable once its own fdatasync returns" true for
        every batch written before it, across segments. The old descriptor stays open until
        close, as syncs of earlier batches may still be running on it.
        """
        if self._active_fd is not None:
            os.fdatasync(self._active_fd)
        size = min(self.segment_bytes, PREALLOCATE_BYTES)
        path = create_segment(self.directory, base_position, size)
        self._segments.append(SegmentFile(path))
        self._activate(path, SEGMENT_HEADER_SIZE)

    def _activate(self, path: Path, end: int) -> None:
        """Make ``path`` the segment appends go to, from offset ``end`` on.

        Each in-flight sync gets its own open file description: the kernel reports a
        writeback error once per description, so with a shared descriptor one sync could
        consume the error another one needed to see (the "fsyncgate" problem).
        """
        self._retired_fds += [fd for fd in (self._active_fd, *self._sync_fds) if fd is not None]
        self._active_fd = os.open(path, os.O_WRONLY)
        self._sync_fds = [os.open(path, os.O_RDONLY) for _ in range(MAX_IN_FLIGHT)]
        self._active_size = end
        self._space.switch(path, self.segment_bytes)
