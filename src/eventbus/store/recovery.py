"""Opening a log directory: scan every segment, cut a torn tail, report or raise on corruption."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

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


def recover(directory: Path, *, strict: bool) -> Recovered:
    """Scan the log in ``directory``; in strict mode raise on corruption before changing anything.

    Both modes cut a torn tail (an incomplete last write, never acknowledged: the file is
    truncated where it starts, and the store zero-fills again from there) and drop
    leftovers of segment creation that never completed.
    """
    directory.mkdir(parents=True, exist_ok=True)
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
    if strict and corruptions:
        raise CorruptionError(
            f"event log {directory} is corrupt ({len(corruptions)} damaged regions); first: "
            f"{corruptions[0]}. Open without strict mode to skip damaged records and get a report"
        )
    for segment, scan in zip(recovered.segments, scans, strict=True):
        if scan.torn_at is not None:
            _truncate(segment.path, scan.torn_at)
    if scans and scans[-1].corruptions and _ends_corrupt(scans[-1]):
        recovered.append_to_last = False
    recovered.report = RecoveryReport(
        segments=len(paths),
        records=len(recovered.records),
        last_position=expected - 1,
        torn_tail_bytes=torn_bytes,
        torn_records=torn_records,
        corruptions=tuple(corruptions),
        skipped_records=skipped,
    )
    return recovered


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
