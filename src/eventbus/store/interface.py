"""The event store's contract: value types and the abstract store every backend implements.

Backends (``FileEventStore`` in ``log.py``, ``InMemoryEventStore`` in ``memory.py``) pass one
contract test suite, so code written against ``EventStore`` works with either.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

import msgspec

Payload = bytes | bytearray | memoryview | dict[str, Any]
"""What an event carries: raw bytes, or a dict that msgspec can encode (stored as MessagePack)."""

_Store = TypeVar("_Store", bound="EventStore")


class NewEvent(msgspec.Struct, frozen=True):
    """An event to append; the store assigns its position and timestamp."""

    stream: str
    type: str
    payload: Payload = b""


class StoredEvent(msgspec.Struct, frozen=True, gc=False):
    """An acknowledged (durable) event as read back from the store.

    ``position`` is global, starts at 1 and grows by one per event. ``timestamp`` is the
    store's clock (seconds since the epoch) when the event was appended; it never decreases
    with position, which is what makes time-range queries a binary search.
    ``payload`` is the stored bytes; ``encoded`` says whether they are MessagePack made from a
    dict (then ``data()`` decodes them).
    """

    position: int
    stream: str
    type: str
    timestamp: float
    payload: bytes
    encoded: bool = False

    def data(self) -> bytes | dict[str, Any]:
        """The payload as appended: the bytes, or the decoded dict."""
        if self.encoded:
            decoded: dict[str, Any] = msgspec.msgpack.decode(self.payload)
            return decoded
        return self.payload


class Page(msgspec.Struct, frozen=True):
    """One page of a query; pass ``next_after`` as ``after`` to get the next page."""

    events: list[StoredEvent]
    next_after: int | None
    """Position of the last event on this page when more may follow, else ``None``."""


class Snapshot(msgspec.Struct, frozen=True):
    """The state of one stream as of ``position`` (events after it are not folded in)."""

    stream: str
    position: int
    state: bytes


@dataclass(frozen=True, kw_only=True)
class StoreLimits:
    """Size limits, checked before anything of an append or batch is written."""

    max_event_bytes: int = 1 << 20
    """Largest encoded payload of one event (1 MiB)."""
    max_batch_events: int = 1000
    max_batch_bytes: int = 8 << 20
    """Largest sum of encoded payloads in one batch (8 MiB)."""
    max_name_bytes: int = 1024
    """Longest stream or type name, UTF-8 encoded."""


@dataclass(frozen=True)
class Corruption:
    """A region of a segment that failed its checks and was skipped (or raised, in strict mode)."""

    segment: str
    offset: int
    length: int
    reason: str

    def __str__(self) -> str:
        return f"{self.segment} @ {self.offset} ({self.length} bytes): {self.reason}"


@dataclass(frozen=True, kw_only=True)
class RecoveryReport:
    """What opening the store found and did; nothing is dropped without showing up here."""

    segments: int = 0
    records: int = 0
    last_position: int = 0
    torn_tail_bytes: int = 0
    """Bytes cut from the end of the last segment: a write that never completed (never acked)."""
    torn_records: int = 0
    """Complete records cut with the torn tail: the start of a batch whose end never made it."""
    corruptions: tuple[Corruption, ...] = ()
    skipped_records: int = 0
    """Positions known to be missing (gaps in the numbering) because of corruption."""
    snapshots_skipped: tuple[str, ...] = ()
    """Snapshot files that failed their checks (they are ignored; snapshots can be rebuilt)."""
    tail_verified: bool = True
    """Whether the log's end was checked against the record of a clean close (or there was no
    log yet). False after a crash: a torn tail was cut as usual, but records lost at the very
    end (a last segment shortened, zero-filled or deleted) cannot be told from a shorter log."""

    @property
    def skipped_bytes(self) -> int:
        return sum(c.length for c in self.corruptions)

    @property
    def clean(self) -> bool:
        """True when nothing but a torn tail (an unacknowledged write) was found."""
        return not self.corruptions and not self.skipped_records and not self.snapshots_skipped

    def summary(self) -> str:
        text = (
            f"{self.records} records in {self.segments} segments, last position "
            f"{self.last_position}"
        )
        if self.torn_tail_bytes:
            text += f"; torn tail cut: {self.torn_tail_bytes} bytes ({self.torn_records} records)"
        if self.corruptions:
            text += (
                f"; CORRUPTION: {len(self.corruptions)} regions, {self.skipped_bytes} bytes, "
                f"{self.skipped_records} positions missing"
            )
        if self.snapshots_skipped:
            text += f"; {len(self.snapshots_skipped)} corrupt snapshots ignored"
        if not self.tail_verified:
            text += "; no clean close: the tail could not be verified"
        return text


class EventStore(abc.ABC):
    """An append-only store of events with stream/type/time queries, replay and snapshots.

    Use as ``async with Backend(...) as store:`` or ``await store.open()`` / ``await
    store.close()``. ``append`` and ``append_batch`` return once the events are durable (for
    backends that persist) and the returned positions are readable.
    """

    @abc.abstractmethod
    async def open(self) -> RecoveryReport:
        """Open (and for persistent backends, recover) the store."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Finish pending appends and release resources; calling it twice is harmless."""

    @abc.abstractmethod
    async def append(self, stream: str, type: str, payload: Payload = b"") -> StoredEvent:
        """Append one event; returns it with its position once durable."""

    @abc.abstractmethod
    async def append_batch(self, events: Sequence[NewEvent]) -> list[StoredEvent]:
        """Append events atomically: all are checked first, all or none become visible."""

    @abc.abstractmethod
    async def get(self, position: int) -> StoredEvent | None:
        """The event at ``position``, or ``None`` if there is none."""

    @abc.abstractmethod
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
        """Events matching every given filter, by position; ``since`` <= timestamp < ``until``."""

    @abc.abstractmethod
    def replay(self, after: int = 0) -> AsyncIterator[StoredEvent]:
        """Every event with position > ``after``, in order, as an async iterator."""

    @abc.abstractmethod
    async def save_snapshot(
        self, stream: str, position: int, state: bytes | bytearray | memoryview
    ) -> Snapshot:
        """Keep ``state`` as the stream's state at ``position`` (replacing older snapshots)."""

    @abc.abstractmethod
    async def load_snapshot(self, stream: str) -> Snapshot | None:
        """The stream's latest snapshot, or ``None``."""

    @property
    @abc.abstractmethod
    def last_position(self) -> int:
        """Position of the newest acknowledged event (0 when empty)."""

    @property
    @abc.abstractmethod
    def recovery(self) -> RecoveryReport:
        """What ``open`` found."""

    async def __aenter__(self: _Store) -> _Store:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
