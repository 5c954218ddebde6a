"""Snapshot files: one per stream, replaced atomically (write temp, fsync, rename, fsync dir)."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path
from zlib import crc32

import msgspec

from .interface import Snapshot
from .segment import replace_durably

SNAPSHOT_SUFFIX = ".snap"
_MAGIC = b"EVSNAP01"
_HEAD = struct.Struct("<8sII")  # magic, body length, crc32(body)


def snapshot_path(directory: Path, stream: str) -> Path:
    """Stream names may hold any character, so files are named by a hash of the name."""
    digest = hashlib.sha256(stream.encode("utf-8", "surrogatepass")).hexdigest()[:40]
    return directory / f"{digest}{SNAPSHOT_SUFFIX}"


def encode_snapshot(snapshot: Snapshot) -> bytes:
    body = msgspec.msgpack.encode((snapshot.stream, snapshot.position, snapshot.state))
    return _HEAD.pack(_MAGIC, len(body), crc32(body)) + body


def decode_snapshot(data: bytes) -> Snapshot | None:
    """The snapshot in ``data``, or ``None`` if it fails its checks."""
    if len(data) < _HEAD.size:
        return None
    magic, length, check = _HEAD.unpack_from(data)
    body = data[_HEAD.size :]
    if magic != _MAGIC or len(body) != length or crc32(body) != check:
        return None
    try:
        stream, position, state = msgspec.msgpack.decode(body, type=tuple[str, int, bytes])
    except msgspec.DecodeError:
        return None
    return Snapshot(stream, position, state)


def write_snapshot(directory: Path, snapshot: Snapshot) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    replace_durably(snapshot_path(directory, snapshot.stream), encode_snapshot(snapshot))


def load_snapshots(directory: Path) -> tuple[dict[str, Snapshot], list[str]]:
    """Every valid snapshot by stream, and the names of files that failed their checks."""
    found: dict[str, Snapshot] = {}
    bad: list[str] = []
    if not directory.is_dir():
        return found, bad
    for leftover in directory.glob(f"*{SNAPSHOT_SUFFIX}.tmp"):
        leftover.unlink()
    for path in sorted(directory.glob(f"*{SNAPSHOT_SUFFIX}")):
        snapshot = decode_snapshot(path.read_bytes())
        if snapshot is None or snapshot_path(directory, snapshot.stream) != path:
            bad.append(path.name)
        else:
            found[snapshot.stream] = snapshot
    return found, bad
