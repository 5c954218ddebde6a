"""What only the file backend does: persistence, segments, locking, group commit, failures."""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventbus.store import (
    FileEventStore,
    InMemoryEventStore,
    InvalidEventError,
    NewEvent,
    Snapshot,
    StoreClosedError,
    StoredEvent,
    StoreError,
    StoreFailedError,
    StoreLimits,
)
from eventbus.store import base as store_base
from eventbus.store import commit as store_commit
from eventbus.store import log as store_log
from eventbus.store import preallocate as store_preallocate
from eventbus.store import prepare as store_prepare
from eventbus.store.reading import SegmentFile, read_events

from .support import content_end, events, fill, read_all, run, segments


def test_events_and_snapshots_survive_a_reopen_and_positions_continue(tmp_path: Path) -> None:
    async def first_session() -> list[StoredEvent]:
        async with FileEventStore(tmp_path) as store:
            written = await store.append_batch(events(3, "a"))
            written.append(await store.append("b", "T", {"k": "v"}))
            await store.save_snapshot("a", 3, b"snap")
            return written

    async def second_session() -> tuple[list[StoredEvent], Snapshot | None, StoredEvent]:
        async with FileEventStore(tmp_path) as store:
            assert store.recovery.clean
            assert store.recovery.records == 4
            replayed = [e async for e in store.replay()]
            return replayed, await store.load_snapshot("a"), await store.append("a", "T")

    written = run(first_session())
    replayed, snapshot, appended = run(second_session())
    assert replayed == written
    assert snapshot == Snapshot("a", 3, b"snap")
    assert appended.position == 5
    assert appended.timestamp >= written[-1].timestamp


def test_segments_rotate_by_size_and_reads_span_them(tmp_path: Path) -> None:
    written = run(fill(tmp_path, 200, segment_bytes=4096))
    files = segments(tmp_path)
    assert len(files) >= 3
    assert all(f.stat().st_size <= 4096 + 200 for f in files)
    store, found = run(read_all(tmp_path, segment_bytes=4096))
    assert found == written
    assert store.recovery.segments == len(files)


def test_segment_size_below_4096_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="segment_bytes must be at least 4096, not 100"):
        FileEventStore(tmp_path, segment_bytes=100)


def test_a_log_directory_is_opened_by_one_store_at_a_time(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("s", "T")
            other = FileEventStore(tmp_path)
            with pytest.raises(StoreError, match="is open elsewhere"):
                await other.open()
            assert not other.is_open
        async with FileEventStore(tmp_path) as again:
            assert again.last_position == 1

    run(scenario())


def test_a_failed_open_releases_the_lock(tmp_path: Path) -> None:
    run(fill(tmp_path, 2))
    (tmp_path / "snapshots").mkdir()
    (tmp_path / "snapshots" / "bad.snap").write_bytes(b"junk")
    with pytest.raises(StoreError):
        run(read_all(tmp_path, strict=True))
    _, found = run(read_all(tmp_path))
    assert len(found) == 2


def test_concurrent_appends_share_one_fdatasync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs: list[int] = []
    real_fdatasync = os.fdatasync

    def counting_fdatasync(fd: int) -> None:
        syncs.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)

    async def scenario() -> list[StoredEvent]:
        async with FileEventStore(tmp_path) as store:
            return await asyncio.gather(*(store.append("s", "T", b"%d" % i) for i in range(64)))

    acked = run(scenario())
    assert sorted(e.position for e in acked) == list(range(1, 65))
    # The first append may go alone; the rest share at most one sync per writer thread.
    assert 1 <= len(syncs) <= 1 + store_commit.MAX_IN_FLIGHT


def test_one_group_commit_never_writes_more_than_its_byte_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_commit, "MAX_WRITE_BYTES", 500)
    sizes: list[int] = []
    real_pwrite = os.pwrite

    def recording_pwrite(fd: int, data: bytes, offset: int) -> int:
        sizes.append(len(data))
        return real_pwrite(fd, data, offset)

    async def scenario() -> list[int]:
        async with FileEventStore(tmp_path) as store:
            monkeypatch.setattr(os, "pwrite", recording_pwrite)
            await asyncio.gather(*(store.append("s", "T", b"x" * 100) for _ in range(20)))
            return [e.position async for e in store.replay()]

    assert run(scenario()) == list(range(1, 21))
    assert max(sizes) <= 500 + 200
    assert len(sizes) >= 4


