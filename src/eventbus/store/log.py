"""``FileEventStore``: the durable, segmented, append-only event log with group commit.

Opening recovers the segments (``recovery.py``) and snapshots and takes the directory's lock;
appends go through the group commit of ``commit.py``; reads check every record straight out
of memory-mapped segments in worker threads; a clean close records where the log ended.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import threading
from dataclasses import replace
from pathlib import Path
from queue import SimpleQueue

from .clean_close import CleanClose, remove_clean_close, write_clean_close
from .commit import GroupCommitLog
from .errors import CorruptionError, StoreClosedError, StoreError
from .interface import RecoveryReport, Snapshot, StoredEvent, StoreLimits
from .reading import SegmentFile, read_events
from .recovery import recover
from .snapshots import load_snapshots, write_snapshot

__all__ = ["FileEventStore"]

DEFAULT_SEGMENT_BYTES = 64 << 20
LOCK_FILE = "LOCK"
SNAPSHOT_DIR = "snapshots"


class FileEventStore(GroupCommitLog):
    """The event log in ``directory``: segments, a ``snapshots/`` folder and a lock file.

    ``strict=True`` makes opening raise ``CorruptionError`` on any damage; by default damaged
    records are skipped and listed in ``recovery``. A torn tail (an unacknowledged write cut
    short by a crash) is cut in both modes. A clean close records where the log ended (see
    ``clean_close.py``), so the next open can tell a lost tail from a shorter log.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        strict: bool = False,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        limits: StoreLimits | None = None,
    ) -> None:
        if segment_bytes < 4096:
            raise StoreError(f"segment_bytes must be at least 4096, not {segment_bytes}")
        super().__init__(Path(directory), segment_bytes=segment_bytes, limits=limits)
        self.strict = strict
        self._recovered_end: tuple[str, int] | None = None
        """The last segment found by open and where its content ends."""
        self._lock_fd: int | None = None
        self._reading = threading.Condition()
        self._readers = 0
        """Reads running in worker threads; closing waits for them before closing files."""

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> RecoveryReport:
        self._assert_not_open()
        try:
            await asyncio.to_thread(self._open_sync)
        except OSError as exc:
            raise StoreError(
                f"cannot open event log {self.directory}: {exc.strerror or exc}"
            ) from exc
        self._loop = asyncio.get_running_loop()
        self._closing = False
        self._failure = None
        self._write_error = None
        self._drained = None
        self._dispatch_scheduled = False
        self._jobs = SimpleQueue()
        self._writers = []
        self._is_open = True
        return self._report

    def _open_sync(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            recovered = recover(self.directory, strict=self.strict)
            snapshots, bad = load_snapshots(self.directory / SNAPSHOT_DIR)
            if bad and self.strict:
                raise CorruptionError(
                    f"snapshot files failed their checks: {', '.join(bad)} in "
                    f"{self.directory / SNAPSHOT_DIR}; open without strict mode to ignore them"
                )
        except BaseException:
            self._unlock()
            raise
        self._reset()
        for segment in recovered.segments:
            self._segments.append(SegmentFile(segment.path))
        for segment_index, record in recovered.records:
            self._index.add(record.position, record.timestamp, record.stream, record.type)
            self._loc_segment.append(segment_index)
            self._loc_offset.append(record.offset)
            self._loc_size.append(record.size)
        last = recovered.report.last_position
        for stream, snapshot in list(snapshots.items()):
            if snapshot.position > last or not self._index.has_stream(stream):
                bad.append(f"{stream!r}: position {snapshot.position} beyond the log")
                del snapshots[stream]
        self._snapshots = snapshots
        self._next_position = recovered.next_position
        self._last_timestamp = self._index.last_timestamp
        self._recovered_end = None
        if recovered.segments:
            tail = recovered.segments[-1]
            self._recovered_end = (tail.path.name, tail.end)
            if recovered.append_to_last:
                self._activate(tail.path, tail.end)
        self._report = replace(recovered.report, snapshots_skipped=tuple(bad))
        try:
            remove_clean_close(self.directory)
        except BaseException:
            self._close_files(record=False)
            raise

    def _lock(self) -> None:
        fd = os.open(self.directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreError(
                f"event log {self.directory} is open elsewhere (another store or process)"
            ) from None
        self._lock_fd = fd

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor releases the flock
            self._lock_fd = None

    async def close(self) -> None:
        if not self._is_open:
            return
        self._closing = True
        try:
            if self._pending or self._in_flight:
                self._drained = asyncio.get_running_loop().create_future()
                await self._drained
            self._is_open = False
            await asyncio.to_thread(self._close_files)
        finally:
            self._closing = False

    def _close_files(self, *, record: bool = True) -> None:
        """Stop the writers, record a clean close (unless a write failed), close every file."""
        for _ in self._writers:
            self._jobs.put(None)
        for thread in self._writers:
            thread.join()
        self._writers = []
        unrecorded: OSError | None = None
        if record and self._failure is None and self._write_error is None:
            try:
                write_clean_close(self.directory, self._end_of_log())
            except OSError as exc:  # close the files anyway, then say so
                unrecorded = exc
        self._space.close()
        for fd in (self._active_fd, *self._sync_fds, *self._retired_fds):
            if fd is not None:
                os.close(fd)
        self._active_fd = None
        self._sync_fds = []
        self._retired_fds = []
        with self._reading:
            self._reading.wait_for(lambda: not self._readers)
        for segment in self._segments:
            segment.close()
        self._segments.clear()
        self._unlock()
        if unrecorded is not None:
            raise StoreError(
                f"event log {self.directory} closed, but its clean close could not be recorded "
                f"({unrecorded.strerror or unrecorded}); the next open cannot verify its tail"
            ) from unrecorded

    def _end_of_log(self) -> CleanClose:
        """Where the log ends now that every write is synced (for the clean-close record)."""
        last = self._next_position - 1
        if self._active_fd is not None:
            return CleanClose(last, self._segments[-1].path.name, self._active_size)
        if self._recovered_end is not None:
            return CleanClose(last, *self._recovered_end)
        return CleanClose(last, "", 0)

    # -- reading -------------------------------------------------------------------------

    async def _read_rows(self, start: int, stop: int, rows: list[int] | None) -> list[StoredEvent]:
        wanted = range(start, stop) if rows is None else rows
        return await asyncio.to_thread(self._read_sync, wanted)

    def _read_sync(self, rows: range | list[int]) -> list[StoredEvent]:
        """Worker thread: read and check the rows' records (see ``reading.read_events``)."""
        with self._reading:
            if not self._is_open:
                raise StoreClosedError("the event store was closed during a read")
            self._readers += 1
        try:
            locations = (self._loc_segment, self._loc_offset, self._loc_size)
            return read_events(self._segments, locations, self._index, rows)
        finally:
            with self._reading:
                self._readers -= 1
                self._reading.notify_all()

    # -- snapshots -----------------------------------------------------------------------

    async def _keep_snapshot(self, snapshot: Snapshot) -> None:
        await asyncio.to_thread(write_snapshot, self.directory / SNAPSHOT_DIR, snapshot)
