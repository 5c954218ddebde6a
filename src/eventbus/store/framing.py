"""The on-disk byte layout: segment headers and length+CRC32 framed records.

Segment file::

    header (24 bytes): magic b"EVSTSEG1" | version u32 | base_position u64 | crc32(first 20) u32
    frame*

Frame (all little-endian)::

    magic u32 | body_length u32 | crc32(magic, body_length) u32 | body | crc32(body) u32
    body = position u64 | timestamp f64 | flags u8 | stream_len u16 | type_len u16
           | stream | type | payload

Segments are preallocated (zero-filled ahead of the writes), so the end of the log is the
first place where no valid frame starts; a zero magic is never valid. The header check makes
a damaged length detectable on its own, and the body checksum comes last: a write cut short
inside zero-filled space leaves a valid header whose checksum is still zero (a torn frame,
``frame_is_torn``), while a damaged complete frame has a non-zero checksum that does not match.
``FLAG_COMMIT`` marks the last record of an append or batch; records after the last commit
mark at the end of the log belong to a batch that was never acknowledged.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple
from zlib import crc32

SEGMENT_MAGIC = b"EVSTSEG1"
SEGMENT_VERSION = 2
"""Version 1 kept the body checksum in the frame header (no preallocation)."""
_SEGMENT_HEADER = struct.Struct("<8sIQ")
SEGMENT_HEADER_SIZE = _SEGMENT_HEADER.size + 4

FRAME_MAGIC = 0x52465645  # b"EVFR" little-endian
FRAME_MAGIC_BYTES = struct.pack("<I", FRAME_MAGIC)
_FRAME_LEAD = struct.Struct("<II")
FRAME_HEADER = struct.Struct("<III")
FRAME_HEADER_SIZE = FRAME_HEADER.size
FRAME_TRAILER = struct.Struct("<I")
FRAME_TRAILER_SIZE = FRAME_TRAILER.size
FRAME_OVERHEAD = FRAME_HEADER_SIZE + FRAME_TRAILER_SIZE
BODY = struct.Struct("<QdBHH")
BODY_FIXED_SIZE = BODY.size
RECORD_HEAD = struct.Struct("<IIIQdBHH")
"""A frame header and the fixed part of its body, unpacked in one call when reading."""
RECORD_OVERHEAD = FRAME_OVERHEAD + BODY_FIXED_SIZE
"""Bytes of a record besides its names and payload."""
_LEAD_CACHE_SIZE = 4096

FLAG_COMMIT = 1
FLAG_ENCODED = 2


def encode_segment_header(base_position: int) -> bytes:
    head = _SEGMENT_HEADER.pack(SEGMENT_MAGIC, SEGMENT_VERSION, base_position)
    return head + struct.pack("<I", crc32(head))


def decode_segment_header(data: bytes) -> int | None:
    """The base position stored in a segment header, or ``None`` if the header is damaged."""
    if len(data) < SEGMENT_HEADER_SIZE:
        return None
    head = data[: _SEGMENT_HEADER.size]
    (check,) = struct.unpack_from("<I", data, _SEGMENT_HEADER.size)
    if crc32(head) != check:
        return None
    magic, version, base = _SEGMENT_HEADER.unpack(head)
    if magic != SEGMENT_MAGIC or version != SEGMENT_VERSION:
        return None
    return int(base)


LEAD_CHECKSUMS: dict[int, int] = {}
"""crc32 of a frame's first 8 bytes by body length: hot loops try this before ``lead_checksum``."""


def lead_checksum(length: int) -> int:
    """crc32 of a frame's first 8 bytes (magic and length), remembered in ``LEAD_CHECKSUMS``.

    It depends on the length only, and the records of one store mostly share a few lengths.
    """
    checksum = crc32(_FRAME_LEAD.pack(FRAME_MAGIC, length))
    if len(LEAD_CHECKSUMS) >= _LEAD_CACHE_SIZE:
        LEAD_CHECKSUMS.clear()
    LEAD_CHECKSUMS[length] = checksum
    return checksum


def encode_frame(
    position: int, timestamp: float, flags: int, stream: bytes, type: bytes, payload: bytes
) -> bytes:
    body = b"".join(
        (BODY.pack(position, timestamp, flags, len(stream), len(type)), stream, type, payload)
    )
    lead = _FRAME_LEAD.pack(FRAME_MAGIC, len(body))
    return b"".join((lead, FRAME_TRAILER.pack(crc32(lead)), body, FRAME_TRAILER.pack(crc32(body))))


class FrameStatus(enum.Enum):
    OK = "ok"
    INCOMPLETE = "incomplete"
    """The file ends inside this frame (a short header, or a valid header whose body is cut)."""
    BAD = "bad"


