"""The JSONL file handler: every trace as one JSON line, written in batches off the event loop.

It is a bus observer (`bus.observe(handler)`), called synchronously for every trace, so its
call does as little as it can: a count and a deque append. A background task takes batches,
encodes each with one msgspec call and writes it in a worker thread. Write failures (full
disk, unwritable path) are counted in `stats` and logged; they never reach the bus. What a
full buffer does is the handler's `overflow` policy (see TraceOverflow).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import stat
import threading
import time
from collections import deque
from pathlib import Path
from types import TracebackType

import msgspec

from eventbus.encoding import to_json
from eventbus.errors import EncodingError
from eventbus.observability import HandlerStats, TraceFilter
from eventbus.trace import Trace

# The logger keeps its historical name: users configure logging by it.
log = logging.getLogger("eventbus.observability")

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


def encode_traces(traces: list[Trace]) -> bytes:
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
    and flushed every `flush_interval` seconds or when `batch_size` are waiting; the write runs
    in a thread. The file rotates when it would pass `max_bytes` (path.1 ... path.N, N =
    `backups`). At most `max_buffer` traces wait in the buffer; beyond that `overflow` decides:
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
        batch_size: int = 1000,
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
        # The bus awaits room() in publish() only for observers that say they pace it.
        self.paces_publishers = self.overflow is TraceOverflow.BLOCK
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
        # lock): written, write_lost, errors, rotations. So no counter needs a lock; `stats`
        # assembles them.
        self._traced = 0
        self._taken = 0
        self._dropped_newest = 0
        self._dropped_deadline = 0
        self._written = 0
        self._write_lost = 0
        self._errors = 0
        self._rotations = 0
        self._last_error: str | None = None
        self._fd: int | None = None
        self._size = 0
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._write_lock = asyncio.Lock()
        # Serialises the writer threads even if a flush is cancelled while its write runs.
        self._thread_lock = threading.Lock()
        self._failing = False
        self._stopping = False

    def __call__(self, trace: Trace) -> None:
        if self.filter is not None and not self.filter(trace):
            return
        # The hot path: a count, an append and a length check.
        self._traced += 1
        buffer = self._buffer
        if not self._bounded and (len(buffer) >= self.max_buffer or self._pending):
            self._overflowed(trace)
            return
        buffer.append(trace)
        if len(buffer) == self.batch_size and self._wake is not None:
            self._wake.set()  # once per batch; the flusher drains the whole buffer

    @property
    def stats(self) -> HandlerStats:
        """A snapshot of what the handler did so far (`written + lost == traced` once closed)."""
        dropped_oldest = self._dropped_oldest()
        dropped = dropped_oldest + self._dropped_newest + self._dropped_deadline
        last_error = self._last_error
        if last_error is None and dropped_oldest:
            last_error = "writer behind: oldest buffered traces discarded"
        return HandlerStats(
            traced=self._traced,
            written=self._written,
            lost=self._write_lost + dropped,
            errors=self._errors,
            rotations=self._rotations,
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

    def _overflowed(self, trace: Trace) -> None:
        """The buffer is full (DROP_NEWEST or BLOCK): apply the policy to `trace`."""
        if self.overflow is TraceOverflow.DROP_NEWEST:
            self._dropped_newest += 1
            self._last_error = "writer behind: newest trace discarded"
        else:
            now = time.monotonic()
            self._expire_pending(now)
            self._pending.append((now + self.block_timeout, trace))
            if self._room is not None:
                self._room.clear()

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
        if not pending and self._room is not None:
            self._room.set()

    def _admit_pending(self, everything: bool = False) -> None:
        """Move waiting traces into the buffer as it has room (all of them when closing)."""
        pending, buffer = self._pending, self._buffer
        if not pending:
            return
        if not everything:
            self._expire_pending(time.monotonic())
        while pending and (everything or len(buffer) < self.max_buffer):
            buffer.append(pending.popleft()[1])
        if not pending and self._room is not None:
            self._room.set()

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
        async with self._write_lock:
            buffer = self._buffer
            self._admit_pending(everything=self._stopping)
            while buffer:
                popleft = buffer.popleft
                batch = [popleft() for _ in range(min(self.batch_size, len(buffer)))]
                self._taken += len(batch)
                self._admit_pending(everything=self._stopping)
                data = encode_traces(batch)
                await asyncio.get_running_loop().run_in_executor(
                    None, self._write, data, len(batch)
                )

    async def aclose(self) -> None:
        """Stop the flusher, write what is left (waiting traces too) and close the file."""
        self._stopping = True
        if self._task is not None:
            assert self._wake is not None
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

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
        assert self._wake is not None
        while not self._stopping:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.flush_interval)
            self._wake.clear()
            await self.flush()

    # The methods below run in a worker thread, one batch at a time (the thread lock).

    def _write(self, data: bytes, count: int) -> None:
        with self._thread_lock:
            self._write_locked(data, count)

    def _write_locked(self, data: bytes, count: int) -> None:
        try:
            fd = self._open()
            if self._size and self._size + len(data) > self.max_bytes and _is_regular(fd):
                self._rotate()
                fd = self._open()
            start = self._size
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except OSError:
                if _is_regular(fd):  # cut a partial batch: every line stays valid JSON
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, start)
                raise
            self._size = start + len(data)
        except OSError as exc:
            self._fail(exc, count)
        else:
            self._written += count
            self._failing = False

    def _open(self) -> int:
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._size = os.fstat(self._fd).st_size
        return self._fd

    def _rotate(self) -> None:
        """path -> path.1 -> ... -> path.N; the oldest falls off (no backups: truncate)."""
        assert self._fd is not None
        os.close(self._fd)
        self._fd = None
        if self.backups == 0:
            self.path.unlink()
        else:
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self._rotations += 1

    def _fail(self, exc: OSError, count: int) -> None:
        reason = exc.strerror or str(exc)
        self._errors += 1
        self._write_lost += count
        self._last_error = f"cannot write {self.path}: {reason} ({count} traces lost)"
        if self._fd is not None:  # reopen next time: the path may have been fixed
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if not self._failing:  # log once per failure streak; count every time
            self._failing = True
            log.error("%s", self._last_error)


def _is_regular(fd: int) -> bool:
    """Only regular files are rotated or truncated, never devices (/dev/full) or pipes."""
    return stat.S_ISREG(os.fstat(fd).st_mode)
