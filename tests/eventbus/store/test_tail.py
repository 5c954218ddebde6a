"""The end of the log: a tail lost after a clean close is corruption, after a crash it is not
known.

A clean close records where the log ended; the damage here (the last segment cut short,
zero-filled or deleted) is what a bad disk, a careless copy or a restore leaves behind. After
a clean close it must be reported (strict mode raises) and the lost positions never handed
out again. After a crash (a real writer process killed with SIGKILL) the same damage cannot
be told from a shorter log: the torn tail is cut as always, and the report says the tail
could not be verified.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from pathlib import Path

import pytest

from eventbus.store import CorruptionError, FileEventStore, StoreError
from eventbus.store import log as store_log
from eventbus.store.clean_close import CLEAN_CLOSE_FILE
from eventbus.store.framing import SEGMENT_HEADER_SIZE, FrameStatus, check_frame

from .support import fill, overwrite, read_all, run, segments
from .test_crash import kill_round, zygote

SEGMENT_BYTES = 4096
N = 200
"""Records written before the damage: about three segments of 4 KiB."""


def frame_offsets(path: Path) -> list[int]:
    """Where each valid record of a segment starts, walking its frames."""
    data = path.read_bytes()
    offsets = []
    offset = SEGMENT_HEADER_SIZE
    while (check := check_frame(data, offset)).status is FrameStatus.OK:
        offsets.append(offset)
        offset += check.size
    return offsets


def last_with_records(directory: Path) -> Path:
    return [p for p in segments(directory) if frame_offsets(p)][-1]


def truncate(directory: Path) -> None:
    """Cut the last segment inside a record halfway through it (7 bytes of a frame remain)."""
    path = last_with_records(directory)
    offsets = frame_offsets(path)
    with path.open("r+b") as f:
        f.truncate(offsets[len(offsets) // 2] + 7)


def zero_fill(directory: Path) -> None:
    """Overwrite the second half of the last segment's records with zeros."""
    path = last_with_records(directory)
    offsets = frame_offsets(path)
    start = offsets[len(offsets) // 2]
    overwrite(path, start, bytes(path.stat().st_size - start))


def delete(directory: Path) -> None:
    """Delete the last segment."""
    segments(directory)[-1].unlink()


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncate": truncate,
    "zero-fill": zero_fill,
    "delete": delete,
}


def snapshot_files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


# -- after a clean close ----------------------------------------------------------------------


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_tail_lost_after_a_clean_close_is_refused_in_strict_mode(
    tmp_path: Path, damage: str
) -> None:
    run(fill(tmp_path, N, segment_bytes=SEGMENT_BYTES))
    assert len(segments(tmp_path)) >= 2
    DAMAGE[damage](tmp_path)
    before = snapshot_files(tmp_path)
    with pytest.raises(CorruptionError, match=r"missing at the end.*clean close recorded"):
        run(read_all(tmp_path, strict=True, segment_bytes=SEGMENT_BYTES))
    assert snapshot_files(tmp_path) == before  # nothing changed, the record kept


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_tail_lost_after_a_clean_close_is_reported_and_its_positions_never_reused(
    tmp_path: Path, damage: str
) -> None:
    written = run(fill(tmp_path, N, segment_bytes=SEGMENT_BYTES))
    DAMAGE[damage](tmp_path)

    async def reopen_and_append() -> tuple[FileEventStore, list[int], int]:
        store = FileEventStore(tmp_path, segment_bytes=SEGMENT_BYTES)
        async with store:
            found = [e.position async for e in store.replay()]
            appended = await store.append("s", "T", b"after")
        return store, found, appended.position

    store, found, appended = run(reopen_and_append())
    report = store.recovery
    kept = len(found)
    assert 0 < kept < N
    assert found == [e.position for e in written[:kept]]
    assert report.tail_verified
    assert not report.clean
    assert report.skipped_records == N - kept
    assert report.last_position == kept
    assert any(
        f"positions {kept + 1}..{N} are missing at the end" in c.reason for c in report.corruptions
    )
    assert "CORRUPTION" in report.summary()
    assert appended == N + 1  # not kept + 1: those positions were acknowledged once

    # The loss stays on record: the next open reports the gap, the new record is kept.
    again, events = run(read_all(tmp_path, segment_bytes=SEGMENT_BYTES))
    assert [e.position for e in events] == [*range(1, kept + 1), N + 1]
    assert events[-1].payload == b"after"
    assert again.recovery.skipped_records == N - kept
    with pytest.raises(CorruptionError):
        run(read_all(tmp_path, strict=True, segment_bytes=SEGMENT_BYTES))