class FrameCheck(NamedTuple):
    status: FrameStatus
    size: int
    """Whole frame size when ``OK``."""
    reason: str


def check_frame(data: bytes | memoryview, offset: int) -> FrameCheck:
    """Whether a whole, valid frame starts at ``offset`` of ``data``."""
    end = len(data)
    if end - offset < FRAME_HEADER_SIZE:
        return FrameCheck(FrameStatus.INCOMPLETE, 0, "file ends inside a frame header")
    magic, length, lead_crc = FRAME_HEADER.unpack_from(data, offset)
    if magic != FRAME_MAGIC:
        return FrameCheck(FrameStatus.BAD, 0, "no frame magic")
    if crc32(data[offset : offset + 8]) != lead_crc:
        return FrameCheck(FrameStatus.BAD, 0, "frame header checksum mismatch")
    start = offset + FRAME_HEADER_SIZE
    stop = start + length
    if stop + FRAME_TRAILER_SIZE > end:
        return FrameCheck(FrameStatus.INCOMPLETE, 0, "file ends inside a frame body")
    (body_crc,) = FRAME_TRAILER.unpack_from(data, stop)
    if length < BODY_FIXED_SIZE or crc32(data[start:stop]) != body_crc:
        return FrameCheck(FrameStatus.BAD, 0, "frame body checksum mismatch")
    return FrameCheck(FrameStatus.OK, FRAME_OVERHEAD + length, "")


def claimed_end(data: bytes | memoryview, offset: int) -> int:
    """Where the frame at ``offset`` ends by its header (at most the end of ``data``), or
    ``offset`` if there is no intact frame header there."""
    if len(data) - offset < FRAME_HEADER_SIZE:
        return offset
    magic, length, lead_crc = FRAME_HEADER.unpack_from(data, offset)
    if magic != FRAME_MAGIC or crc32(data[offset : offset + 8]) != lead_crc:
        return offset
    return int(min(len(data), offset + FRAME_OVERHEAD + length))


def torn_frame_end(data: bytes | memoryview, offset: int) -> int | None:
    """Where a frame cut short at ``offset`` ends, or ``None`` if these bytes are not one.

    In zero-filled space a write that never completed leaves a prefix of a frame: part of
    its header, or a valid header whose body checksum (the frame's last field) is still
    zero. A complete frame damaged later has a non-zero checksum and is not torn. The caller
    checks that only zeros follow the returned end.
    """
    present = bytes(data[offset : offset + FRAME_HEADER_SIZE])
    lead = present[:8]
    header = lead + FRAME_TRAILER.pack(crc32(lead))
    if present == header and lead[:4] == FRAME_MAGIC_BYTES:
        length: int = FRAME_TRAILER.unpack_from(lead, 4)[0]
        stop = offset + FRAME_HEADER_SIZE + length
        end = stop + FRAME_TRAILER_SIZE
        # The file ends inside the frame (a write that extended the file), or its checksum is
        # all zeros. A checksum only partly zero is damage: it could be a checksum byte
        # zeroed by damage, and calling that torn would drop an acknowledged record.
        if end > len(data) or not any(data[stop:end]):
            return end
        return None
    written = present.rstrip(b"\0")
    if written and FRAME_MAGIC_BYTES.startswith(written[:4]) and header.startswith(written):
        return offset + len(present)  # the header itself was cut short
    return None


class FrameBody(NamedTuple):
    position: int
    timestamp: float
    flags: int
    stream: bytes
    type: bytes
    payload: bytes


def decode_body(data: bytes | memoryview, offset: int, size: int) -> FrameBody:
    """Split the body of a checked frame that starts at ``offset`` and is ``size`` bytes long."""
    start = offset + FRAME_HEADER_SIZE
    position, timestamp, flags, stream_len, type_len = BODY.unpack_from(data, start)
    names = start + BODY_FIXED_SIZE
    types = names + stream_len
    payload = types + type_len
    return FrameBody(
        position,
        timestamp,
        flags,
        bytes(data[names:types]),
        bytes(data[types:payload]),
        bytes(data[payload : offset + size - FRAME_TRAILER_SIZE]),
    )


def find_next_frame(data: bytes, start: int) -> int | None:
    """Offset of the next whole valid frame at or after ``start`` (resync after damage)."""
    offset = data.find(FRAME_MAGIC_BYTES, start)
    while offset != -1:
        if check_frame(data, offset).status is FrameStatus.OK:
            return offset
        offset = data.find(FRAME_MAGIC_BYTES, offset + 1)
    return None
