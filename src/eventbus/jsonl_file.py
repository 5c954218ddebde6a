"""The JSONL handler's file: encoded batches written with one writev each, rotated by size.

Writes run on the loop thread or, while the file is slow, in a worker thread, one call at a
time (`lock`), so the counters need no other lock. A write failure (full disk, unwritable
path) is counted and logged once per failure streak; a batch cut off part-way is truncated
away, so every line in the file stays valid JSON, and the file is reopened on the next batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path

# The logger keeps its historical name: users configure logging by it.
log = logging.getLogger("eventbus.observability")

# Chunks per write: writev takes at most IOV_MAX (1024 on Linux) buffers.
MAX_CHUNKS = 512


class RotatingFile:
    """Appends encoded batches to `path`; path -> path.1 ... path.N past `max_bytes`."""

    def __init__(
        self, path: Path, max_bytes: int, backups: int, on_error: Callable[[str], None]
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.backups = backups
        self.lock = threading.Lock()  # one write at a time, even after a cancelled flush
        self.written = 0
        self.lost = 0
        self.errors = 0
        self.rotations = 0
        self._on_error = on_error  # the handler keeps the last error, its own and these
        self._fd: int | None = None
        self._size = 0
        self._failing = False

    def write(self, chunks: list[tuple[bytes, int]], wait: bool = True) -> bool:
        """Write chunks (encoded data, trace count), one syscall per group: a group ends
        where the next chunk would pass max_bytes, so rotation falls between chunks.

        With `wait` false, returns False at once (nothing written) if another write holds
        the file."""
        if not self.lock.acquire(blocking=wait):
            return False
        try:
            group: list[tuple[bytes, int]] = []
            size = self._size
            for data, count in chunks:
                if group and size + len(data) > self.max_bytes:
                    self._write_group(group)
                    group, size = [], 0  # the next group starts a new file
                group.append((data, count))
                size += len(data)
            if group:
                self._write_group(group)
        finally:
            self.lock.release()
        return True

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _write_group(self, group: list[tuple[bytes, int]]) -> None:
        if len(group) > 1:
            try:
                self._write_once([data for data, _ in group])
            except OSError:
                pass  # cut back already: chunk by chunk, so the whole chunks that fit land
            else:
                self.written += sum(count for _, count in group)
                self._failing = False
                return
        for data, count in group:
            try:
                self._write_once([data])
            except OSError as exc:
                self._fail(exc, count)
            else:
                self.written += count
                self._failing = False

    def _write_once(self, parts: list[bytes]) -> None:
        """One write of `parts`, rotating first if they would pass max_bytes; a write that
        fails part-way is cut back to where it started."""
        total = sum(len(data) for data in parts)
        fd = self._open()
        if self._size and self._size + total > self.max_bytes and _is_regular(fd):
            self._rotate()
            fd = self._open()
        start = self._size
        try:
            written = os.writev(fd, parts)
            if written < total:  # a short write: the rest, the slow way
                view = memoryview(b"".join(parts))[written:]
                while view:
                    view = view[os.write(fd, view) :]
        except OSError:
            if _is_regular(fd):
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, start)
            raise
        self._size = start + total

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
        # Each rename lands on a free name: ext4 writes back a file renamed over another
        # before the rename returns (auto_da_alloc), tens of milliseconds on the loop.
        if self.backups == 0:
            self.path.unlink()
        else:
            self.path.with_name(f"{self.path.name}.{self.backups}").unlink(missing_ok=True)
            for index in range(self.backups - 1, 0, -1):
                older = self.path.with_name(f"{self.path.name}.{index}")
                if older.exists():
                    older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        self.rotations += 1

    def _fail(self, exc: OSError, count: int) -> None:
        reason = exc.strerror or str(exc)
        self.errors += 1
        self.lost += count
        message = f"cannot write {self.path}: {reason} ({count} traces lost)"
        self._on_error(message)
        if self._fd is not None:  # reopen next time: the path may have been fixed
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
        if not self._failing:  # log once per failure streak; count every time
            self._failing = True
            log.error("%s", message)


def _is_regular(fd: int) -> bool:
    """Only regular files are rotated or truncated, never devices (/dev/full) or pipes."""
    return stat.S_ISREG(os.fstat(fd).st_mode)
