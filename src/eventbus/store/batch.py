"""One group commit: the appends it carries, the bytes it writes and what its callers get back.

Encoding happens in a writer thread, in one pass over the batch that builds the frames, their
sizes and the ``StoredEvent`` each caller receives; the bytes are joined once and written
with one ``write``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, NamedTuple
from zlib import crc32

from .framing import (
    BODY,
    FLAG_COMMIT,
    FLAG_ENCODED,
    FRAME_HEADER,
    FRAME_MAGIC,
    FRAME_OVERHEAD,
    FRAME_TRAILER,
    LEAD_CHECKSUMS,
    lead_checksum,
)
from .interface import StoredEvent
from .prepare import PreparedEvent

Queued = tuple[PreparedEvent | list[PreparedEvent], "asyncio.Future[Any]", int, int]
"""An append waiting for its group commit: (one event or an atomic batch, the caller's future,
number of events, approximate bytes)."""


class Encoded(NamedTuple):
    data: bytes
    sizes: list[int]
    """Frame size of every event, in position order."""
    events: list[StoredEvent]
    """Every event, in position order."""
    results: list[StoredEvent | list[StoredEvent]]
    """What each queued append returns: its event, or its batch's events."""


def encode_batch(items: list[Queued], position: int, timestamp: float) -> Encoded:
    """Frame every queued event from ``position`` on; the last record of each append (or
    atomic batch) carries the commit mark."""
    parts: list[bytes] = []
    sizes: list[int] = []
    events: list[StoredEvent] = []
    results: list[StoredEvent | list[StoredEvent]] = []
    leads = LEAD_CHECKSUMS
    pack_body = BODY.pack
    pack_header = FRAME_HEADER.pack
    pack_trailer = FRAME_TRAILER.pack
    add_part = parts.append
    add_size = sizes.append
    add_event = events.append
    for queued, _future, count, _size in items:
        single = isinstance(queued, PreparedEvent)
        run: Sequence[PreparedEvent] = (queued,) if isinstance(queued, PreparedEvent) else queued
        last = position + count - 1
        for stream, type, payload, encoded, stream_bytes, type_bytes, _ in run:
            flags = (FLAG_COMMIT if position == last else 0) | (FLAG_ENCODED if encoded else 0)
            body = b"".join(
                (
                    pack_body(position, timestamp, flags, len(stream_bytes), len(type_bytes)),
                    stream_bytes,
                    type_bytes,
                    payload,
                )
            )
            length = len(body)
            add_part(pack_header(FRAME_MAGIC, length, leads.get(length) or lead_checksum(length)))
            add_part(body)
            add_part(pack_trailer(crc32(body)))
            add_size(FRAME_OVERHEAD + length)
            add_event(StoredEvent(position, stream, type, timestamp, payload, encoded))
            position += 1
        results.append(events[-1] if single else events[-count:])
    return Encoded(b"".join(parts), sizes, events, results)
