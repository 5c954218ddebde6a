"""Errors raised by the event store; each message is one line that says what went wrong."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the event store raises on purpose."""


class InvalidEventError(StoreError):
    """An event that cannot be stored: empty or too long names, or a payload msgspec cannot encode.

    Raised before anything of the append (or batch) is written.
    """


class EventTooLargeError(InvalidEventError):
    """An event whose encoded payload exceeds the per-event limit (1 MiB by default)."""


class BatchTooLargeError(InvalidEventError):
    """A batch with too many events or too many bytes; nothing of it was written."""


class CorruptionError(StoreError):
    """Stored bytes failed their checks: raised by strict-mode recovery and by reads."""


class StoreClosedError(StoreError):
    """The store is not open (never opened, or already closed)."""


class StoreFailedError(StoreError):
    """A write or sync failed; the store refuses further appends until it is reopened.

    After a failed fsync the kernel may have dropped the dirty pages, so retrying the sync
    cannot prove durability; reopening runs recovery and tells what is really on disk.
    """


class SnapshotError(StoreError):
    """A snapshot that cannot be saved (unknown stream, position out of range)."""


class InvalidQueryError(StoreError, ValueError):
    """Query arguments out of range (a limit below 1 or above the maximum page size)."""
