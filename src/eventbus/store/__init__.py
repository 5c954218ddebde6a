"""The durable event store: an append-only, segmented, CRC-framed log with group commit.

``FileEventStore`` persists; ``InMemoryEventStore`` keeps everything in memory. Both follow
``EventStore`` (see ``interface.py``) and pass the same contract tests.
"""

from .errors import (
    BatchTooLargeError,
    CorruptionError,
    EventTooLargeError,
    InvalidEventError,
    InvalidQueryError,
    SnapshotError,
    StoreClosedError,
    StoreError,
    StoreFailedError,
)
from .interface import (
    Corruption,
    EventStore,
    NewEvent,
    Page,
    Payload,
    RecoveryReport,
    Snapshot,
    StoredEvent,
    StoreLimits,
)
from .log import FileEventStore
from .memory import InMemoryEventStore

__all__ = [
    "BatchTooLargeError",
    "Corruption",
    "CorruptionError",
    "EventStore",
    "EventTooLargeError",
    "FileEventStore",
    "InMemoryEventStore",
    "InvalidEventError",
    "InvalidQueryError",
    "NewEvent",
    "Page",
    "Payload",
    "RecoveryReport",
    "Snapshot",
    "SnapshotError",
    "StoreClosedError",
    "StoreError",
    "StoreFailedError",
    "StoreLimits",
    "StoredEvent",
]
