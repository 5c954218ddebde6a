"""Opening a log directory: scan every segment, cut a torn tail, report or raise on corruption."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .clean_close import CLEAN_CLOSE_FILE, CleanClose, DamagedRecord, read_clean_close
from .errors import CorruptionError
from .interface import Corruption, RecoveryReport
from .segment import (
    TEMP_SUFFIX,
    ScannedRecord,
    SegmentScan,
    list_segments,
    scan_segment,
)


@dataclass
class RecoveredSegment:
    path: Path
    base_position: int
    end: int
    """Where appends continue: the end of the content after any torn tail is cut (zeros of
    the preallocated space may follow)."""


@dataclass
class Recovered:
    """The log as found: valid records in position order, and what recovery saw and did."""

    segments: list[RecoveredSegment] = field(default_factory=list)
    records: list[tuple[int, ScannedRecord]] = field(default_factory=list)
    """(segment index, record) in position order."""
    report: RecoveryReport = field(default_factory=RecoveryReport)
    append_to_last: bool = True
    """False when the last segment ends in corruption: new records go to a fresh segment."""
    next_position: int = 1
    """The next position to hand out: after every record found, and after every position
    handed out before the last clean close (so a lost tail's positions are never reused)."""


def recover(directory: Path, *, strict: bool) -> Recovered:
    """Scan the log in ``directory``; in strict mode raise on corruption before changing anything.

    Both modes cut a torn tail (an incomplete last write, never acknowledged: the file is
    truncated where it starts, and the store zero-fills again from there) and drop
    leftovers of segment creation that never completed.

    If the last close was clean (see ``clean_close.py``), a log that ends before the point
    it recorded is corruption: acknowledged records are gone.
    """
    directory.mkdir(parents=True, exist_ok=True)
    closed, damaged_record = _clean_close(directory)
    for leftover in directory.glob(f"*{TEMP_SUFFIX}"):
        leftover.unlink()
    paths = list_segments(directory)
    scans = [
        scan_segment(path.name, path.read_bytes(), last=index == len(paths) - 1)
        for index, path in enumerate(paths)
    ]
    recovered = Recovered()
    corruptions: list[Corruption] = []
    expected = 1
    skipped = 0
    torn_bytes = torn_records = 0
    for index, (path, scan) in enumerate(zip(paths, scans, strict=True)):
        corruptions.extend(scan.corruptions)
        base = scan.base_position if scan.base_position is not None else expected
        if base > expected:
            corruptions.append(
                Corruption(
                    path.name, 0, 0, f"positions {expected}..{base - 1} are missing before it"
                )
            )
            skipped += base - expected
            expected = base
        for record in scan.records:
            if record.position < expected:
                corruptions.append(
                    Corruption(
                        path.name,
                        record.offset,
                        record.size,
                        f"position {record.position} out of order (expected {expected})",
                    )
                )
                continue
            if record.position > expected:
                corruptions.append(
                    Corruption(
                        path.name,
                        record.offset,
                        0,
                        f"positions {expected}..{record.position - 1} are missing",
                    )
                )
                skipped += record.position - expected
            recovered.records.append((index, record))
            expected = record.position + 1
        end = scan.end
        if scan.torn_at is not None:
            torn_bytes += scan.end - scan.torn_at
            torn_records += scan.torn_records
            end = scan.torn_at
        recovered.segments.append(RecoveredSegment(path, base, end))
    if damaged_record is not None:
        corruptions.append(damaged_record)
    lost = 0
    shortened: Corruption | None = None
    if closed is not None:
        lost, shortened = _check_tail(closed, recovered, expected - 1)
        if shortened is not None:
            corruptions.append(shortened)
            skipped += lost
    if strict and corruptions:
        raise CorruptionError(
            f"event log {directory} is corrupt ({len(corruptions)} damaged regions); first: "
            f"{corruptions[0]}. Open without strict mode to skip damaged records and get a report"
        )
    for segment, scan in zip(recovered.segments, scans, strict=True):
        if scan.torn_at is not None:
            _truncate(segment.path, scan.torn_at)
    if (scans and scans[-1].corruptions and _ends_corrupt(scans[-1])) or shortened:
        recovered.append_to_last = False  # keep a damaged or shortened segment as it is
    recovered.next_position = expected + lost
    recovered.report = RecoveryReport(
        segments=len(paths),
        records=len(recovered.records),
        last_position=expected - 1,
        torn_tail_bytes=torn_bytes,
        torn_records=torn_records,
        corruptions=tuple(corruptions),
        skipped_records=skipped,
        tail_verified=closed is not None or (not paths and damaged_record is None),
    )
    return recovered


def _clean_close(directory: Path) -> tuple[CleanClose | None, Corruption | None]:
    """The last clean close's record, or why it cannot be used."""
    try:
        return read_clean_close(directory), None
    except DamagedRecord as exc:
        size = (directory / CLEAN_CLOSE_FILE).stat().st_size
        reason = f"damaged clean-close record ({exc}): the tail cannot be verified"
        return None, Corruption(CLEAN_CLOSE_FILE, 0, size, reason)


def _check_tail(
    closed: CleanClose, recovered: Recovered, last_position: int
) -> tuple[int, Corruption | None]:
    """How many positions handed out before the clean close are missing at the end, and the
    corruption that says so (``None`` when the log ends where the record says)."""
    last = recovered.segments[-1] if recovered.segments else None
    where = f"the log ends at position {last_position}"
    if last is not None:
        where += f" ({last.path.name} @ {last.end})"
    recorded = f"the clean close recorded position {closed.last_position}"
    if closed.segment:
        recorded += f" ({closed.segment} @ {closed.end})"
    if last_position < closed.last_position:
        lost = closed.last_position - last_position
        segment = last.path.name if last is not None else closed.segment or CLEAN_CLOSE_FILE
        offset = last.end if last is not None else 0
        reason = (
            f"positions {last_position + 1}..{closed.last_position} are missing at the end: "
            f"{where}, {recorded}"
        )
        return lost, Corruption(segment, offset, 0, reason)
    if closed.segment and (
        last is None or (last.path.name, last.end) < (closed.segment, closed.end)
    ):
        offset = last.end if last is not None else 0
        segment = last.path.name if last is not None else closed.segment
        return 0, Corruption(
            segment, offset, 0, f"the log is shorter than at its clean close: {where}, {recorded}"
        )
    return 0, None


def _ends_corrupt(scan: SegmentScan) -> bool:
    last = scan.corruptions[-1]
    return last.offset + last.length >= scan.end


def _truncate(path: Path, size: int) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, size)
        os.fsync(fd)
    finally:
        os.close(fd)