def test_a_reopened_store_without_appends_keeps_reporting_the_lost_tail(tmp_path: Path) -> None:
    run(fill(tmp_path, N, segment_bytes=SEGMENT_BYTES))
    delete(tmp_path)
    first, _ = run(read_all(tmp_path, segment_bytes=SEGMENT_BYTES))
    second, _ = run(read_all(tmp_path, segment_bytes=SEGMENT_BYTES))
    assert first.recovery.skipped_records == second.recovery.skipped_records > 0

    async def append_one() -> int:
        async with FileEventStore(tmp_path, segment_bytes=SEGMENT_BYTES) as store:
            return (await store.append("s", "T")).position

    assert run(append_one()) == N + 1


def test_every_segment_deleted_after_a_clean_close_is_reported(tmp_path: Path) -> None:
    run(fill(tmp_path, 5))
    for path in segments(tmp_path):
        path.unlink()
    store, found = run(read_all(tmp_path))
    assert found == []
    assert store.recovery.skipped_records == 5
    with pytest.raises(CorruptionError, match=r"positions 1\.\.5 are missing at the end"):
        run(read_all(tmp_path, strict=True))


def test_an_intact_log_after_a_clean_close_is_verified_and_clean(tmp_path: Path) -> None:
    run(fill(tmp_path, N, segment_bytes=SEGMENT_BYTES))
    assert (tmp_path / CLEAN_CLOSE_FILE).exists()
    store, found = run(read_all(tmp_path, strict=True, segment_bytes=SEGMENT_BYTES))
    assert len(found) == N
    assert store.recovery.clean
    assert store.recovery.tail_verified
    assert "could not be verified" not in store.recovery.summary()


def test_the_record_is_gone_while_the_store_is_open(tmp_path: Path) -> None:
    run(fill(tmp_path, 3))

    async def look() -> bool:
        async with FileEventStore(tmp_path):
            return (tmp_path / CLEAN_CLOSE_FILE).exists()

    assert run(look()) is False
    assert (tmp_path / CLEAN_CLOSE_FILE).exists()


def test_a_damaged_record_is_corruption(tmp_path: Path) -> None:
    run(fill(tmp_path, 3))
    record = tmp_path / CLEAN_CLOSE_FILE
    data = bytearray(record.read_bytes())
    data[10] ^= 0xFF
    record.write_bytes(bytes(data))
    with pytest.raises(CorruptionError, match="damaged clean-close record"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert len(found) == 3
    assert not store.recovery.tail_verified
    assert not store.recovery.clean


def test_a_clean_close_that_cannot_be_recorded_is_an_error_and_releases_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_space(directory: Path, record: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    async def write_and_close() -> None:
        store = FileEventStore(tmp_path)
        await store.open()
        await store.append("s", "T", b"kept")
        monkeypatch.setattr(store_log, "write_clean_close", no_space)
        with pytest.raises(StoreError, match=r"clean close could not be recorded \(No space"):
            await store.close()
        monkeypatch.undo()
        assert not store.is_open

    run(write_and_close())
    store, found = run(read_all(tmp_path, strict=True))  # the lock was released
    assert [e.payload for e in found] == [b"kept"]
    assert not store.recovery.tail_verified


# -- after a crash ----------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("damage", [None, *DAMAGE])
def test_after_a_sigkill_the_tail_is_cut_and_reported_unverified(
    tmp_path: Path, damage: str | None
) -> None:
    """The log was closed cleanly once, then a writer opened it and was killed: its record is
    gone, so the same damage opens in strict mode (as a torn tail or a shorter log)."""
    run(fill(tmp_path, 5))
    with zygote(tmp_path) as proc:
        acked = kill_round(proc, 0, 1, 900)
    assert len(acked) >= 900
    assert len(segments(tmp_path)) >= 2
    assert not (tmp_path / CLEAN_CLOSE_FILE).exists()
    if damage is not None:
        DAMAGE[damage](tmp_path)
    store, found = run(read_all(tmp_path, strict=True))
    report = store.recovery
    assert not report.tail_verified
    assert report.clean  # nothing but a torn tail, as before
    assert "no clean close: the tail could not be verified" in report.summary()
    assert [e.position for e in found] == list(range(1, len(found) + 1))
    if damage is None:
        assert len(found) >= 5 + len(acked)
    if damage == "truncate":
        assert report.torn_tail_bytes > 0  # with any records of its batch before it
    # Closed cleanly now: the next open verifies the tail again.
    reopened, _ = run(read_all(tmp_path, strict=True))
    assert reopened.recovery.tail_verified