def test_a_failed_sync_fails_the_waiting_appends_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed fsync cannot be retried safely (the kernel may drop dirty pages): stop writing."""

    def failing_fdatasync(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    async def scenario() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("s", "T", b"durable")
            monkeypatch.setattr(os, "fdatasync", failing_fdatasync)
            results = await asyncio.gather(
                *(store.append("s", "T", b"lost") for _ in range(3)), return_exceptions=True
            )
            assert all(isinstance(r, StoreFailedError) for r in results)
            assert "Input/output error" in str(results[0])
            with pytest.raises(StoreFailedError, match="reopen it"):
                await store.append("s", "T")
            assert store.last_position == 1
            assert (await store.get(1)) is not None
        monkeypatch.undo()
        async with FileEventStore(tmp_path) as reopened:
            assert not reopened.recovery.tail_verified  # a failed store never closes cleanly
            replayed = [e.payload async for e in reopened.replay()]
            assert replayed[0] == b"durable"
            assert all(p == b"lost" for p in replayed[1:])  # written, never acknowledged

    run(scenario())


def test_a_cancelled_append_still_lands_in_order(tmp_path: Path) -> None:
    async def scenario() -> list[bytes]:
        async with FileEventStore(tmp_path) as store:
            task = asyncio.create_task(store.append("s", "T", b"cancelled"))
            await asyncio.sleep(0)
            task.cancel()
            await store.append("s", "T", b"next")
            return [e.payload async for e in store.replay()]

    assert run(scenario()) == [b"cancelled", b"next"]


def test_close_finishes_pending_appends(tmp_path: Path) -> None:
    async def scenario() -> list[StoredEvent]:
        store = FileEventStore(tmp_path)
        await store.open()
        tasks = [asyncio.create_task(store.append("s", "T", b"%d" % i)) for i in range(10)]
        await asyncio.sleep(0)
        await store.close()
        with pytest.raises(StoreClosedError):
            await store.append("s", "T")
        return await asyncio.gather(*tasks)

    acked = run(scenario())
    _, found = run(read_all(tmp_path))
    assert found == acked


def test_closing_during_a_replay_stops_it_with_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_base, "REPLAY_CHUNK", 2)

    async def scenario() -> list[int]:
        seen: list[int] = []
        store = FileEventStore(tmp_path)
        await store.open()
        await store.append_batch(events(6))

        async def consume() -> None:
            async for event in store.replay():
                seen.append(event.position)
                if event.position == 3:
                    await store.close()

        with pytest.raises(StoreClosedError):
            await consume()
        return seen

    assert run(scenario()) == [1, 2, 3, 4]


def test_reading_rows_of_a_closed_store_is_refused(tmp_path: Path) -> None:
    store = FileEventStore(tmp_path)
    with pytest.raises(StoreClosedError, match="closed during a read"):
        store._read_sync([0])


def test_the_clock_never_goes_backwards(tmp_path: Path) -> None:
    async def scenario() -> list[float]:
        async with InMemoryEventStore() as store:
            first = await store.append("s", "T")
            store._last_timestamp = first.timestamp + 1000.0  # as if the wall clock stepped back
            second = await store.append("s", "T")
            return [first.timestamp, second.timestamp]

    first, second = run(scenario())
    assert second == first + 1000.0


def test_the_name_cache_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_prepare, "_NAME_CACHE_SIZE", 3)
    monkeypatch.setattr(store_prepare, "_names", {})
    limits = StoreLimits()
    for i in range(10):
        store_prepare.prepare_event(f"s{i}", "T", b"", limits)
    assert len(store_prepare._names) <= 3


def test_an_unencodable_dict_key_is_named() -> None:
    key = object()
    with pytest.raises(InvalidEventError, match="payload field '<object object"):
        store_prepare.prepare_event("s", "T", {"ok": 1, key: 2}, StoreLimits())


def test_a_batch_lands_in_one_segment(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with FileEventStore(tmp_path, segment_bytes=4096) as store:
            await store.append_batch([NewEvent("s", "T", b"x" * 1000) for _ in range(10)])
            await store.append("s", "T")

    run(scenario())
    files = segments(tmp_path)
    assert len(files) == 2
    assert files[0].stat().st_size > 10_000


def test_a_later_sync_acknowledges_the_batches_written_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overlapping syncs: when batch 2's fdatasync returns, batch 1's bytes are durable too."""
    real_fdatasync = os.fdatasync
    first_started = threading.Event()
    second_done = threading.Event()
    calls = itertools.count()

    def ordered_fdatasync(fd: int) -> None:
        call = next(calls)
        if call == 0:
            first_started.set()
            assert second_done.wait(timeout=30)
        real_fdatasync(fd)
        if call == 1:
            second_done.set()

    async def scenario() -> tuple[bool, list[int]]:
        async with FileEventStore(tmp_path) as store:
            monkeypatch.setattr(os, "fdatasync", ordered_fdatasync)
            first = asyncio.create_task(store.append("s", "T", b"first"))
            assert await asyncio.to_thread(first_started.wait, 30)
            second = await store.append("s", "T", b"second")
            first_done_with_second = first.done()
            await first
            return first_done_with_second, [second.position, store.last_position]

    assert run(scenario()) == (True, [2, 2])


