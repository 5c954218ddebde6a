"""An in-memory event store: same contract as the file log, no durability (tests, caches)."""

from __future__ import annotations

from .base import IndexedEventStore
from .interface import RecoveryReport, Snapshot, StoredEvent, StoreLimits
from .prepare import PreparedEvent

__all__ = ["InMemoryEventStore"]


class InMemoryEventStore(IndexedEventStore):
    def __init__(self, *, limits: StoreLimits | None = None) -> None:
        super().__init__(limits=limits)
        self._events: list[StoredEvent] = []

    async def open(self) -> RecoveryReport:
        self._assert_not_open()
        self._is_open = True
        return self._report

    async def close(self) -> None:
        self._is_open = False

    async def _commit(self, events: list[PreparedEvent]) -> list[StoredEvent]:
        position = self.last_position
        stored = []
        for event in events:
            position += 1
            stored.append(
                StoredEvent(
                    position,
                    event.stream,
                    event.type,
                    self._timestamp(),
                    event.payload,
                    event.encoded,
                )
            )
        for new in stored:
            self._index.add(new.position, new.timestamp, new.stream, new.type)
            self._events.append(new)
        return stored

    async def _read_rows(self, start: int, stop: int, rows: list[int] | None) -> list[StoredEvent]:
        if rows is None:
            return self._events[start:stop]
        events = self._events
        return [events[row] for row in rows]

    async def _keep_snapshot(self, snapshot: Snapshot) -> None:
        return None
