from __future__ import annotations

import asyncio
import functools
import gc
from typing import Any

import pytest

from eventbus import Event, EventBus, HandlerFailed
from tests.eventbus.support import Ping, Pong, Recorder, SubPing, run


def test_publish_reaches_sync_and_async_handlers_in_priority_order() -> None:
    calls: list[str] = []

    async def async_low(event: Ping) -> None:
        await asyncio.sleep(0)
        calls.append(f"low{event.n}")

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Ping, async_low, priority=-5)
            bus.subscribe(Ping, lambda e: calls.append(f"high{e.n}"), priority=10)
            bus.subscribe(Ping, lambda e: calls.append(f"mid{e.n}"))
            bus.subscribe(Ping, lambda e: calls.append(f"mid2-{e.n}"))
            await bus.publish(Ping(n=1))
            await bus.join()

    run(scenario())
    assert calls == ["high1", "mid1", "mid2-1", "low1"]


def test_events_are_delivered_in_publish_order() -> None:
    seen: list[int] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            for n in range(100):
                await bus.publish(Ping(n=n))
            await bus.join()

    run(scenario())
    assert seen == list(range(100))


def test_base_class_subscribers_see_subclasses() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Event, lambda e: seen.append(f"any:{type(e).__name__}"))
            bus.subscribe(Ping, lambda e: seen.append(f"ping:{type(e).__name__}"))
            bus.subscribe(SubPing, lambda e: seen.append("sub"))
            await bus.publish(SubPing())
            await bus.publish(Pong())
            await bus.join()

    run(scenario())
    assert seen == ["any:SubPing", "ping:SubPing", "sub", "any:Pong"]  # registration order


def test_event_without_subscribers_is_delivered_to_nobody() -> None:
    async def scenario() -> EventBus:
        async with EventBus() as bus:
            await bus.publish(Pong())
            await bus.join()
        return bus

    stats = run(scenario()).stats()
    assert (stats.published, stats.delivered, stats.handler_calls) == (1, 1, 0)


def test_unsubscribe_stops_delivery_and_rebuilds_route() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            first = bus.subscribe(Ping, lambda e: seen.append("a"))
            bus.subscribe(Ping, lambda e: seen.append("b"))
            await bus.publish(Ping())
            await bus.join()
            first.cancel()
            await bus.publish(Ping())
            await bus.join()

    run(scenario())
    assert seen == ["a", "b", "b"]


def test_failing_handler_does_not_stop_the_others() -> None:
    seen: list[str] = []
    failures: list[HandlerFailed] = []

    def broken(event: Ping) -> None:
        raise RuntimeError(f"boom {event.n}")

    async def async_broken(event: Ping) -> None:
        raise KeyError("async boom")

    async def scenario() -> tuple[EventBus, Recorder]:
        recorder = Recorder()
        async with EventBus() as bus:
            bus.observe(recorder)
            bus.subscribe(HandlerFailed, failures.append)
            bus.subscribe(Ping, broken, priority=2)
            bus.subscribe(Ping, async_broken, priority=1)
            bus.subscribe(Ping, lambda e: seen.append(f"ok{e.n}"))
            event = Ping(n=7)
            await bus.publish(event)
            await bus.join()
        return bus, recorder

    bus, recorder = run(scenario())
    assert seen == ["ok7"]
    stats = bus.stats()
    assert stats.failed == 2
    assert stats.published == 3  # the event and two HandlerFailed events
    assert stats.delivered == 3
    assert [f.error_type for f in failures] == ["RuntimeError", "KeyError"]
    assert failures[0].error == "boom 7"
    assert failures[0].handler.endswith("broken")
    assert failures[0].causation_id == failures[0].message_id
    assert [t.error for t in recorder.kinds("failed")] == [
        "RuntimeError: boom 7",
        "KeyError: 'async boom'",
    ]


def test_failing_failure_handler_does_not_loop() -> None:
    def broken_failure_handler(event: HandlerFailed) -> None:
        raise RuntimeError("failure handler broke")

    def broken(event: Ping) -> None:
        raise RuntimeError("boom")

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.subscribe(HandlerFailed, broken_failure_handler)
            bus.subscribe(Ping, broken)
            await bus.publish(Ping())
            await bus.join()
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert stats.failed == 2
    assert stats.published == 2
    assert stats.delivered == 2
    assert [t.error for t in bus.failures] == [
        "RuntimeError: boom",
        "RuntimeError: failure handler broke",
    ]


def test_partials_and_async_callable_objects_are_awaited() -> None:
    seen: list[str] = []

    class AsyncHandler:
        async def __call__(self, event: Ping) -> None:
            await asyncio.sleep(0)
            seen.append("object")

    async def tagged(tag: str, event: Ping) -> None:
        await asyncio.sleep(0)
        seen.append(tag)

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Ping, AsyncHandler())
            bus.subscribe(Ping, functools.partial(tagged, "partial"))
            await bus.publish(Ping())
            await bus.join()

    run(scenario())
    assert seen == ["object", "partial"]


def test_publish_rejects_non_events() -> None:
    from tests.eventbus.support import Add

    async def scenario() -> None:
        bus = EventBus()
        with pytest.raises(TypeError, match="publish\\(\\) takes an Event, got Add"):
            await bus.publish(Add(a=1, b=1))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="publish_nowait\\(\\) takes an Event"):
            bus.publish_nowait(Add(a=1, b=1))  # type: ignore[arg-type]

    run(scenario())


def test_subscribe_rejects_bad_arguments() -> None:
    bus = EventBus()
    with pytest.raises(TypeError, match="subscribe\\(\\) takes an Event subclass"):
        bus.subscribe(int, print)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="handler for Ping is not callable"):
        bus.subscribe(Ping, "nope")  # type: ignore[arg-type]


