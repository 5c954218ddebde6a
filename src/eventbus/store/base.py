"""What every backend shares: checks, the index, queries, replay and snapshot bookkeeping.

A backend supplies three things: how prepared events become durable (``_commit``), how rows
of the index become events (``_read_rows``), and how a snapshot is kept (``_keep_snapshot``).
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Sequence

from .errors import SnapshotError, StoreClosedError, StoreError
from .index import EventIndex
from .interface import (
    EventStore,
    NewEvent,
    Page,
    Payload,
    RecoveryReport,
    Snapshot,
    StoredEvent,
    StoreLimits,
)
from .prepare import PreparedEvent, prepare_batch, prepare_event

REPLAY_CHUNK = 4096
"""Events read per step of a replay: large enough to amortise a thread hop, small in memory."""


class IndexedEventStore(EventStore):
    def __init__(self, *, limits: StoreLimits | None = None) -> None:
        self.limits = limits or StoreLimits()
        self._index = EventIndex()
        self._snapshots: dict[str, Snapshot] = {}
        self._report = RecoveryReport()
        self._is_open = False
        self._last_timestamp = 0.0

    # -- backend hooks -------------------------------------------------------------------

    @abc.abstractmethod
    async def _commit(self, events: list[PreparedEvent]) -> list[StoredEvent]:
        """Make the events durable and indexed; called with at least one event."""

    @abc.abstractmethod
    async def _read_rows(self, start: int, stop: int, rows: list[int] | None) -> list[StoredEvent]:
        """Events of index rows ``rows`` (or of ``range(start, stop)`` when ``rows`` is None)."""

    @abc.abstractmethod
    async def _keep_snapshot(self, snapshot: Snapshot) -> None:
        """Persist a snapshot before it becomes visible."""

    # -- shared behaviour ----------------------------------------------------------------

    @property
    def last_position(self) -> int:
        return self._index.last_position

    @property
    def recovery(self) -> RecoveryReport:
        return self._report

    @property
    def is_open(self) -> bool:
        return self._is_open

    def _check_open(self) -> None:
        if not self._is_open:
            raise StoreClosedError("the event store is not open; call open() or use async with")

    def _check_writable(self) -> None:
        """Raise unless appends are accepted now; backends add states of their own."""
        self._check_open()

    def _timestamp(self) -> float:
        """The store's clock, never going backwards, so time order follows position order."""
        now = time.time()
        if now < self._last_timestamp:
            now = self._last_timestamp
        self._last_timestamp = now
        return now

    async def append(self, stream: str, type: str, payload: Payload = b"") -> StoredEvent:
        self._check_writable()
        (event,) = await self._commit([prepare_event(stream, type, payload, self.limits)])
        return event

    async def append_batch(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        self._check_writable()
        prepared = prepare_batch(events, self.limits)
        if not prepared:
            return []
        return await self._commit(prepared)

    async def get(self, position: int) -> StoredEvent | None:
        self._check_open()
        row = self._index.row_of(position)
        if row is None:
            return None
        (event,) = await self._read_rows(row, row + 1, None)
        return event

    async def query(
        self,
        *,
        stream: str | None = None,
        type: str | None = None,
        since: float | None = None,
        until: float | None = None,
        after: int = 0,
        limit: int = 100,
    ) -> Page:
        self._check_open()
        rows, more = self._index.select(
            stream=stream, type=type, since=since, until=until, after=after, limit=limit
        )
        if not rows:
            return Page([], None)
        contiguous = rows[-1] - rows[0] == len(rows) - 1
        events = await self._read_rows(rows[0], rows[-1] + 1, None if contiguous else rows)
        return Page(events, events[-1].position if more else None)

    async def replay(self, after: int = 0) -> AsyncIterator[StoredEvent]:
        self._check_open()
        row = self._index.first_row_after(after)
        while True:
            self._check_open()
            stop = min(len(self._index), row + REPLAY_CHUNK)
            if row >= stop:
                return
            for event in await self._read_rows(row, stop, None):
                yield event
            row = stop

    async def save_snapshot(
        self, stream: str, position: int, state: bytes | bytearray | memoryview
    ) -> Snapshot:
        self._check_open()
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise SnapshotError(f"snapshot state must be bytes, not {type(state).__name__}")
        if not self._index.has_stream(stream):
            raise SnapshotError(f"cannot snapshot stream {stream!r}: it has no events")
        if not 0 < position <= self.last_position:
            raise SnapshotError(
                f"snapshot position {position} of stream {stream!r} is outside the log "
                f"(1..{self.last_position})"
            )
        snapshot = Snapshot(stream, position, bytes(state))
        await self._keep_snapshot(snapshot)
        self._snapshots[stream] = snapshot
        return snapshot

    async def load_snapshot(self, stream: str) -> Snapshot | None:
        self._check_open()
        return self._snapshots.get(stream)

    def _assert_not_open(self) -> None:
        if self._is_open:
            raise StoreError("the event store is already open")
