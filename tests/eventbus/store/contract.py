"""The contract every EventStore backend passes; subclassed once per backend in test_contract.py.

Not collected on its own (the module name does not start with ``test_``).
"""

from __future__ import annotations

import abc
import asyncio
from pathlib import Path

import pytest

from eventbus.store import (
    BatchTooLargeError,
    EventStore,
    EventTooLargeError,
    InvalidEventError,
    InvalidQueryError,
    NewEvent,
    Snapshot,
    SnapshotError,
    StoreClosedError,
    StoredEvent,
    StoreError,
    StoreLimits,
)
from eventbus.store import base as store_base

from .support import events, run


class StoreContract(abc.ABC):
    @abc.abstractmethod
    def make_store(self, path: Path, limits: StoreLimits | None = None) -> EventStore:
        """A new, unopened store of the backend under test."""

    # -- append ---------------------------------------------------------------------------

    def test_append_assigns_positions_from_one_and_returns_the_event(self, tmp_path: Path) -> None:
        async def scenario() -> list[StoredEvent]:
            async with self.make_store(tmp_path) as store:
                assert store.last_position == 0
                first = await store.append("order-1", "Created", b"abc")
                second = await store.append("order-1", "Paid")
                assert store.last_position == 2
                return [first, second]

        first, second = run(scenario())
        assert (first.position, first.stream, first.type, first.payload) == (
            1,
            "order-1",
            "Created",
            b"abc",
        )
        assert (second.position, second.payload, second.encoded) == (2, b"", False)
        assert 0 < first.timestamp <= second.timestamp

    def test_dict_payload_round_trips_through_msgpack(self, tmp_path: Path) -> None:
        async def scenario() -> tuple[StoredEvent, StoredEvent | None]:
            async with self.make_store(tmp_path) as store:
                written = await store.append("s", "T", {"a": 1, "b": [1, "x"], "c": None})
                return written, await store.get(written.position)

        written, read = run(scenario())
        assert read == written
        assert read.encoded
        assert read.data() == {"a": 1, "b": [1, "x"], "c": None}

    def test_bytes_like_payloads_are_stored_as_bytes(self, tmp_path: Path) -> None:
        async def scenario() -> list[StoredEvent | None]:
            async with self.make_store(tmp_path) as store:
                a = await store.append("s", "T", bytearray(b"ab"))
                b = await store.append("s", "T", memoryview(b"cd"))
                return [await store.get(a.position), await store.get(b.position)]

        read = run(scenario())
        assert [e.data() if e else None for e in read] == [b"ab", b"cd"]

    @pytest.mark.parametrize(
        ("stream", "type", "payload", "message"),
        [
            ("", "T", b"", "stream must be a non-empty string"),
            ("s", 3, b"", "type must be a non-empty string"),
            ("s", "T", 42, "must be bytes or a dict, not int"),
            ("s", "T", {"ok": 1, "bad": 1j}, "payload field 'bad'"),
            ("s", "T", {"a": {"b": [1, object()]}}, "payload field 'a.b[1]'"),
            ("s", "T", {"big": 2**70}, "payload field 'big'"),
            ("s", "x" * 1025, b"", "the limit is 1024"),
            ("s\ud800", "T", b"", "not valid UTF-8"),
        ],
    )
    def test_invalid_events_are_refused_with_a_clear_error_and_nothing_written(
        self, tmp_path: Path, stream: str, type: str, payload: object, message: str
    ) -> None:
        async def scenario() -> int:
            async with self.make_store(tmp_path) as store:
                with pytest.raises(InvalidEventError, match=message.replace("[", r"\[")):
                    await store.append(stream, type, payload)  # type: ignore[arg-type]
                return store.last_position

        assert run(scenario()) == 0

    def test_event_size_limit_is_one_mebibyte_by_default(self, tmp_path: Path) -> None:
        async def scenario() -> int:
            async with self.make_store(tmp_path) as store:
                await store.append("s", "T", b"x" * (1 << 20))
                with pytest.raises(EventTooLargeError, match="1048577 bytes; the limit is 1048576"):
                    await store.append("s", "T", b"x" * ((1 << 20) + 1))
                return store.last_position

        assert run(scenario()) == 1

    # -- batches --------------------------------------------------------------------------

    def test_batch_gets_consecutive_positions(self, tmp_path: Path) -> None:
        async def scenario() -> list[StoredEvent]:
            async with self.make_store(tmp_path) as store:
                await store.append("s", "T")
                await store.append_batch(events(3, "b"))
                assert await store.append_batch([]) == []
                return [e async for e in store.replay(after=1)]

        replayed = run(scenario())
        assert [(e.position, e.stream, e.payload) for e in replayed] == [
            (2, "b", b"e0"),
            (3, "b", b"e1"),
            (4, "b", b"e2"),
        ]

    @pytest.mark.parametrize(
        ("batch", "error", "message"),
        [
            (events(5), BatchTooLargeError, "batch of 5 events; the limit is 4"),
            ([NewEvent("s", "T", b"x" * 60)] * 2, BatchTooLargeError, "total 120 bytes"),
            ([*events(2), NewEvent("s", "T", {"x": 1j})], InvalidEventError, "field 'x'"),
            ([*events(2), "nope"], InvalidEventError, "batch item 2 is str"),
            (NewEvent("s", "T"), InvalidEventError, "must be a list or tuple"),
        ],
    )
    def test_bad_batches_are_refused_before_anything_is_written(
        self, tmp_path: Path, batch: object, error: type[Exception], message: str
    ) -> None:
        limits = StoreLimits(max_batch_events=4, max_batch_bytes=100, max_event_bytes=80)

        async def scenario() -> int:
            async with self.make_store(tmp_path, limits) as store:
                with pytest.raises(error, match=message):
                    await store.append_batch(batch)  # type: ignore[arg-type]
                return len([e async for e in store.replay()])

        assert run(scenario()) == 0

    # -- get and query --------------------------------------------------------------------

    def test_get_returns_the_event_or_none(self, tmp_path: Path) -> None:
        async def scenario() -> list[StoredEvent | None]:
            async with self.make_store(tmp_path) as store:
                await store.append_batch(events(3))
                return [await store.get(p) for p in (0, 1, 3, 4, -1)]

        found = run(scenario())
        assert [e.position if e else None for e in found] == [None, 1, 3, None, None]

    def _populated(self, tmp_path: Path) -> EventStore:
        return self.make_store(tmp_path)

    async def _append_mix(self, store: EventStore) -> list[StoredEvent]:
        """20 events over streams a/b and types X/Y, in four batches of five."""
        written: list[StoredEvent] = []
        for batch in range(4):
            written += await store.append_batch(
                [
                    NewEvent("a" if i % 2 else "b", "X" if i % 3 else "Y", f"{batch}{i}".encode())
                    for i in range(5)
                ]
            )
        return written

    @pytest.mark.parametrize(
        ("stream", "type"), [("a", None), (None, "Y"), ("a", "X"), ("b", "Y"), (None, None)]
    )
    def test_query_filters_by_stream_and_type(
        self, tmp_path: Path, stream: str | None, type: str | None
    ) -> None:
        async def scenario() -> tuple[list[StoredEvent], list[StoredEvent]]:
            async with self.make_store(tmp_path) as store:
                written = await self._append_mix(store)
                page = await store.query(stream=stream, type=type, limit=100)
                assert page.next_after is None
                return written, page.events

        written, found = run(scenario())
        expected = [
            e
            for e in written
            if (stream is None or e.stream == stream) and (type is None or e.type == type)
        ]
        assert expected
        assert found == expected

    def test_query_by_unknown_stream_or_type_is_empty(self, tmp_path: Path) -> None:
        async def scenario() -> list[int]:
            async with self.make_store(tmp_path) as store:
                await self._append_mix(store)
                pages = [
                    await store.query(stream="nope"),
                    await store.query(type="nope"),
                    await store.query(stream="a", type="nope"),
                    await store.query(after=1000),
                ]
                return [len(p.events) for p in pages]

        assert run(scenario()) == [0, 0, 0, 0]

    def test_query_pages_through_results_with_next_after(self, tmp_path: Path) -> None:
        async def scenario() -> list[list[int]]:
            async with self.make_store(tmp_path) as store:
                await self._append_mix(store)
                pages: list[list[int]] = []
                after: int | None = 0
                while after is not None:
                    page = await store.query(stream="a", after=after, limit=3)
                    pages.append([e.position for e in page.events])
                    after = page.next_after
                return pages

        assert run(scenario()) == [[2, 4, 7], [9, 12, 14], [17, 19]]

    def test_a_query_with_two_filters_pages_and_stops_at_until(self, tmp_path: Path) -> None:
        async def scenario() -> list[tuple[list[int], int | None]]:
            async with self.make_store(tmp_path) as store:
                written = await self._append_mix(store)  # stream "a" and type "X": 2, 7, 12, 17
                pages = [
                    await store.query(stream="a", type="X", limit=2),
                    await store.query(stream="a", type="X", until=written[11].timestamp),
                    await store.query(stream="a", type="X", after=7, limit=2),
                ]
                return [([e.position for e in p.events], p.next_after) for p in pages]

        assert run(scenario()) == [([2, 7], 7), ([2, 7], None), ([12, 17], None)]

    @pytest.mark.parametrize(("limit", "more"), [(7, True), (8, False), (9, False)])
    def test_a_filtered_page_says_whether_more_match(
        self, tmp_path: Path, limit: int, more: bool
    ) -> None:
        async def scenario() -> tuple[list[int], int | None]:
            async with self.make_store(tmp_path) as store:
                await self._append_mix(store)  # stream "a": positions 2, 4, ..., 19 (8 events)
                page = await store.query(stream="a", after=1, limit=limit)
                return [e.position for e in page.events], page.next_after

        positions, next_after = run(scenario())
        assert positions == [2, 4, 7, 9, 12, 14, 17, 19][:limit]
        assert next_after == (positions[-1] if more else None)

    def test_a_full_last_page_says_there_is_no_more(self, tmp_path: Path) -> None:
        async def scenario() -> list[int | None]:
            async with self.make_store(tmp_path) as store:
                await store.append_batch(events(10))
                first = await store.query(limit=5)
                second = await store.query(after=first.next_after or 0, limit=5)
                return [first.next_after, second.next_after, second.events[-1].position]

        assert run(scenario()) == [5, None, 10]

    def test_query_by_time_range(self, tmp_path: Path) -> None:
        async def scenario() -> tuple[list[StoredEvent], list[list[StoredEvent]], float]:
            async with self.make_store(tmp_path) as store:
                written = [await store.append("a" if i % 2 else "b", "T") for i in range(12)]
                since, until = written[3].timestamp, written[9].timestamp
                results = [
                    (await store.query(since=since, limit=100)).events,
                    (await store.query(until=until, limit=100)).events,
                    (await store.query(stream="a", since=since, until=until, limit=100)).events,
                    (await store.query(since=until, until=since)).events,
                ]
                return written, results, since

        written, (from_since, to_until, window, empty), since = run(scenario())
        until = written[9].timestamp
        assert from_since == [e for e in written if e.timestamp >= since]
        assert to_until == [e for e in written if e.timestamp < until]
        assert window == [e for e in written if since <= e.timestamp < until and e.stream == "a"]
        assert empty == []
        assert written[3] in from_since

    @pytest.mark.parametrize("limit", [0, -1, 10_001])
    def test_query_limit_out_of_range_is_an_error(self, tmp_path: Path, limit: int) -> None:
        async def scenario() -> None:
            async with self.make_store(tmp_path) as store:
                await store.append("s", "T")
                await store.query(limit=limit)

        with pytest.raises(InvalidQueryError, match="limit must be between 1 and 10000"):
            run(scenario())

    # -- replay ---------------------------------------------------------------------------

    def test_replay_yields_everything_after_a_position_in_order(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(store_base, "REPLAY_CHUNK", 3)

        async def scenario() -> list[list[int]]:
            async with self.make_store(tmp_path) as store:
                await store.append_batch(events(10))
                found = []
                for after in (0, 4, 9, 10, 50):
                    found.append([e.position async for e in store.replay(after=after)])
                return found

        assert run(scenario()) == [
            list(range(1, 11)),
            list(range(5, 11)),
            [10],
            [],
            [],
        ]

    def test_replay_of_an_empty_store_is_empty(self, tmp_path: Path) -> None:
        async def scenario() -> list[StoredEvent]:
            async with self.make_store(tmp_path) as store:
                return [e async for e in store.replay()]

        assert run(scenario()) == []

    # -- snapshots ------------------------------------------------------------------------

    def test_snapshot_saves_and_replaces_state_per_stream(self, tmp_path: Path) -> None:
        async def scenario() -> list[Snapshot | None]:
            async with self.make_store(tmp_path) as store:
                await store.append_batch(events(3, "a"))
                await store.append_batch(events(2, "b"))
                assert await store.load_snapshot("a") is None
                await store.save_snapshot("a", 2, b"two")
                saved = await store.save_snapshot("a", 3, bytearray(b"three"))
                assert saved == Snapshot("a", 3, b"three")
                await store.save_snapshot("b", 5, b"b5")
                return [await store.load_snapshot(s) for s in ("a", "b", "c")]

        assert run(scenario()) == [Snapshot("a", 3, b"three"), Snapshot("b", 5, b"b5"), None]

    @pytest.mark.parametrize(
        ("stream", "position", "state", "message"),
        [
            ("missing", 1, b"", "stream 'missing': it has no events"),
            ("a", 0, b"", r"outside the log \(1..2\)"),
            ("a", 3, b"", r"outside the log \(1..2\)"),
            ("a", 1, "text", "state must be bytes, not str"),
        ],
    )
    def test_bad_snapshots_are_refused(
        self, tmp_path: Path, stream: str, position: int, state: object, message: str
    ) -> None:
        async def scenario() -> None:
            async with self.make_store(tmp_path) as store:
                await store.append_batch(events(2, "a"))
                with pytest.raises(SnapshotError, match=message):
                    await store.save_snapshot(stream, position, state)  # type: ignore[arg-type]
                assert await store.load_snapshot(stream) is None

        run(scenario())

    def test_snapshot_plus_events_after_it_rebuild_state(self, tmp_path: Path) -> None:
        async def scenario() -> bytes:
            async with self.make_store(tmp_path) as store:
                for i in range(5):
                    await store.append("acct", "Deposited", {"amount": i})
                await store.save_snapshot("acct", 3, b"3")  # 0+1+2
                await store.append("other", "Noise")
                await store.append("acct", "Deposited", {"amount": 10})
                snapshot = await store.load_snapshot("acct")
                assert snapshot is not None
                total = int(snapshot.state)
                page = await store.query(stream="acct", after=snapshot.position)
                for event in page.events:
                    data = event.data()
                    assert isinstance(data, dict)
                    total += data["amount"]
                return str(total).encode()

        assert run(scenario()) == b"20"

    # -- lifecycle ------------------------------------------------------------------------

    def test_a_store_that_is_not_open_refuses_work(self, tmp_path: Path) -> None:
        async def scenario() -> None:
            store = self.make_store(tmp_path)
            with pytest.raises(StoreClosedError, match="not open"):
                await store.append("s", "T")
            await store.open()
            with pytest.raises(StoreError, match="already open"):
                await store.open()
            await store.append("s", "T")
            await store.close()
            await store.close()
            for call in (
                store.append("s", "T"),
                store.append_batch(events(1)),
                store.get(1),
                store.query(),
                store.save_snapshot("s", 1, b""),
                store.load_snapshot("s"),
            ):
                with pytest.raises(StoreClosedError):
                    await call
            with pytest.raises(StoreClosedError):
                await store.replay().__anext__()

        run(scenario())

    def test_open_returns_a_clean_recovery_report(self, tmp_path: Path) -> None:
        async def scenario() -> None:
            store = self.make_store(tmp_path)
            report = await store.open()
            assert report is store.recovery
            assert report.clean
            assert (report.records, report.last_position, report.torn_tail_bytes) == (0, 0, 0)
            await store.close()

        run(scenario())

    def test_concurrent_appends_get_unique_consecutive_positions(self, tmp_path: Path) -> None:
        async def scenario() -> tuple[list[StoredEvent], list[StoredEvent]]:
            async with self.make_store(tmp_path) as store:

                async def writer(w: int) -> list[StoredEvent]:
                    return [
                        await store.append(f"w{w}", "T", f"{w}:{i}".encode()) for i in range(20)
                    ]

                results = await asyncio.gather(*(writer(w) for w in range(16)))
                acked = sorted((e for r in results for e in r), key=lambda e: e.position)
                return acked, [e async for e in store.replay()]

        acked, replayed = run(scenario())
        assert [e.position for e in acked] == list(range(1, 321))
        assert replayed == acked

    def test_a_closed_store_can_be_opened_again(self, tmp_path: Path) -> None:
        async def scenario() -> list[int]:
            store = self.make_store(tmp_path)
            async with store:
                await store.append_batch(events(3))
            async with store:
                await store.append("s", "T")
                assert store.last_position == 4
                return [e.position async for e in store.replay()]

        assert run(scenario()) == [1, 2, 3, 4]

    def test_a_cleanly_closed_store_reopens_with_a_verified_tail(self, tmp_path: Path) -> None:
        """After a clean close nothing at the end can go missing unnoticed (the file store
        checks its log against the record of the close; the memory store keeps its events)."""

        async def scenario() -> tuple[bool, bool, int, int]:
            store = self.make_store(tmp_path)
            async with store:
                await store.append_batch(events(3))
            async with store:
                report = store.recovery
                appended = await store.append("s", "T")
                return report.tail_verified, report.clean, store.last_position, appended.position

        assert run(scenario()) == (True, True, 4, 4)
