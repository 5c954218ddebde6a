from __future__ import annotations

import asyncio
import contextlib

import pytest

from eventbus import BusClosedError, BusNotRunningError, EventBus
from tests.eventbus.support import Ping, Recorder, run


def test_stop_drains_events_queued_before_start() -> None:
    seen: list[int] = []

    async def scenario() -> EventBus:
        bus = EventBus()
        bus.subscribe(Ping, lambda e: seen.append(e.n))
        for n in range(5):
            await bus.publish(Ping(n=n))
        report = await bus.stop()
        assert report.complete and not report.timed_out
        assert report.delivered == 5
        assert report.elapsed_s >= 0
        return bus

    bus = run(scenario())
    assert seen == [0, 1, 2, 3, 4]
    assert not bus.running and bus.closed


def test_stop_reports_what_it_could_not_deliver_by_the_deadline() -> None:
    async def scenario() -> tuple[EventBus, Recorder]:
        never = asyncio.Event()
        started = asyncio.Event()

        async def stuck(event: Ping) -> None:
            started.set()
            await never.wait()

        bus = EventBus()
        recorder = Recorder()
        bus.observe(recorder)
        bus.subscribe(Ping, stuck)
        await bus.start()
        for n in range(3):
            await bus.publish(Ping(n=n))
        await started.wait()
        report = await bus.stop(deadline=0.05)
        assert report.timed_out and not report.complete
        assert [e.n for e in report.undelivered] == [0, 1, 2]  # type: ignore[attr-defined]
        assert report.delivered == 0
        return bus, recorder

    bus, recorder = run(scenario())
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.undelivered) == (3, 0, 3)
    assert stats.in_flight == 0 and stats.queue_depth == 0
    assert stats.accounted
    assert len(recorder.kinds("undelivered")) == 3


def test_stop_is_idempotent_and_the_bus_cannot_restart() -> None:
    async def scenario() -> None:
        bus = EventBus()
        await bus.start()
        first = await bus.stop()
        assert await bus.stop() is first
        with pytest.raises(BusClosedError, match="cannot be started again"):
            await bus.start()

    run(scenario())


def test_publish_after_stop_is_rejected_and_counted() -> None:
    async def scenario() -> tuple[EventBus, Recorder]:
        bus = EventBus()
        recorder = Recorder()
        bus.observe(recorder)
        await bus.stop()
        with pytest.raises(BusClosedError, match="not accepted"):
            await bus.publish(Ping())
        with pytest.raises(BusClosedError):
            bus.publish_nowait(Ping())
        return bus, recorder

    bus, recorder = run(scenario())
    assert bus.stats().rejected == 2
    assert bus.stats().accounted
    assert len(recorder.kinds("rejected")) == 2


def test_join_needs_a_running_bus_when_events_are_queued() -> None:
    async def scenario() -> None:
        bus = EventBus()
        await bus.join()  # nothing queued: returns at once
        await bus.publish(Ping())
        with pytest.raises(BusNotRunningError, match="call start\\(\\) first"):
            await bus.join()

    run(scenario())


def test_start_twice_keeps_one_worker_and_context_manager_stops() -> None:
    async def scenario() -> EventBus:
        async with EventBus() as bus:
            task = bus._task
            await bus.start()
            assert bus._task is task
            assert bus.running and not bus.closed
        return bus

    bus = run(scenario())
    assert not bus.running and bus.closed


def test_stop_while_idle_ends_the_worker() -> None:
    async def scenario() -> None:
        bus = EventBus()
        await bus.start()
        await asyncio.sleep(0)  # the worker parks, waiting for events
        report = await bus.stop(deadline=5)
        assert report.complete and not report.timed_out

    run(scenario())


class Fatal(BaseException):
    """Not an Exception: the bus does not catch it, so it ends the worker."""


def test_a_dead_worker_is_reported_not_waited_for(caplog: pytest.LogCaptureFixture) -> None:
    def fatal(event: Ping) -> None:
        raise Fatal("handler pulled the plug")

    async def scenario() -> EventBus:
        bus = EventBus()
        bus.subscribe(Ping, fatal)
        await bus.start()
        await bus.publish(Ping(n=1))
        await bus.publish(Ping(n=2))
        with pytest.raises(BusNotRunningError):
            await bus.join()
        report = await bus.stop()
        assert [e.n for e in report.undelivered] == [1, 2]  # type: ignore[attr-defined]
        return bus

    bus = run(scenario())
    assert bus.stats().undelivered == 2 and bus.stats().accounted
    assert [r.getMessage() for r in caplog.records if r.name == "eventbus"] == [
        "eventbus worker died"
    ]


def test_stop_ends_a_worker_whose_handler_swallows_cancellation() -> None:
    async def stubborn(event: Ping) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # a badly behaved handler
            await asyncio.Event().wait()

    async def scenario() -> EventBus:
        bus = EventBus()
        bus.subscribe(Ping, stubborn)
        await bus.start()
        await bus.publish(Ping(n=1))
        await bus.publish(Ping(n=2))
        report = await bus.stop(deadline=0.05)
        assert report.timed_out
        assert [e.n for e in report.undelivered] == [2]  # type: ignore[attr-defined]
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert (stats.delivered, stats.undelivered) == (1, 1)
    assert stats.accounted and not bus.running
