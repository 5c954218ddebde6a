"""The store contract, run against every backend."""

from __future__ import annotations

from pathlib import Path

from eventbus.store import EventStore, FileEventStore, InMemoryEventStore, StoreLimits

from .contract import StoreContract


class TestFileEventStore(StoreContract):
    def make_store(self, path: Path, limits: StoreLimits | None = None) -> EventStore:
        return FileEventStore(path / "log", limits=limits)


class TestSmallSegmentFileEventStore(StoreContract):
    """Every segment holds a few records, so every feature also works across segments."""

    def make_store(self, path: Path, limits: StoreLimits | None = None) -> EventStore:
        return FileEventStore(path / "log", limits=limits, segment_bytes=4096)


class TestInMemoryEventStore(StoreContract):
    def make_store(self, path: Path, limits: StoreLimits | None = None) -> EventStore:
        return InMemoryEventStore(limits=limits)