def test_handler_can_publish_follow_up_events() -> None:
    seen: list[Pong] = []

    async def scenario() -> None:
        async with EventBus() as bus:

            async def relay(event: Ping) -> None:
                await bus.publish(Pong(text=str(event.n)).caused_by(event))

            bus.subscribe(Ping, relay)
            bus.subscribe(Pong, seen.append)
            await bus.publish(Ping(n=4))
            await bus.join()

    run(scenario())
    assert [p.text for p in seen] == ["4"]
    assert seen[0].causation_id is not None


def test_publish_nowait_enqueues() -> None:
    seen: list[int] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            bus.publish_nowait(Ping(n=1))
            bus.publish_nowait(Ping(n=2))
            await bus.join()

    run(scenario())
    assert seen == [1, 2]


def test_queued_events_allocate_nothing_the_cycle_collector_tracks() -> None:
    """A queued event costs no GC-tracked object (no (time, event) tuple): with traces keeping
    messages alive, each one counted towards a collection that walked the whole queue."""

    async def scenario() -> int:
        events = [Ping(n=n) for n in range(2000)]
        async with EventBus(max_queue=5000) as bus:
            gc.collect()
            gc.disable()
            try:
                before = gc.get_count()[0]
                for event in events:  # the worker gets no turn: all 2000 stay queued
                    bus.publish_nowait(event)
                allocated = gc.get_count()[0] - before
            finally:
                gc.enable()
            assert bus.stats().queue_depth == 2000
            await bus.join()
        return allocated

    assert run(scenario()) < 100  # one tuple per event was 2000


def test_observers_see_published_and_delivered_and_can_be_removed() -> None:
    async def scenario() -> tuple[Recorder, Recorder]:
        kept, removed = Recorder(), Recorder()
        async with EventBus() as bus:
            bus.observe(kept)
            remove = bus.observe(removed)
            await bus.publish(Ping(n=1))
            await bus.join()
            remove()
            await bus.publish(Ping(n=2))
            await bus.join()
        return kept, removed

    kept, removed = run(scenario())
    assert [(t.kind, t.message.n) for t in kept.traces] == [  # type: ignore[attr-defined]
        ("published", 1),
        ("delivered", 1),
        ("published", 2),
        ("delivered", 2),
    ]
    assert len(removed.traces) == 2
    assert kept.kinds("delivered")[0].latency_s is not None


def test_broken_observer_is_counted_not_fatal() -> None:
    def broken(trace: object) -> None:
        raise RuntimeError("observer down")

    seen: list[int] = []

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.observe(broken)
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            await bus.publish(Ping(n=1))
            await bus.join()
        return bus

    bus = run(scenario())
    assert seen == [1]
    assert bus.stats().observer_errors == 2  # published + delivered


def test_worker_yields_to_other_tasks_during_a_burst() -> None:
    progress: list[int] = []

    async def scenario() -> None:
        async with EventBus(yield_every=10) as bus:
            delivered = 0

            def count(event: Ping) -> None:
                nonlocal delivered
                delivered += 1

            bus.subscribe(Ping, count)

            async def observer_task() -> None:
                while delivered < 100:
                    progress.append(delivered)
                    await asyncio.sleep(0)

            for n in range(100):
                bus.publish_nowait(Ping(n=n))
            watcher = asyncio.get_running_loop().create_task(observer_task())
            await bus.join()
            await watcher

    run(scenario())
    # The watcher saw intermediate progress: the worker did not run the burst in one go.
    assert any(0 < p < 100 for p in progress)


def test_unprintable_handler_error_is_still_recorded() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    def broken(event: Ping) -> None:
        raise Unprintable

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.subscribe(Ping, broken)
            await bus.publish(Ping())
            await bus.join()
        return bus

    bus = run(scenario())
    assert bus.failures[0].error == "Unprintable: <unprintable Unprintable>"


@pytest.mark.parametrize("with_middleware", [False, True])
def test_handler_hit_by_a_foreign_cancellation_is_a_failure_not_the_end(
    with_middleware: bool,
) -> None:
    seen: list[int] = []

    async def victim(event: Ping) -> None:
        future = asyncio.get_running_loop().create_future()
        future.cancel()
        await future  # raises CancelledError, but nobody cancelled the bus

    async def passthrough(message: object, call_next: Any) -> Any:
        return await call_next(message)

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            if with_middleware:
                bus.use(passthrough)
            bus.subscribe(Ping, victim, priority=1)
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            await bus.publish(Ping(n=1))
            await bus.publish(Ping(n=2))
            await bus.join()
        return bus

    bus = run(scenario())
    assert seen == [1, 2]
    assert bus.stats().failed == 2
    assert bus.failures[0].error == "CancelledError: "


def test_every_kind_of_callable_observes_and_a_broken_object_is_counted() -> None:
    """Handler objects are called through their bound ``__call__`` (a faster call); plain
    functions, bound methods and builtins as they are. Each sees every trace once."""

    class Holder:
        def __init__(self) -> None:
            self.traces: list[object] = []

        def take(self, trace: object) -> None:
            self.traces.append(trace)

    class Broken:
        def __call__(self, trace: object) -> None:
            raise RuntimeError("observer object down")

    builtin: list[object] = []
    holder, obj = Holder(), Recorder()

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            for observer in (builtin.append, holder.take, obj, Broken()):
                bus.observe(observer)
            await bus.publish(Ping(n=1))
            await bus.join()
        return bus

    bus = run(scenario())
    assert len(builtin) == len(holder.traces) == len(obj.traces) == 2
    assert builtin == holder.traces == obj.traces
    assert bus.stats().observer_errors == 2  # the broken object, published + delivered
