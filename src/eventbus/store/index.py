"""The in-memory index shared by every backend: positions, timestamps, streams and types.

Rows are numbered 0..n-1 in position order; columns are compact ``array`` objects (about
24 bytes per event plus the per-stream and per-type row lists). The file backend rebuilds it
on open from the scan that recovery does anyway, so there is no second file to keep
crash-consistent with the log.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from .errors import InvalidQueryError
from .interface import StoredEvent

MAX_PAGE = 10_000


class EventIndex:
    def __init__(self) -> None:
        self.positions = array("q")
        self.timestamps = array("d")
        self.stream_col = array("l")
        self.type_col = array("l")
        self._stream_ids: dict[str, int] = {}
        self._type_ids: dict[str, int] = {}
        self._stream_rows: list[array[int]] = []
        self._type_rows: list[array[int]] = []
        self.stream_names: list[str] = []
        self.type_names: list[str] = []

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def last_position(self) -> int:
        return self.positions[-1] if self.positions else 0

    @property
    def last_timestamp(self) -> float:
        return self.timestamps[-1] if self.timestamps else 0.0

    def add(self, position: int, timestamp: float, stream: str, type: str) -> int:
        """Index an event; positions and timestamps must not decrease. Returns its row."""
        row = len(self.positions)
        self.positions.append(position)
        self.timestamps.append(timestamp)
        sid = self._stream_ids.get(stream)
        if sid is None:
            sid = self._new_stream(stream)
        tid = self._type_ids.get(type)
        if tid is None:
            tid = self._new_type(type)
        self.stream_col.append(sid)
        self.type_col.append(tid)
        self._stream_rows[sid].append(row)
        self._type_rows[tid].append(row)
        return row

    def add_run(self, events: Sequence[StoredEvent]) -> None:
        """Index events that follow the last one, in order: ``add`` for a group commit."""
        row = len(self.positions)
        stream_ids, type_ids = self._stream_ids, self._type_ids
        stream_rows, type_rows = self._stream_rows, self._type_rows
        sids: list[int] = []
        tids: list[int] = []
        add_sid, add_tid = sids.append, tids.append
        for event in events:
            sid = stream_ids.get(event.stream)
            if sid is None:
                sid = self._new_stream(event.stream)
            tid = type_ids.get(event.type)
            if tid is None:
                tid = self._new_type(event.type)
            add_sid(sid)
            add_tid(tid)
            stream_rows[sid].append(row)
            type_rows[tid].append(row)
            row += 1
        self.positions.extend([event.position for event in events])
        self.timestamps.extend([event.timestamp for event in events])
        self.stream_col.extend(sids)
        self.type_col.extend(tids)

    def _new_stream(self, stream: str) -> int:
        sid = self._stream_ids[stream] = len(self._stream_rows)
        self._stream_rows.append(array("l"))
        self.stream_names.append(stream)
        return sid

    def _new_type(self, type: str) -> int:
        tid = self._type_ids[type] = len(self._type_rows)
        self._type_rows.append(array("l"))
        self.type_names.append(type)
        return tid

    def row_of(self, position: int) -> int | None:
        """The row holding ``position``, or ``None``."""
        positions = self.positions
        row = bisect_left(positions, position)
        if row < len(positions) and positions[row] == position:
            return row
        return None

    def first_row_after(self, position: int) -> int:
        return bisect_right(self.positions, position)

    def has_stream(self, stream: str) -> bool:
        return stream in self._stream_ids

    def select(
        self,
        *,
        stream: str | None,
        type: str | None,
        since: float | None,
        until: float | None,
        after: int,
        limit: int,
    ) -> tuple[list[int], bool]:
        """Rows matching every filter, in order, at most ``limit``; and whether more match."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidQueryError(f"limit must be between 1 and {MAX_PAGE}, not {limit}")
        start = bisect_right(self.positions, after)
        end = len(self.positions)
        if since is not None:
            start = max(start, bisect_left(self.timestamps, since))
        if until is not None:
            end = min(end, bisect_left(self.timestamps, until))
        if start >= end:
            return [], False
        candidates, column, wanted = self._candidates(stream, type)
        if candidates is None:
            stop = min(end, start + limit)
            return list(range(start, stop)), stop < end
        first = bisect_left(candidates, start)
        if column is None:  # one filter: the candidates themselves, cut by two bisects
            stop = bisect_left(candidates, end, lo=first)
            return candidates[first : min(stop, first + limit)].tolist(), first + limit < stop
        rows: list[int] = []
        for i in range(first, len(candidates)):
            row = candidates[i]
            if row >= end:
                break
            if column[row] == wanted:
                if len(rows) == limit:
                    return rows, True
                rows.append(row)
        return rows, False

    def _candidates(
        self, stream: str | None, type: str | None
    ) -> tuple[array[int] | None, array[int] | None, int]:
        """The shortest row list to walk, and the column check left for the other filter."""
        empty = array("l")
        sid = self._stream_ids.get(stream, -1) if stream is not None else None
        tid = self._type_ids.get(type, -1) if type is not None else None
        if sid == -1 or tid == -1:
            return empty, None, 0
        if sid is None and tid is None:
            return None, None, 0
        if tid is None:
            assert sid is not None
            return self._stream_rows[sid], None, 0
        if sid is None:
            return self._type_rows[tid], None, 0
        by_stream, by_type = self._stream_rows[sid], self._type_rows[tid]
        if len(by_stream) <= len(by_type):
            return by_stream, self.type_col, tid
        return by_type, self.stream_col, sid
