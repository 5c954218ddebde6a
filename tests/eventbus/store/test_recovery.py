"""Opening a damaged log: torn tails are cut, corruption is raised (strict) or reported."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from zlib import crc32

import msgspec
import pytest

from eventbus.store import CorruptionError, FileEventStore, NewEvent, StoredEvent
from eventbus.store.framing import (
    FLAG_COMMIT,
    SEGMENT_HEADER_SIZE,
    encode_frame,
    encode_segment_header,
)
from eventbus.store.segment import segment_name

from .support import (
    as_after_a_crash,
    content_end,
    fill,
    flip_byte,
    overwrite,
    read_all,
    run,
    segments,
    tear,
    write_at_end,
)


def record_offsets(directory: Path) -> list[tuple[Path, int, int]]:
    """(segment, offset, size) of every record, read through the store's own index."""
    store = FileEventStore(directory)

    async def scan() -> list[tuple[Path, int, int]]:
        async with store:
            return [
                (
                    store._segments[store._loc_segment[row]].path,
                    store._loc_offset[row],
                    store._loc_size[row],
                )
                for row in range(len(store._index))
            ]

    return run(scan())


# -- torn tails: cut in both modes -----------------------------------------------------------


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("how", ["zeros follow", "file cut short"])
def test_a_torn_last_record_is_cut_and_appends_continue(
    tmp_path: Path, strict: bool, how: str
) -> None:
    """A write cut short: its end still zeros (in preallocated space), or a file that ends
    inside it (a write that had to extend the file)."""
    written = run(fill(tmp_path, 10))
    (segment,) = segments(tmp_path)
    _, last_offset, last_size = record_offsets(tmp_path)[9]
    end = last_offset + last_size
    assert content_end(segment) == end < segment.stat().st_size  # zero-filled space follows
    as_after_a_crash(tmp_path)
    if how == "zeros follow":
        tear(segment, 5)
    else:
        os.truncate(segment, end - 5)

    store, found = run(read_all(tmp_path, strict=strict))
    report = store.recovery
    assert found == written[:9]
    assert report.clean
    assert report.torn_tail_bytes == end - 5 - last_offset
    assert report.last_position == 9
    assert segment.stat().st_size == last_offset

    async def append_more() -> list[int]:
        async with FileEventStore(tmp_path, strict=True) as reopened:
            await reopened.append("s", "T", b"new")
            return [e.position async for e in reopened.replay()]

    assert run(append_more()) == list(range(1, 11))


def test_zeros_after_the_last_record_are_free_space_and_appends_overwrite_them(
    tmp_path: Path,
) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    size = segment.stat().st_size
    end = content_end(segment)
    assert size - end > 1000

    async def append_one() -> StoredEvent:
        async with FileEventStore(tmp_path, strict=True) as store:
            assert store.recovery.clean
            assert store.recovery.torn_tail_bytes == 0
            assert store.recovery.summary() == "3 records in 1 segments, last position 3"
            return await store.append("s", "T", b"next")

    appended = run(append_one())
    assert segment.stat().st_size == size  # written inside the zeros, the file did not grow
    assert record_offsets(tmp_path)[3][1] == end
    _, found = run(read_all(tmp_path, strict=True))
    assert found == [*written, appended]


def test_a_segment_that_is_only_a_header_and_zeros_is_empty_and_clean(tmp_path: Path) -> None:
    """A crash right after a segment was created (and zero-filled), before any write."""
    run(fill(tmp_path, 300, segment_bytes=4096))
    base = record_offsets(tmp_path)
    path = tmp_path / segment_name(len(base) + 1)
    path.write_bytes(encode_segment_header(len(base) + 1) + bytes(4096 - SEGMENT_HEADER_SIZE))

    async def append_one() -> int:
        async with FileEventStore(tmp_path, strict=True, segment_bytes=4096) as store:
            assert store.recovery.clean
            assert store.recovery.torn_tail_bytes == 0
            return (await store.append("s", "T", b"next")).position

    assert run(append_one()) == len(base) + 1
    assert record_offsets(tmp_path)[-1][:2] == (path, SEGMENT_HEADER_SIZE)