def test_appending_while_the_store_closes_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = FileEventStore(tmp_path)
        await store.open()
        closing = asyncio.create_task(store.close())
        await asyncio.sleep(0)
        with pytest.raises(StoreClosedError, match="closing"):
            await store.append("s", "T")
        await closing

    run(scenario())


def test_queued_appends_are_spread_over_writer_threads_while_syncs_are_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_commit, "SPLIT_ABOVE_SECONDS", -1.0)  # every sync counts as slow
    syncs: list[int] = []
    real_fdatasync = os.fdatasync

    def counting_fdatasync(fd: int) -> None:
        syncs.append(fd)
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)

    async def scenario() -> tuple[list[int], list[int]]:
        async with FileEventStore(tmp_path, segment_bytes=4096) as store:
            acked = await asyncio.gather(*(store.append("s", "T", b"%d" % i) for i in range(200)))
            return [e.position for e in acked], [e.position async for e in store.replay()]

    acked, replayed = run(scenario())
    assert sorted(acked) == replayed == list(range(1, 201))
    assert len(syncs) >= 1 + store_commit.MAX_IN_FLIGHT


def test_a_failed_write_fails_every_queued_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_commit, "SPLIT_ABOVE_SECONDS", -1.0)

    def full_disk_pwrite(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    async def scenario() -> list[BaseException | StoredEvent]:
        async with FileEventStore(tmp_path) as store:
            await store.append("s", "T", b"durable")
            monkeypatch.setattr(os, "pwrite", full_disk_pwrite)
            results = await asyncio.gather(
                *(store.append("s", "T", b"x") for _ in range(40)), return_exceptions=True
            )
            monkeypatch.undo()
            return results

    results = run(scenario())
    assert all(isinstance(r, StoreFailedError) for r in results)
    assert "No space left on device" in str(results[0])
    _, found = run(read_all(tmp_path))
    assert [e.payload for e in found] == [b"durable"]


def test_a_path_that_is_not_a_directory_gives_a_clear_error(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")

    async def scenario() -> None:
        await FileEventStore(not_a_directory).open()

    with pytest.raises(StoreError, match=r"cannot open event log .*file: File exists"):
        run(scenario())


def test_reads_follow_a_segment_as_it_grows(tmp_path: Path) -> None:
    """A segment is mapped for reading; records appended after that are read too."""

    async def scenario() -> list[bytes]:
        async with FileEventStore(tmp_path) as store:
            found = []
            for i in range(5):
                event = await store.append("s", "T", b"%d" % i)
                got = await store.get(event.position)
                assert got is not None
                found.append(got.payload)
            page = await store.query(stream="s")
            assert [e.payload for e in page.events] == found
            return found

    assert run(scenario()) == [b"0", b"1", b"2", b"3", b"4"]


def test_closing_waits_for_reads_in_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Segment files are closed only after every read running in a worker thread is done."""
    entered = threading.Event()
    release = threading.Event()
    order: list[str] = []
    real_read = store_log.read_events

    def held_read(*args: Any) -> list[StoredEvent]:
        entered.set()
        assert release.wait(timeout=30), "close never waited for the read"
        result = real_read(*args)
        order.append("read")
        return result

    real_close = SegmentFile.close

    def recording_close(self: SegmentFile) -> None:
        order.append("close")
        real_close(self)

    class ReleasingCondition(threading.Condition):
        """Lets the read finish once close starts waiting for it."""

        def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
            release.set()
            return super().wait_for(predicate, timeout)

    monkeypatch.setattr(store_log, "read_events", held_read)
    monkeypatch.setattr(SegmentFile, "close", recording_close)

    async def scenario() -> StoredEvent | None:
        store = FileEventStore(tmp_path)
        await store.open()
        store._reading = ReleasingCondition()
        await store.append("s", "T", b"x")
        read = asyncio.create_task(store.get(1))
        assert await asyncio.to_thread(entered.wait, 30)
        await store.close()
        return await read

    event = run(scenario())
    assert event is not None and event.payload == b"x"
    assert order == ["read", "close"]


def test_a_failure_to_encode_fails_the_waiting_appends_and_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_encode(*args: Any) -> Any:
        raise MemoryError("no memory for the batch")

    async def scenario() -> None:
        async with FileEventStore(tmp_path) as store:
            await store.append("s", "T", b"durable")
            monkeypatch.setattr(store_commit, "encode_batch", failing_encode)
            with pytest.raises(StoreFailedError, match="no memory for the batch"):
                await store.append_batch(events(2))
            monkeypatch.undo()
            with pytest.raises(StoreFailedError, match="reopen it"):
                await store.append_batch(events(2))
            with pytest.raises(StoreFailedError, match="reopen it"):
                await store.append("s", "T")

    run(scenario())
    _, found = run(read_all(tmp_path))
    assert [e.payload for e in found] == [b"durable"]


def test_a_batch_appended_while_the_store_closes_is_refused(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = FileEventStore(tmp_path)
        await store.open()
        closing = asyncio.create_task(store.close())
        await asyncio.sleep(0)
        with pytest.raises(StoreClosedError, match="closing"):
            await store.append_batch(events(2))
        await closing

    run(scenario())


def test_zero_filled_space_is_kept_ahead_of_the_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_commit, "PREALLOCATE_BYTES", 8192)
    monkeypatch.setattr(store_preallocate, "PREALLOCATE_BYTES", 8192)

    async def scenario() -> tuple[int, list[StoredEvent]]:
        async with FileEventStore(tmp_path, segment_bytes=1 << 20) as store:
            written = [await store.append("s", "T", b"x" * 500) for _ in range(100)]
            return store._space.fills, written

    fills, written = run(scenario())
    (segment,) = segments(tmp_path)
    end = content_end(segment)
    assert fills >= 5
    assert end < segment.stat().st_size <= end + 8192 + 8192 // 2
    assert segment.read_bytes()[end:] == bytes(segment.stat().st_size - end)
    _, found = run(read_all(tmp_path, strict=True))
    assert found == written


def test_a_write_past_the_zeros_waits_for_the_running_fill(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fill must never write zeros over data: a write that needs the space waits for it."""
    monkeypatch.setattr(store_commit, "PREALLOCATE_BYTES", 4096)
    monkeypatch.setattr(store_preallocate, "PREALLOCATE_BYTES", 4096)
    release = threading.Event()
    order: list[str] = []
    real_zero_fill = store_preallocate.zero_fill
    real_pwrite = os.pwrite

    def held_zero_fill(fd: int, start: int, stop: int) -> None:
        assert release.wait(timeout=30), "the writer never waited for the fill"
        real_zero_fill(fd, start, stop)
        order.append("fill")

    def recording_pwrite(fd: int, data: bytes, offset: int) -> int:
        if any(data):  # not the fill's zeros
            order.append(f"write {len(data)}")
        return real_pwrite(fd, data, offset)

    class ReleasingCondition(threading.Condition):
        """Lets the fill finish once the writer starts waiting for it."""

        def wait_for(self, predicate: Callable[[], Any], timeout: float | None = None) -> Any:
            release.set()
            return super().wait_for(predicate, timeout)

    async def scenario() -> list[StoredEvent]:
        async with FileEventStore(tmp_path, segment_bytes=1 << 20) as store:
            store._space._changed = ReleasingCondition()
            monkeypatch.setattr(store_preallocate, "zero_fill", held_zero_fill)
            monkeypatch.setattr(os, "pwrite", recording_pwrite)
            first = await store.append_batch([NewEvent("s", "T", b"a" * 2500)])
            second = await store.append_batch([NewEvent("s", "T", b"b" * 6000)])
            monkeypatch.undo()
            return first + second

    written = run(scenario())
    assert [o.split()[0] for o in order][:3] == ["write", "fill", "write"]
    _, found = run(read_all(tmp_path, strict=True))
    assert found == written


def test_a_failed_fill_only_makes_the_writes_extend_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_commit, "PREALLOCATE_BYTES", 4096)
    monkeypatch.setattr(store_preallocate, "PREALLOCATE_BYTES", 4096)

    def full_disk_zero_fill(fd: int, start: int, stop: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_preallocate, "zero_fill", full_disk_zero_fill)

    async def scenario() -> tuple[int, int, list[StoredEvent]]:
        async with FileEventStore(tmp_path, segment_bytes=1 << 20) as store:
            written = [await store.append("s", "T", b"x" * 500) for _ in range(20)]
            return store._space.failures, store._space.fills, written

    failures, fills, written = run(scenario())
    assert (failures, fills) == (1, 0)  # tried once for this segment, then left alone
    (segment,) = segments(tmp_path)
    assert segment.stat().st_size == content_end(segment) > 4096
    _, found = run(read_all(tmp_path, strict=True))
    assert found == written


def test_reading_rows_given_as_a_list_or_a_range_gives_the_same_events(tmp_path: Path) -> None:
    """``read_events`` gathers index columns by slice (a range) or by row list (one or many)."""
    written = run(fill(tmp_path, 10))

    async def scenario() -> None:
        async with FileEventStore(tmp_path) as store:
            locations = (store._loc_segment, store._loc_offset, store._loc_size)

            def read(rows: range | list[int]) -> list[StoredEvent]:
                return read_events(store._segments, locations, store._index, rows)

            assert read(range(2, 5)) == read([2, 3, 4]) == written[2:5]
            assert read([7]) == [written[7]]
            assert read([1, 8]) == [written[1], written[8]]

    run(scenario())
