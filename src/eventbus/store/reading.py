"""Reading indexed records straight out of memory-mapped segments.

A 1000-event query used to cost one ``pread`` per record when the records lay apart (a stream
query reads one record in a hundred). Segments are append-only, so a read-only shared mapping
stays valid while a segment grows; a read maps a segment again only when its size changed.
Every record is still checked on the way out (frame magic, length, position and both
checksums, ``zlib.crc32`` on a memoryview slice), and only payloads are copied.
"""

from __future__ import annotations

import mmap
import os
from array import array
from collections.abc import Iterable, Sequence
from operator import itemgetter
from pathlib import Path
from zlib import crc32

from .errors import CorruptionError
from .framing import (
    BODY_FIXED_SIZE,
    FLAG_ENCODED,
    FRAME_HEADER_SIZE,
    FRAME_MAGIC,
    FRAME_OVERHEAD,
    FRAME_TRAILER_SIZE,
    LEAD_CHECKSUMS,
    RECORD_HEAD,
    lead_checksum,
)
from .index import EventIndex
from .interface import StoredEvent

CRC_RESIDUE = 0x2144DF1C
"""``crc32(message + crc32(message) as 4 little-endian bytes)`` for every message."""
_ENCODED = tuple(bool(flags & FLAG_ENCODED) for flags in range(256))


class SegmentFile:
    """One segment opened for reading: its path, a descriptor and the current mapping.

    A mapping is only ever replaced, never closed while in use: a read in another thread
    keeps the old one alive until it is done.
    """

    __slots__ = ("_map", "fd", "path")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY)
        self._map: mmap.mmap | None = None

    def mapping(self) -> mmap.mmap | bytes:
        """The whole file as it is now; remapped when its size changed since the last read.

        Checking the size first (one ``fstat`` per segment and read, not per record) turns a
        file cut short after open into a checksum error instead of a SIGBUS.
        """
        size = os.fstat(self.fd).st_size
        current = self._map
        if current is None or len(current) != size:
            if not size:
                self._map = None
                return b""
            current = self._map = mmap.mmap(self.fd, size, access=mmap.ACCESS_READ)
        return current

    def close(self) -> None:
        self._map = None
        os.close(self.fd)


def read_events(
    segments: Sequence[SegmentFile],
    locations: tuple[array[int], array[int], array[int]],
    index: EventIndex,
    rows: range | Sequence[int],
) -> list[StoredEvent]:
    """The events of index ``rows``, each checked against its frame; ``CorruptionError`` if not.

    Names come from the index (the checksums and the position prove the record is the one
    indexed), so only the payload is copied out of the mapping. The index columns are read
    in C (slices for a range of rows, ``itemgetter`` otherwise), and one ``crc32`` over the body and
    its trailing checksum checks both: the CRC of a message followed by its own CRC is a
    constant (``CRC_RESIDUE``).
    """
    seg_col, off_col, size_col = locations
    stream_names, type_names = index.stream_names, index.type_names
    columns = (seg_col, off_col, size_col, index.positions, index.stream_col, index.type_col)
    picked: list[Iterable[int]]
    if isinstance(rows, range) and rows.step == 1:
        picked = [column[rows.start : rows.stop] for column in columns]
    elif len(rows) == 1:
        picked = [(column[rows[0]],) for column in columns]
    else:
        gather = itemgetter(*rows)
        picked = [gather(column) for column in columns]
    unpack = RECORD_HEAD.unpack_from
    leads = LEAD_CHECKSUMS
    encoded_of = _ENCODED
    events: list[StoredEvent] = []
    append = events.append
    current = -1
    data: mmap.mmap | bytes = b""
    view = memoryview(data)
    limit = 0
    try:
        for segment, offset, size, expected, stream_id, type_id in zip(*picked, strict=True):
            if segment != current:
                view.release()
                data = segments[segment].mapping()
                view = memoryview(data)
                limit = len(data)
                current = segment
            end = offset + size
            if end > limit:
                raise changed_on_disk(expected, segments[segment].path)
            magic, length, lead_crc, position, timestamp, flags, stream_len, type_len = unpack(
                data, offset
            )
            start = offset + FRAME_HEADER_SIZE
            if (
                magic != FRAME_MAGIC
                or length + FRAME_OVERHEAD != size
                or position != expected
                or lead_crc != (leads.get(length) or lead_checksum(length))
                or crc32(view[start:end]) != CRC_RESIDUE
            ):
                raise changed_on_disk(expected, segments[segment].path)
            append(
                StoredEvent(
                    position,
                    stream_names[stream_id],
                    type_names[type_id],
                    timestamp,
                    data[
                        start + BODY_FIXED_SIZE + stream_len + type_len : end - FRAME_TRAILER_SIZE
                    ],
                    encoded_of[flags],
                )
            )
    finally:
        view.release()
    return events


def changed_on_disk(position: int, path: Path) -> CorruptionError:
    return CorruptionError(
        f"event at position {position} in {path} changed on disk after it was written "
        "(checksum mismatch); reopen the store to recover"
    )