def test_a_torn_frame_header_followed_by_zeros_is_a_torn_tail(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    end = content_end(segment)
    prefix = encode_frame(4, 2e9, FLAG_COMMIT, b"s", b"T", b"x")[:6]
    write_at_end(segment, prefix)
    store, found = run(read_all(tmp_path, strict=True))
    assert found == written
    assert store.recovery.torn_tail_bytes == len(prefix.rstrip(b"\0"))
    assert segment.stat().st_size == end


def test_garbage_followed_by_zeros_is_corruption_not_a_torn_tail(tmp_path: Path) -> None:
    """Bytes that cannot be the start of a frame were not written by the store."""
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    end = content_end(segment)
    write_at_end(segment, b"garbage")
    with pytest.raises(CorruptionError, match=rf"@ {end} \(7 bytes\): no frame magic"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert found == written
    assert store.recovery.skipped_bytes == 7
    assert store.recovery.torn_tail_bytes == 0


def test_a_damaged_last_record_followed_by_zeros_is_corruption(tmp_path: Path) -> None:
    """Its checksum is there but does not match: it was written whole, then damaged."""
    written = run(fill(tmp_path, 3))
    path, offset, size = record_offsets(tmp_path)[2]
    flip_byte(path, offset + size - 6)  # inside the payload
    with pytest.raises(CorruptionError, match="body checksum"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert found == written[:2]
    assert store.recovery.skipped_bytes == size


def test_a_valid_frame_after_zeros_is_corruption(tmp_path: Path) -> None:
    """Zeros end the log only when nothing but zeros follows them."""
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    end = content_end(segment)
    overwrite(segment, end + 100, encode_frame(4, 2e9, FLAG_COMMIT, b"s", b"T", b"late"))
    with pytest.raises(CorruptionError, match=rf"@ {end} \(100 bytes\): no frame magic"):
        run(read_all(tmp_path, strict=True))
    _, found = run(read_all(tmp_path))
    assert [e.payload for e in found] == [*(e.payload for e in written), b"late"]


def test_a_torn_frame_followed_by_more_data_is_corruption(tmp_path: Path) -> None:
    """Only zeros may follow a torn frame; anything else could be damaged records."""
    run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    torn = encode_frame(4, 2e9, FLAG_COMMIT, b"s", b"T", b"x" * 50)
    write_at_end(segment, torn[:30] + bytes(len(torn) - 30) + b"junk")
    with pytest.raises(CorruptionError, match="body checksum"):
        run(read_all(tmp_path, strict=True))


def test_records_of_a_batch_without_its_commit_mark_are_cut(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    uncommitted = b"".join(encode_frame(p, 1e9 + p, 0, b"s", b"T", b"x") for p in (4, 5))
    write_at_end(segment, uncommitted)
    store, found = run(read_all(tmp_path, strict=True))
    assert found == written
    assert (store.recovery.torn_records, store.recovery.torn_tail_bytes) == (2, len(uncommitted))


def test_a_half_written_batch_is_invisible_after_recovery(tmp_path: Path) -> None:
    async def write_batch() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("s", "T", b"before")
            await store.append_batch([NewEvent("b", "T", b"x" * 50) for _ in range(5)])

    run(write_batch())
    (segment,) = segments(tmp_path)
    as_after_a_crash(tmp_path)
    tear(segment, 30)  # the batch's last record is torn
    store, found = run(read_all(tmp_path))
    assert [e.payload for e in found] == [b"before"]
    assert store.recovery.torn_records == 4
    assert store.recovery.clean


def test_leftovers_of_an_unfinished_segment_creation_are_removed(tmp_path: Path) -> None:
    run(fill(tmp_path, 2))
    leftover = tmp_path / (segment_name(3) + ".tmp")
    leftover.write_bytes(b"half a header")
    _, found = run(read_all(tmp_path, strict=True))
    assert len(found) == 2
    assert not leftover.exists()


# -- corruption: strict raises, default reports ----------------------------------------------


def test_a_flipped_byte_in_the_middle_is_detected(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 10))
    path, offset, size = record_offsets(tmp_path)[4]
    flip_byte(path, offset + size - 1)
    before = path.read_bytes()

    with pytest.raises(CorruptionError, match=r"corrupt \(2 damaged regions\).*body checksum"):
        run(read_all(tmp_path, strict=True))
    assert path.read_bytes() == before  # strict mode changes nothing

    store, found = run(read_all(tmp_path))
    report = store.recovery
    assert found == written[:4] + written[5:]
    assert not report.clean
    assert report.skipped_records == 1
    assert report.skipped_bytes == size
    assert "CORRUPTION: 2 regions" in report.summary()
    assert "positions 5..5 are missing" in str(report.corruptions[1])


def test_a_flipped_length_byte_is_corruption_not_a_torn_tail(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 5))
    path, offset, _ = record_offsets(tmp_path)[4]
    flip_byte(path, offset + 6)  # the last record's length field

    with pytest.raises(CorruptionError, match="header checksum"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert found == written[:4]
    assert store.recovery.torn_tail_bytes == 0
    assert store.recovery.corruptions[0].reason == "frame header checksum mismatch"


def test_appends_after_a_corrupt_tail_go_to_a_new_segment(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 5))
    path, offset, size = record_offsets(tmp_path)[4]
    flip_byte(path, offset + size - 1)
    damaged = path.read_bytes()

    async def append_after() -> list[bytes]:
        async with FileEventStore(tmp_path) as store:
            assert store.recovery.corruptions
            await store.append("s", "T", b"after")
            return [e.payload async for e in store.replay()]

    assert run(append_after()) == [e.payload for e in written[:4]] + [b"after"]
    assert path.read_bytes() == damaged  # kept for inspection
    assert len(segments(tmp_path)) == 2
    store, _ = run(read_all(tmp_path))
    assert store.recovery.corruptions  # still reported on every open


def test_a_truncated_middle_segment_is_detected(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 300, segment_bytes=4096))
    first, *_ = segments(tmp_path)
    assert len(segments(tmp_path)) >= 3
    os.truncate(first, first.stat().st_size - 10)

    with pytest.raises(CorruptionError, match="file ends inside a frame body"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert store.recovery.skipped_records == 1
    assert len(found) == len(written) - 1


def test_a_middle_segment_cut_at_a_record_boundary_shows_as_missing_positions(
    tmp_path: Path,
) -> None:
    written = run(fill(tmp_path, 300, segment_bytes=4096))
    locations = record_offsets(tmp_path)
    first = segments(tmp_path)[0]
    in_first = [loc for loc in locations if loc[0] == first]
    os.truncate(first, in_first[-2][1])  # drop its last two records

    with pytest.raises(CorruptionError, match="are missing"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert store.recovery.skipped_records == 2
    assert len(found) == len(written) - 2


def test_a_deleted_middle_segment_is_detected(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 300, segment_bytes=4096))
    middle = segments(tmp_path)[1]
    lost = sum(1 for loc in record_offsets(tmp_path) if loc[0] == middle)
    middle.unlink()

    with pytest.raises(CorruptionError, match="missing before it"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert store.recovery.skipped_records == lost
    assert len(found) == len(written) - lost


def test_a_damaged_segment_header_is_reported_and_its_records_still_read(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 5))
    (segment,) = segments(tmp_path)
    flip_byte(segment, 2)

    with pytest.raises(CorruptionError, match="damaged segment header"):
        run(read_all(tmp_path, strict=True))
    store, found = run(read_all(tmp_path))
    assert found == written
    assert store.recovery.skipped_bytes > 0


def test_a_segment_with_only_garbage_is_reported(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 3))
    (tmp_path / segment_name(100)).write_bytes(b"garbage" * 10)
    store, found = run(read_all(tmp_path))
    assert found == written
    assert store.recovery.corruptions[0].reason == "damaged segment header"


def test_a_record_with_a_repeated_position_is_skipped(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    write_at_end(segment, encode_frame(2, 2e9, FLAG_COMMIT, b"s", b"T", b"dup"))
    with pytest.raises(CorruptionError, match="position 2 out of order"):
        run(read_all(tmp_path, strict=True))
    _, found = run(read_all(tmp_path))
    assert found == written


def test_bytes_changed_after_open_are_caught_on_read(tmp_path: Path) -> None:
    run(fill(tmp_path, 3))
    path, offset, size = record_offsets(tmp_path)[1]

    async def read_after_damage() -> None:
        async with FileEventStore(tmp_path) as store:
            flip_byte(path, offset + size - 1)
            assert await store.get(1) is not None
            with pytest.raises(CorruptionError, match=r"position 2 .* changed on disk"):
                await store.get(2)

    run(read_after_damage())


def test_a_file_shorter_than_its_index_is_caught_on_read(tmp_path: Path) -> None:
    run(fill(tmp_path, 3))
    path, offset, _ = record_offsets(tmp_path)[2]

    async def read_after_truncate() -> None:
        async with FileEventStore(tmp_path) as store:
            os.truncate(path, offset + 5)
            with pytest.raises(CorruptionError, match="position 3"):
                await store.get(3)

    run(read_after_truncate())


# -- snapshots -------------------------------------------------------------------------------


def test_a_corrupt_snapshot_is_raised_in_strict_mode_and_ignored_otherwise(tmp_path: Path) -> None:
    async def save() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("a", "T")
            await store.append("b", "T")
            await store.save_snapshot("a", 1, b"state-a")
            await store.save_snapshot("b", 2, b"state-b")

    run(save())
    snapshot_files = sorted((tmp_path / "snapshots").glob("*.snap"))
    assert len(snapshot_files) == 2
    for path in snapshot_files:
        data = path.read_bytes()
        if b"state-a" in data:
            flip_byte(path, len(data) - 1)

    with pytest.raises(CorruptionError, match="snapshot files failed their checks"):
        run(read_all(tmp_path, strict=True))

    async def load() -> list[object]:
        async with FileEventStore(tmp_path) as store:
            assert len(store.recovery.snapshots_skipped) == 1
            assert "corrupt snapshots ignored" in store.recovery.summary()
            return [await store.load_snapshot("a"), await store.load_snapshot("b")]

    missing, kept = run(load())
    assert missing is None
    assert kept is not None


def _snapshot_bytes(body: bytes, magic: bytes = b"EVSNAP01") -> bytes:
    return struct.pack("<8sII", magic, len(body), crc32(body)) + body


@pytest.mark.parametrize(
    "content",
    [
        b"short",
        _snapshot_bytes(b"\xc1", magic=b"EVSNAPXX"),
        _snapshot_bytes(b"\xc1")[:-1] + b"\xc2",
        _snapshot_bytes(b"\xc1"),  # checksum right, not MessagePack
        _snapshot_bytes(msgspec.msgpack.encode(("a", 1, b""))),  # valid, but under a wrong name
    ],
)
def test_snapshot_files_that_fail_to_decode_are_ignored(tmp_path: Path, content: bytes) -> None:
    run(fill(tmp_path, 1))
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "x.snap").write_bytes(content)
    store, _ = run(read_all(tmp_path))
    assert store.recovery.snapshots_skipped == ("x.snap",)


def test_a_snapshot_beyond_the_recovered_log_is_dropped(tmp_path: Path) -> None:
    async def save() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("a", "T", b"1")
            await store.append("a", "T", b"2")
            await store.save_snapshot("a", 2, b"after two")

    run(save())
    (segment,) = segments(tmp_path)
    tear(segment, 3)

    async def load() -> object:
        async with FileEventStore(tmp_path) as store:
            assert store.recovery.snapshots_skipped == ("'a': position 2 beyond the log",)
            return await store.load_snapshot("a")

    assert run(load()) is None


def test_a_fresh_segment_never_replaces_a_damaged_one_with_the_same_start(tmp_path: Path) -> None:
    run(fill(tmp_path, 1))
    (damaged,) = segments(tmp_path)
    as_after_a_crash(tmp_path)  # else position 1 is known lost and never handed out again
    flip_byte(damaged, content_end(damaged) - 1)
    kept = damaged.read_bytes()

    async def append_after() -> int:
        async with FileEventStore(tmp_path) as store:
            return (await store.append("s", "T", b"new")).position

    assert run(append_after()) == 1
    assert damaged.read_bytes() == kept
    assert [p.name for p in segments(tmp_path)] == [
        "00000000000000000001-0000.seg",
        "00000000000000000001-0001.seg",
    ]
    store, found = run(read_all(tmp_path))
    assert [e.payload for e in found] == [b"new"]
    assert len(store.recovery.corruptions) == 1


def test_leftovers_of_an_unfinished_snapshot_write_are_removed(tmp_path: Path) -> None:
    run(fill(tmp_path, 1))
    (tmp_path / "snapshots").mkdir()
    leftover = tmp_path / "snapshots" / "abc.snap.tmp"
    leftover.write_bytes(b"half")
    store, _ = run(read_all(tmp_path, strict=True))
    assert not leftover.exists()
    assert store.recovery.clean


def test_a_file_cut_short_after_it_was_read_is_caught_on_the_next_read(tmp_path: Path) -> None:
    """Reads map segments; a segment that shrank is noticed before its mapping is touched."""
    run(fill(tmp_path, 3))
    path, offset, _ = record_offsets(tmp_path)[2]

    async def read_truncate_read() -> None:
        async with FileEventStore(tmp_path) as store:
            assert [e.position async for e in store.replay()] == [1, 2, 3]
            os.truncate(path, offset + 5)
            assert await store.get(2) is not None
            with pytest.raises(CorruptionError, match="position 3"):
                await store.get(3)
            os.truncate(path, 0)
            with pytest.raises(CorruptionError, match="position 1"):
                await store.get(1)

    run(read_truncate_read())


def frame_whose_checksum_ends_in_zero(position: int) -> tuple[bytes, bytes]:
    """A valid commit frame whose last byte (the top byte of its checksum) is zero, and its
    payload."""
    for i in range(100_000):
        payload = b"%d" % i
        frame = encode_frame(position, 2e9, FLAG_COMMIT, b"s", b"T", payload)
        if frame[-1] == 0:
            return frame, payload
    raise AssertionError("no such frame found")


def test_a_record_whose_checksum_ends_in_zero_bytes_is_content_not_free_space(
    tmp_path: Path,
) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    frame, payload = frame_whose_checksum_ends_in_zero(4)
    write_at_end(segment, frame)

    async def append_after() -> list[StoredEvent]:
        async with FileEventStore(tmp_path, strict=True) as store:
            assert store.recovery.clean
            await store.append("s", "T", b"after")
            return [e async for e in store.replay()]

    found = run(append_after())
    assert found[:3] == written
    assert [e.payload for e in found[3:]] == [payload, b"after"]
    _, offset, size = record_offsets(tmp_path)[4]
    assert content_end(segment) == offset + size


def test_a_damaged_record_whose_checksum_ends_in_zero_is_reported_whole(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 3))
    (segment,) = segments(tmp_path)
    end = content_end(segment)
    frame = bytearray(frame_whose_checksum_ends_in_zero(4)[0])
    frame[-5] ^= 0xFF  # the payload's last byte
    write_at_end(segment, bytes(frame))
    store, found = run(read_all(tmp_path))
    assert found == written
    assert [(c.offset, c.length) for c in store.recovery.corruptions] == [(end, len(frame))]
