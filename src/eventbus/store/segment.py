"""One segment file: its name, its creation, and the recovery scan of its bytes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple
from zlib import crc32

from .framing import (
    BODY,
    BODY_FIXED_SIZE,
    FLAG_COMMIT,
    FRAME_HEADER,
    FRAME_HEADER_SIZE,
    FRAME_MAGIC,
    FRAME_OVERHEAD,
    FRAME_TRAILER,
    SEGMENT_HEADER_SIZE,
    check_frame,
    claimed_end,
    decode_segment_header,
    encode_segment_header,
    find_next_frame,
    torn_frame_end,
)
from .interface import Corruption

SEGMENT_SUFFIX = ".seg"
TEMP_SUFFIX = ".tmp"
ZERO_FILL_PIECE = 1 << 20
"""Most zero bytes one ``pwrite`` of ``zero_fill`` writes."""


def segment_name(base_position: int, generation: int = 0) -> str:
    """Names sort in position order: ``00000000000000000001-0000.seg``.

    The generation tells apart a fresh segment from a damaged one that starts at the same
    position (damaged segments are kept as they are, for inspection).
    """
    return f"{base_position:020d}-{generation:04d}{SEGMENT_SUFFIX}"


def list_segments(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(SEGMENT_SUFFIX) and p.is_file())


def fsync_directory(directory: Path) -> None:
    """Make a created or renamed file's directory entry durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` whole or not at all, durably: write a temp file, fsync,
    rename over ``path``, fsync the directory (snapshots, the clean-close record)."""
    temp = path.with_name(path.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_directory(path.parent)


def zero_fill(fd: int, start: int, stop: int) -> None:
    """Write zeros over ``start..stop`` of a file and make them durable (``fdatasync``).

    Real zeros, not ``fallocate``: an unwritten extent would need a metadata update (a
    journal commit) on its first write, which is the cost preallocation is there to avoid.
    """
    zeros = memoryview(bytes(min(ZERO_FILL_PIECE, stop - start)))
    offset = start
    while offset < stop:
        offset += os.pwrite(fd, zeros[: stop - offset], offset)
    os.fdatasync(fd)


def create_segment(directory: Path, base_position: int, size: int = 0) -> Path:
    """Create a segment durably: header written, zero-filled up to ``size`` bytes and synced
    under a temporary name, then renamed.

    A crash leaves either no segment or a complete header followed by zeros, never a
    half-written one.
    """
    generation = 0
    while (path := directory / segment_name(base_position, generation)).exists():
        generation += 1
    temp = path.with_name(path.name + TEMP_SUFFIX)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        header = encode_segment_header(base_position)
        os.write(fd, header + bytes(max(0, size - len(header))))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, path)
    fsync_directory(directory)
    return path


class ScannedRecord(NamedTuple):
    position: int
    offset: int
    size: int
    timestamp: float
    flags: int
    stream: str
    type: str


@dataclass
class SegmentScan:
    """What a segment holds: its valid records and the damaged regions between them."""

    name: str
    base_position: int | None
    """From the header; ``None`` if the header is damaged."""
    records: list[ScannedRecord] = field(default_factory=list)
    corruptions: list[Corruption] = field(default_factory=list)
    torn_at: int | None = None
    """Where a torn tail starts (only for the last segment): bytes from here are cut."""
    torn_records: int = 0
    size: int = 0
    end: int = 0
    """Where the segment's content ends: only zeros (preallocated space) follow."""


def scan_segment(name: str, data: bytes, *, last: bool) -> SegmentScan:
    """Check every frame of a segment, resyncing past damage.

    Segments are zero-filled ahead of the writes, so the content ends where only zeros
    follow (in any segment). In the last segment, non-zero bytes after the last valid frame
    that are a frame cut short (``torn_frame_end``) followed by zeros only are a torn tail: a
    write that never completed, never acknowledged. Anything else is corruption, in
    particular bytes that are not a frame followed by zeros, and any damage followed by a
    valid frame. Trailing records of a batch whose commit mark never made it are also cut
    from the last segment.
    """
    scan = SegmentScan(name, decode_segment_header(data), size=len(data), end=len(data))
    offset = SEGMENT_HEADER_SIZE
    if scan.base_position is None:
        resync = find_next_frame(data, 0)
        end = len(data) if resync is None else resync
        scan.corruptions.append(Corruption(name, 0, end, "damaged segment header"))
        if resync is None:
            return scan
        offset = resync
    names: dict[bytes, str] = {}
    size = len(data)
    view = memoryview(data)
    records = scan.records
    unpack_checksum = FRAME_TRAILER.unpack_from
    while offset < size:
        # Fast path for an intact frame; anything else is classified below.
        if size - offset >= FRAME_OVERHEAD:
            magic, length, lead_crc = FRAME_HEADER.unpack_from(data, offset)
            start = offset + FRAME_HEADER_SIZE
            stop = start + length
            end = stop + 4
            if (
                magic == FRAME_MAGIC
                and length >= BODY_FIXED_SIZE
                and end <= size
                and crc32(view[offset : offset + 8]) == lead_crc
                and crc32(view[start:stop]) == unpack_checksum(data, stop)[0]
            ):
                position, timestamp, flags, stream_len, type_len = BODY.unpack_from(data, start)
                at = start + BODY_FIXED_SIZE
                raw_stream = data[at : at + stream_len]
                raw_type = data[at + stream_len : at + stream_len + type_len]
                stream = names.get(raw_stream) or names.setdefault(raw_stream, raw_stream.decode())
                type = names.get(raw_type) or names.setdefault(raw_type, raw_type.decode())
                records.append(
                    ScannedRecord(position, offset, end - offset, timestamp, flags, stream, type)
                )
                offset = end
                continue
        if zeros_from(data, offset):
            scan.end = offset  # the rest is preallocated space
            break
        check = check_frame(data, offset)
        resync = find_next_frame(data, offset + 1)
        if resync is None:
            written_end = len(data.rstrip(b"\0"))  # where the non-zero bytes end
            torn_end = torn_frame_end(data, offset)
            if last and torn_end is not None and written_end <= torn_end:
                scan.torn_at = offset
                scan.end = written_end
            else:
                # A damaged frame whose header is intact ends where its header says (its
                # checksum may end in zero bytes).
                scan.end = max(written_end, claimed_end(data, offset))
                scan.corruptions.append(Corruption(name, offset, scan.end - offset, check.reason))
            break
        scan.corruptions.append(Corruption(name, offset, resync - offset, check.reason))
        offset = resync
    if last and not _corrupt_after_records(scan):
        _cut_uncommitted_batch(scan)
    return scan


def zeros_from(data: bytes, offset: int) -> bool:
    """Whether every byte of ``data`` from ``offset`` on is zero (one memcmp)."""
    return data.endswith(bytes(len(data) - offset))


def _corrupt_after_records(scan: SegmentScan) -> bool:
    if not scan.corruptions:
        return False
    last_record_end = scan.records[-1].offset if scan.records else -1
    return scan.corruptions[-1].offset > last_record_end


def _cut_uncommitted_batch(scan: SegmentScan) -> None:
    records = scan.records
    keep = len(records)
    while keep and not records[keep - 1].flags & FLAG_COMMIT:
        keep -= 1
    if keep == len(records):
        return
    scan.torn_at = records[keep].offset
    scan.torn_records = len(records) - keep
    del records[keep:]
