"""Helpers shared by the event store tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from eventbus.store import FileEventStore, NewEvent, StoredEvent
from eventbus.store.clean_close import CLEAN_CLOSE_FILE
from eventbus.store.framing import SEGMENT_HEADER_SIZE, FrameStatus, check_frame

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test coroutine on a fresh event loop (closed afterwards)."""
    return asyncio.run(coro)


def events(n: int, stream: str = "s", type: str = "T") -> list[NewEvent]:
    return [NewEvent(stream, type, f"e{i}".encode()) for i in range(n)]


async def fill(directory: Path, n: int, **options: Any) -> list[StoredEvent]:
    """Create a file store in ``directory`` holding ``n`` single-event appends, then close it."""
    async with FileEventStore(directory, **options) as store:
        return [await store.append(f"s{i % 3}", f"T{i % 2}", f"p{i}".encode()) for i in range(n)]


async def read_all(directory: Path, **options: Any) -> tuple[FileEventStore, list[StoredEvent]]:
    """Open (recover) the store, replay it, close it; return the closed store and its events."""
    store = FileEventStore(directory, **options)
    async with store:
        found = [event async for event in store.replay()]
    return store, found


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def content_end(path: Path) -> int:
    """Where a segment's valid records end: zero-filled (preallocated) space follows.

    Found by walking the frames (a record's checksum may end in zero bytes).
    """
    data = path.read_bytes()
    offset = SEGMENT_HEADER_SIZE
    while (check := check_frame(data, offset)).status is FrameStatus.OK:
        offset += check.size
    return offset


def tear(path: Path, n: int) -> None:
    """Zero the last ``n`` bytes of the content: a write cut short inside preallocated space."""
    end = content_end(path)
    overwrite(path, end - n, bytes(n))


def write_at_end(path: Path, data: bytes) -> None:
    """Write ``data`` where the records end, as the store would (over the zero-filled space)."""
    overwrite(path, content_end(path), data)


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


def as_after_a_crash(directory: Path) -> None:
    """Remove the clean-close record, as a killed writer leaves none (for damage made by hand
    that only a crash can cause; test_tail.py kills real writer processes)."""
    (directory / CLEAN_CLOSE_FILE).unlink()
