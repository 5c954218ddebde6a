"""Each queue-full policy, driven deterministically: a bus that is not started yet keeps its
queue, so filling it needs no timing."""

from __future__ import annotations

import asyncio

import pytest

from eventbus import Backpressure, BusClosedError, EventBus, QueueFullError
from tests.eventbus.support import Ping, Recorder, run


def delivered_numbers(bus: EventBus) -> list[int]:
    seen: list[int] = []
    bus.subscribe(Ping, lambda e: seen.append(e.n))
    return seen


def test_reject_raises_and_counts() -> None:
    async def scenario() -> tuple[EventBus, Recorder, list[int]]:
        bus = EventBus(max_queue=2, policy="reject")
        recorder = Recorder()
        bus.observe(recorder)
        seen = delivered_numbers(bus)
        await bus.publish(Ping(n=1))
        await bus.publish(Ping(n=2))
        with pytest.raises(QueueFullError, match=r"bus queue full \(2 events\).*policy reject"):
            await bus.publish(Ping(n=3))
        with pytest.raises(QueueFullError):
            bus.publish_nowait(Ping(n=4))
        await bus.start()
        await bus.join()
        await bus.stop()
        return bus, recorder, seen

    bus, recorder, seen = run(scenario())
    stats = bus.stats()
    assert seen == [1, 2]
    assert (stats.published, stats.delivered, stats.rejected, stats.dropped) == (4, 2, 2, 0)
    assert stats.accounted
    assert [t.message.n for t in recorder.kinds("rejected")] == [3, 4]  # type: ignore[attr-defined]


def test_drop_newest_discards_the_new_event_and_counts() -> None:
    async def scenario() -> tuple[EventBus, Recorder, list[int]]:
        bus = EventBus(max_queue=2, policy=Backpressure.DROP_NEWEST)
        recorder = Recorder()
        bus.observe(recorder)
        seen = delivered_numbers(bus)
        for n in range(1, 5):
            await bus.publish(Ping(n=n))
        bus.publish_nowait(Ping(n=5))
        async with bus:
            await bus.join()
        return bus, recorder, seen

    bus, recorder, seen = run(scenario())
    assert seen == [1, 2]
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.dropped) == (5, 2, 3)
    assert stats.accounted
    dropped = recorder.kinds("dropped")
    assert [t.message.n for t in dropped] == [3, 4, 5]  # type: ignore[attr-defined]
    assert dropped[0].error == "queue full (2), policy drop_newest"


def test_drop_oldest_keeps_the_newest_events() -> None:
    async def scenario() -> tuple[EventBus, Recorder, list[int]]:
        bus = EventBus(max_queue=2, policy=Backpressure.DROP_OLDEST)
        recorder = Recorder()
        bus.observe(recorder)
        seen = delivered_numbers(bus)
        for n in range(1, 5):
            await bus.publish(Ping(n=n))
        async with bus:
            await bus.join()
        return bus, recorder, seen

    bus, recorder, seen = run(scenario())
    assert seen == [3, 4]
    assert [t.message.n for t in recorder.kinds("dropped")] == [1, 2]  # type: ignore[attr-defined]
    assert bus.stats().dropped == 2
    assert bus.stats().accounted


def test_wait_times_out_with_a_rejection() -> None:
    async def scenario() -> EventBus:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=0.01)
        await bus.publish(Ping(n=1))
        with pytest.raises(QueueFullError, match=r"after waiting 0\.01 s"):
            await bus.publish(Ping(n=2))
        with pytest.raises(QueueFullError, match="policy wait"):
            bus.publish_nowait(Ping(n=3))
        return bus

    stats = run(scenario()).stats()
    assert (stats.published, stats.rejected, stats.queue_depth, stats.waiting) == (3, 2, 1, 0)
    assert stats.accounted


def test_wait_resumes_publishers_in_order_when_space_frees() -> None:
    async def scenario() -> tuple[EventBus, list[int]]:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=None)
        seen = delivered_numbers(bus)
        await bus.publish(Ping(n=1))
        loop = asyncio.get_running_loop()
        waiting = [loop.create_task(bus.publish(Ping(n=n))) for n in (2, 3, 4)]
        await asyncio.sleep(0)  # let the publishers reach the full queue
        mid = bus.stats()
        assert mid.waiting == 3 and mid.accounted
        await bus.start()
        await asyncio.gather(*waiting)
        await bus.join()
        await bus.stop()
        return bus, seen

    bus, seen = run(scenario())
    assert seen == [1, 2, 3, 4]
    assert bus.stats().delivered == 4 and bus.stats().accounted


def test_cancelled_waiter_passes_its_slot_on() -> None:
    async def scenario() -> tuple[EventBus, list[int]]:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=None)
        seen: list[int] = []
        loop = asyncio.get_running_loop()
        await bus.publish(Ping(n=1))
        second = loop.create_task(bus.publish(Ping(n=2)))
        third = loop.create_task(bus.publish(Ping(n=3)))

        def on_ping(event: Ping) -> None:
            seen.append(event.n)
            if event.n == 1:
                second.cancel()  # granted a slot already, but cancelled before using it

        bus.subscribe(Ping, on_ping)
        await asyncio.sleep(0)
        await bus.start()
        with pytest.raises(asyncio.CancelledError):
            await second
        await third
        await bus.join()
        await bus.stop()
        return bus, seen

    bus, seen = run(scenario())
    assert seen == [1, 3]
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.rejected) == (3, 2, 1)
    assert stats.accounted


def test_cancelled_waiter_before_grant_is_rejected() -> None:
    async def scenario() -> EventBus:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=None)
        await bus.publish(Ping(n=1))
        waiter = asyncio.get_running_loop().create_task(bus.publish(Ping(n=2)))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return bus

    stats = run(scenario()).stats()
    assert (stats.published, stats.rejected, stats.queue_depth, stats.waiting) == (2, 1, 1, 0)


def test_stop_releases_waiting_publishers_with_an_error() -> None:
    async def scenario() -> tuple[EventBus, BaseException | None]:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=None)
        await bus.publish(Ping(n=1))
        waiter = asyncio.get_running_loop().create_task(bus.publish(Ping(n=2)))
        await asyncio.sleep(0)
        report = await bus.stop()
        assert report.delivered == 1
        error = (await asyncio.gather(waiter, return_exceptions=True))[0]
        return bus, error if isinstance(error, BaseException) else None

    bus, error = run(scenario())
    assert isinstance(error, BusClosedError)
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.rejected) == (2, 1, 1)
    assert stats.accounted


def test_handler_publishing_into_a_full_queue_is_rejected_not_deadlocked() -> None:
    async def scenario() -> EventBus:
        bus = EventBus(max_queue=1, policy="wait", put_timeout=None)

        async def fan_out(event: Ping) -> None:
            if event.n == 0:
                await bus.publish(Ping(n=1))
                await bus.publish(Ping(n=2))  # queue full, and only this task can free it

        bus.subscribe(Ping, fan_out)
        async with bus:
            await bus.publish(Ping(n=0))
            await bus.join()
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert stats.failed == 1
    assert "from a handler" in (bus.failures[0].error or "")
    assert stats.rejected == 1
    assert stats.accounted


def test_invalid_bus_settings() -> None:
    with pytest.raises(ValueError, match="max_queue must be at least 1"):
        EventBus(max_queue=0)
    with pytest.raises(ValueError, match="yield_every"):
        EventBus(yield_every=0)
    with pytest.raises(ValueError, match="'sometimes' is not a valid Backpressure"):
        EventBus(policy="sometimes")
