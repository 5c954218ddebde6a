"""The JSONL file handler: every trace as one JSON line, written in batches off the event loop.

It is a bus observer (`bus.observe(handler)`), called synchronously for every trace, so its
call does as little as it can: a count and a deque append; the call that fills a batch also
encodes it (one msgspec call), while its traces are still in the CPU's cache. Encoded batches
wait for a worker thread, which writes all that wait in one hand-off (eventbus.jsonl_file);
a background task writes partial batches every `flush_interval` and takes up what piled up
while the writer was busy. Write failures (full disk, unwritable path) are counted in
`stats` and logged; they never reach the bus. What a full buffer does is the handler's
`overflow` policy (see TraceOverflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import time
from collections import deque
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import msgspec

from eventbus.encoding import to_json
from eventbus.errors import EncodingError
from eventbus.jsonl_file import MAX_CHUNKS, RotatingFile
from eventbus.observability import HandlerStats, TraceFilter
from eventbus.trace import Trace

_line_encoder = msgspec.json.Encoder()
_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, msgspec.EncodeError)


def encode_trace(trace: Trace) -> bytes:
    """One JSON object, no newline: the trace with its message embedded (tagged with its type).

    A message that cannot be encoded is written as its type and id plus the encoding error,
    so the line stays valid JSON and the failure is visible where it happened."""
    try:
        return _line_encoder.encode(trace)
    except _ENCODE_ERRORS:
        pass
    message = trace.message
    try:
        to_json(message)
    except EncodingError as exc:
        problem = str(exc)
    else:  # pragma: no cover - the trace fails only through its message
        problem = "cannot encode trace"
    return _line_encoder.encode(
        {
            "kind": trace.kind,
            "at": trace.at,
            "message": {"type": type(message).__name__, "id": message.id},
            "handler": trace.handler,
            "error": f"{trace.error}; {problem}" if trace.error else problem,
            "latency_s": trace.latency_s,
        }
    )


def encode_traces(traces: Iterable[Trace]) -> bytes:
    """Newline-delimited JSON for a batch: one encoder call, or line by line if one is bad."""
    try:
        return _line_encoder.encode_lines(traces)
    except _ENCODE_ERRORS:
        return b"".join(encode_trace(trace) + b"\n" for trace in traces)


class TraceOverflow(str, enum.Enum):
    """What a JSONL handler does with a trace when `max_buffer` traces already wait.

    - DROP_OLDEST: the oldest buffered trace is discarded to make room (counted in
      `dropped_oldest`). The default: the log keeps the most recent history.
    - DROP_NEWEST: the incoming trace is discarded (counted in `dropped_newest`).
    - BLOCK: the trace waits beside the buffer and the bus's publish() waits for the writer
      to make room (the handler paces the bus, see `room()`), at most `block_timeout` seconds
      per trace; a trace still waiting then is discarded (counted in `dropped_deadline`).
    """

    DROP_OLDEST = "drop-oldest"
    DROP_NEWEST = "drop-newest"
    BLOCK = "block"


class JsonlFileHandler:
    """Appends one JSON object per line to `path`, in batches, off the event loop.

    Use as `async with JsonlFileHandler(path) as log: bus.observe(log)`. Traces are buffered
    and encoded `batch_size` at a time (the rest every `flush_interval` seconds); the write
    runs in a thread. The file rotates when it would pass `max_bytes` (path.1 ... path.N, N =
    `backups`). At most `max_buffer` encoded traces wait for the writer; then the buffer fills,
    and at most `max_buffer` traces wait in it; beyond that `overflow` decides:
    drop the oldest (default), drop the newest, or `block`: slow the bus's publishers down,
    each waiting trace for at most `block_timeout` seconds before it is dropped. Every outcome
    is counted in `stats` (`written + lost == traced` once closed).
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
        if max_bytes < 1 or backups < 0 or batch_size < 1 or max_buffer < batch_size:
            raise ValueError(
                "need max_bytes >= 1, backups >= 0, batch_size >= 1, max_buffer >= batch_size"
            )
        if block_timeout <= 0:
            raise ValueError(f"block_timeout must be positive, got {block_timeout}")
        self.overflow = TraceOverflow(overflow)
        self.block_timeout = block_timeout
        # The bus awaits room() in publish() only for observers that say they pace it, and
        # only while they are `behind` (a trace waits beside the buffer).
        self.paces_publishers = self.overflow is TraceOverflow.BLOCK
        self.behind = False
        self.path = Path(path)
        self.filter = filter
        self.max_bytes = max_bytes
        self.backups = backups
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        # DROP_OLDEST: the deque's own bound discards the oldest trace, in C, on append; the
        # discards are counted from the other counters (see _dropped_oldest). Otherwise the
        # call checks the bound itself.
        self._bounded = self.overflow is TraceOverflow.DROP_OLDEST
        self._buffer: deque[Trace] = deque(maxlen=max_buffer if self._bounded else None)
        # BLOCK only: traces past max_buffer, each with its deadline (monotonic, so in order).
        self._pending: deque[tuple[float, Trace]] = deque()
        self._room: asyncio.Event | None = None  # set while nothing is pending
        # Counters. Changed on the loop thread only: traced, taken (moved from the buffer into
        # batches), the drops. Changed in the writer thread only (one at a time, the thread
        # lock): the file's written, lost, errors, rotations. So no counter needs a lock;
        # `stats` assembles them.
        self._traced = 0
        self._taken = 0
        self._dropped_newest = 0
        self._dropped_deadline = 0
        self._last_error: str | None = None
        self._file = RotatingFile(self.path, max_bytes, backups, self._set_last_error)
        # Serialises the writer threads even if a flush is cancelled while its write runs.
        self._thread_lock = self._file.lock
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        # Encoded batches (data, trace count) waiting for the writer, and the write in flight.
        self._encoded: list[tuple[bytes, int]] = []
        self._backlog = 0  # traces encoded and not yet written (waiting or in flight)
        self._writing: asyncio.Future[None] | None = None
        self._writing_count = 0
        self._encode_lock = asyncio.Lock()
        self._catching_up = False  # the flusher is encoding older traces (see _encode)
        self._stopping = False

    def __call__(self, trace: Trace) -> None:
        if self.filter is not None and not self.filter(trace):
            return
        # The hot path: a count, an append and a length check.
        self._traced += 1
        buffer = self._buffer
        if not self._bounded and (len(buffer) >= self.max_buffer or self._pending):
            if self.paces_publishers:
                self._overflowed(trace)
            else:  # DROP_NEWEST; its last_error is set in `stats`, not per trace
                self._dropped_newest += 1
            return
        buffer.append(trace)
        if len(buffer) == self.batch_size and self._wake is not None:
            self._encode_batch()  # once per batch, while the flusher runs

    @property
    def stats(self) -> HandlerStats:
        """A snapshot of what the handler did so far (`written + lost == traced` once closed)."""
        dropped_oldest = self._dropped_oldest()
        dropped = dropped_oldest + self._dropped_newest + self._dropped_deadline
        last_error = self._last_error
        if last_error is None and dropped_oldest:
            last_error = "writer behind: oldest buffered traces discarded"
        if last_error is None and self._dropped_newest:
            last_error = "writer behind: newest trace discarded"
        file = self._file
        return HandlerStats(
            traced=self._traced,
            written=file.written,
            lost=file.lost + dropped,
            errors=file.errors,
            rotations=file.rotations,
            dropped_oldest=dropped_oldest,
            dropped_newest=self._dropped_newest,
            dropped_deadline=self._dropped_deadline,
            last_error=last_error,
        )

    def _dropped_oldest(self) -> int:
        """Under DROP_OLDEST every accepted trace entered the buffer: what is neither there
        nor taken out by the flusher was discarded by the deque's bound."""
        if not self._bounded:
            return 0
        return self._traced - self._taken - len(self._buffer)

    def _set_last_error(self, message: str) -> None:
        self._last_error = message

    def _overflowed(self, trace: Trace) -> None:
        """The buffer is full under BLOCK: `trace` waits beside it, publishers wait for room."""
        now = time.monotonic()
        self._expire_pending(now)
        self._pending.append((now + self.block_timeout, trace))
        self.behind = True
        if self._room is not None:
            self._room.clear()

    def _caught_up(self) -> None:
        """Nothing waits beside the buffer any more: publishers go on."""
        self.behind = False
        if self._room is not None:
            self._room.set()

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
        if not pending:
            self._caught_up()

    def _admit_pending(self, everything: bool = False) -> None:
        """Move waiting traces into the buffer as it has room (all of them when closing)."""
        pending, buffer = self._pending, self._buffer
        if not pending:
            return
        if not everything:
            self._expire_pending(time.monotonic())
        while pending and (everything or len(buffer) < self.max_buffer):
            buffer.append(pending.popleft()[1])
        if not pending:
            self._caught_up()

    async def room(self) -> None:
        """Wait until no trace waits beside the buffer, at most `block_timeout` seconds.

        The bus awaits this in publish() when `paces_publishers` is true (overflow=BLOCK), so
        publishing slows to the writer's pace instead of dropping traces."""
        if not self._pending:
            return
        if self._room is None:
            self._room = asyncio.Event()
        if self._wake is not None:
            self._wake.set()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._room.wait(), self.block_timeout)
        self._expire_pending(time.monotonic())

    async def start(self) -> None:
        """Start the background flusher."""
        if self._task is None:
            self._wake = asyncio.Event()
            self._task = asyncio.get_running_loop().create_task(
                self._flush_loop(), name=f"jsonl:{self.path}"
            )

    async def flush(self) -> None:
        """Write everything buffered so far (errors are recorded in `stats`, never raised)."""
        async with self._encode_lock:
            self._admit_pending(everything=self._stopping)
            while self._buffer or self._encoded or self._writing is not None:
                await self._encode(everything=True)
                if self._writing is not None:
                    await asyncio.wait((self._writing,))  # never cancels the write itself
                    self._collect_write()
                else:
                    self._start_write()

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

    async def _flush_loop(self) -> None:
        """Encode what the observer call left (partial batches every flush_interval, what
        piled up while the writer was behind), collect finished writes, start the next."""
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            timed_out = not self._wake.is_set()
            self._wake.clear()
            async with self._encode_lock:
                if self._pending:  # their deadlines run even while the writer is stuck
                    self._admit_pending()
                await self._encode(everything=timed_out)
                if self._writing is not None and self._writing.done():
                    self._collect_write()
                if self._writing is None:
                    self._start_write()

    def _encode_batch(self) -> None:
        """The buffer just reached batch_size: encode it now, in the observer call.

        Its traces are still in the CPU's cache, and they (and their messages) are freed at
        once; encoding them later, after thousands of others, cost several times as much.
        While max_buffer encoded traces wait for the writer, the buffer fills instead and its
        overflow policy applies; the flusher takes it up when the writer is done."""
        if self._backlog >= self.max_buffer or self._catching_up:
            return  # (while the flusher encodes older traces, these wait: lines stay in order)
        batch = self._buffer
        self._buffer = deque(maxlen=batch.maxlen)
        self._taken += len(batch)
        self._admit_pending(everything=self._stopping)
        self._encoded.append((encode_traces(batch), len(batch)))
        self._backlog += len(batch)
        if self._writing is None:
            self._start_write()

    async def _encode(self, everything: bool) -> None:
        """Encode what the buffer holds (full batches only, unless `everything`) while fewer
        than max_buffer encoded traces wait for the writer: the buffer is taken whole (a new
        deque replaces it) and encoded batch_size at a time, the loop running in between."""
        self._catching_up = True
        try:
            await self._encode_waiting(everything)
        finally:
            self._catching_up = False

    async def _encode_waiting(self, everything: bool) -> None:
        size = self.batch_size
        while (
            self._buffer
            and self._backlog < self.max_buffer
            and (everything or len(self._buffer) >= size)
        ):
            taken = self._buffer
            self._buffer = deque(maxlen=taken.maxlen)
            self._taken += len(taken)
            self._admit_pending(everything=self._stopping)
            while taken:
                batch: Iterable[Trace] = taken
                count = len(taken)
                if count > size:
                    batch, count = [taken.popleft() for _ in range(size)], size
                else:
                    taken = deque()
                self._encoded.append((encode_traces(batch), count))
                self._backlog += count
                if taken:
                    await asyncio.sleep(0)  # encoding holds the loop: let the bus run between

    def _start_write(self) -> None:
        """Hand the encoded batches (up to MAX_CHUNKS) to one write in the worker thread.

        One hand-off per batch capped the writer at about 100k traces/s: each costs a few GIL
        round trips, up to the 5 ms switch interval each while the loop is busy."""
        if not self._encoded:
            return
        chunks = self._encoded[:MAX_CHUNKS]
        del self._encoded[:MAX_CHUNKS]
        loop = asyncio.get_running_loop()
        self._writing = loop.run_in_executor(None, self._file.write, chunks)
        if self._wake is not None:
            self._writing.add_done_callback(lambda _: self._wake_flusher())
        self._writing_count = sum(count for _, count in chunks)

    def _collect_write(self) -> None:
        assert self._writing is not None
        writing, self._writing = self._writing, None
        self._backlog -= self._writing_count
        self._writing_count = 0
        writing.result()  # a bug in the writer surfaces here; OSError is counted in _write

    def _wake_flusher(self) -> None:
        if self._wake is not None:
            self._wake.set()
