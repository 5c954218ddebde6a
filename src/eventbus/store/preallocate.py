"""Zero-filled space ahead of the active segment's end, kept there by a background thread.

An ``fdatasync`` after a write that extends a file must also commit the new file size (on
ext4, a journal commit); after a write inside space that was zero-filled and synced before,
it only flushes the data blocks. Measured on this machine's ext4 disk (write+fdatasync loop):
p50 0.10 ms against 0.16 ms for 100-byte records, 0.12 ms against 0.24 ms for 3.6 KB ones.
This is the WAL technique of PostgreSQL and RocksDB.

The writer thread writes only below ``zeroed_end`` while a zero-fill runs (the fill starts
at ``zeroed_end``), so a fill never overwrites data. When a write would pass it, the writer
waits for a running fill and then extends the file itself: slower, never wrong. A failed
fill (a full disk) only stops filling for this segment; the writes themselves then report
the error.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .segment import zero_fill

PREALLOCATE_BYTES = 1 << 20
"""Zeros written per fill; a fill starts when less than half of this is left ahead."""


class Preallocator:
    """Keeps up to ``PREALLOCATE_BYTES`` of synced zeros ahead of the active segment's end.

    ``switch``, ``before_write`` and ``after_write`` are called by the writer thread that
    holds the write turn; fills run in a thread of their own, with a descriptor of their own
    (a sync there must not consume a writeback error that the writers' syncs need to see).
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="eventlog-prealloc")
        self._fd: int | None = None
        self._limit = 0
        self._zeroed_end = 0
        self._filling = False
        self._failed = False
        self.fills = 0
        """Fills completed, for tests and diagnostics."""
        self.failures = 0
        """Fills that failed (the writer then extended the file itself)."""

    @property
    def zeroed_end(self) -> int:
        """Bytes of the active segment that exist on disk (data or synced zeros)."""
        return self._zeroed_end

    def switch(self, path: Path, limit: int) -> None:
        """Follow a new active segment, zero-filled up to ``limit`` bytes at most."""
        with self._changed:
            self._changed.wait_for(lambda: not self._filling)
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            self._fd = os.open(path, os.O_WRONLY)
            self._zeroed_end = os.fstat(self._fd).st_size
            self._limit = limit
            self._failed = False

    def before_write(self, end: int) -> None:
        """The writer is about to write up to ``end``: past the zeros, wait for a running fill."""
        if end > self._zeroed_end:
            with self._changed:
                self._changed.wait_for(lambda: not self._filling)

    def after_write(self, end: int) -> None:
        """The writer wrote up to ``end``; start a fill when less than half a fill is left."""
        if end > self._zeroed_end:
            self._zeroed_end = end  # the write extended the file; no fill runs (before_write)
        start = self._zeroed_end
        if (
            self._filling
            or self._failed
            or self._fd is None
            or start >= self._limit
            or start - end >= PREALLOCATE_BYTES // 2
        ):
            return
        self._filling = True
        self._executor.submit(
            self._fill, self._fd, start, min(self._limit, start + PREALLOCATE_BYTES)
        )

    def _fill(self, fd: int, start: int, stop: int) -> None:
        try:
            zero_fill(fd, start, stop)
        except Exception:  # ENOSPC and the like: the writes will report it
            with self._changed:
                self.failures += 1
                self._failed = True
                self._filling = False
                self._changed.notify_all()
            return
        with self._changed:
            self.fills += 1
            self._zeroed_end = max(self._zeroed_end, stop)
            self._filling = False
            self._changed.notify_all()

    def close(self) -> None:
        """Wait for a running fill, then release the thread and the descriptor."""
        self._executor.shutdown(wait=True)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
