"""The clean-close record: where the log ended when the store was last closed cleanly.

Without it, a last segment cut short, zero-filled or deleted after a clean close looks like a
shorter log (or a torn tail), so acknowledged records vanish and their positions are handed
out again. ``close`` writes the record atomically (temp file, fsync, rename, fsync of the
directory); ``open`` reads it and removes it durably before any append, so a later crash is
never mistaken for a clean close.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from zlib import crc32

from .segment import fsync_directory, replace_durably

CLEAN_CLOSE_FILE = "CLEAN"
_MAGIC = b"EVCLOSE1"
_HEAD = struct.Struct("<8sQQH")  # magic, last position, segment end, segment name length
_CHECK = struct.Struct("<I")  # crc32 of everything before it


@dataclass(frozen=True)
class CleanClose:
    last_position: int
    """The highest position ever handed out: no later open may hand it out again."""
    segment: str
    """The last segment's file name ("" when the log had none)."""
    end: int
    """Where that segment's content ended."""


class DamagedRecord(Exception):
    """The clean-close file exists but fails its checks."""


def encode(record: CleanClose) -> bytes:
    name = record.segment.encode()
    data = _HEAD.pack(_MAGIC, record.last_position, record.end, len(name)) + name
    return data + _CHECK.pack(crc32(data))


def decode(data: bytes) -> CleanClose:
    if len(data) < _HEAD.size + _CHECK.size:
        raise DamagedRecord(f"{len(data)} bytes, too short")
    magic, last, end, name_len = _HEAD.unpack_from(data)
    body = data[: -_CHECK.size]
    if magic != _MAGIC or len(body) != _HEAD.size + name_len:
        raise DamagedRecord("bad magic or length")
    if _CHECK.unpack_from(data, len(body))[0] != crc32(body):
        raise DamagedRecord("checksum mismatch")
    try:
        name = body[_HEAD.size :].decode()
    except UnicodeDecodeError as exc:
        raise DamagedRecord("segment name is not UTF-8") from exc
    return CleanClose(last, name, end)


def read_clean_close(directory: Path) -> CleanClose | None:
    """The record left by the last clean close, or ``None`` if there is none (a crash, or a
    new log). Raises ``DamagedRecord`` if it fails its checks."""
    try:
        data = (directory / CLEAN_CLOSE_FILE).read_bytes()
    except FileNotFoundError:
        return None
    return decode(data)


def write_clean_close(directory: Path, record: CleanClose) -> None:
    replace_durably(directory / CLEAN_CLOSE_FILE, encode(record))


def remove_clean_close(directory: Path) -> None:
    """Durably forget the record: from now on a crash must not look like a clean close."""
    path = directory / CLEAN_CLOSE_FILE
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_directory(directory)
