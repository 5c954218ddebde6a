from __future__ import annotations

import asyncio
from typing import Any

from eventbus import EventBus, HandlerFailed, Message, Next
from tests.eventbus.support import Add, Ping, Pong, run


def test_middlewares_wrap_events_and_commands_outermost_first() -> None:
    log: list[str] = []

    async def outer(message: Message, call_next: Next) -> Any:
        log.append(f"outer>{type(message).__name__}")
        result = await call_next(message)
        log.append(f"outer<{result}")
        return result

    async def inner(message: Message, call_next: Next) -> Any:
        log.append("inner>")
        return await call_next(message)

    async def scenario() -> int:
        async with EventBus() as bus:
            bus.use(outer)
            bus.use(inner)
            bus.subscribe(Ping, lambda e: log.append("handler"))
            bus.handle(Add, lambda c: c.a + c.b)
            await bus.publish(Ping())
            await bus.join()
            return await bus.execute(Add(a=1, b=2))

    assert run(scenario()) == 3
    assert log == [
        "outer>Ping",
        "inner>",
        "handler",
        "outer<None",
        "outer>Add",
        "inner>",
        "outer<3",
    ]


def test_middleware_can_swallow_and_removal_restores_fast_path() -> None:
    seen: list[str] = []

    async def only_pings(message: Message, call_next: Next) -> Any:
        if isinstance(message, Ping):
            return await call_next(message)
        return None

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            remove = bus.use(only_pings)
            bus.subscribe(Ping, lambda e: seen.append("ping"))
            bus.subscribe(Pong, lambda e: seen.append("pong"))
            await bus.publish(Pong())
            await bus.publish(Ping())
            await bus.join()
            remove()
            remove()  # idempotent
            assert bus._event_chain is None
            await bus.publish(Pong())
            await bus.join()
        return bus

    bus = run(scenario())
    assert seen == ["ping", "pong"]
    assert bus.stats().delivered == 3


def test_failing_middleware_is_recorded_and_the_bus_keeps_serving() -> None:
    seen: list[int] = []
    failures: list[HandlerFailed] = []

    async def flaky(message: Message, call_next: Next) -> Any:
        if isinstance(message, Ping) and message.n == 1:
            raise RuntimeError("middleware broke")
        return await call_next(message)

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.use(flaky)
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            bus.subscribe(HandlerFailed, failures.append)
            for n in range(3):
                await bus.publish(Ping(n=n))
            await bus.join()
        return bus

    bus = run(scenario())
    assert seen == [0, 2]
    assert bus.stats().failed == 1
    assert failures[0].error == "middleware broke"
    assert bus.stats().accounted


def test_handler_failure_under_middleware_publishes_failure_through_the_chain() -> None:
    passed: list[str] = []

    async def tap(message: Message, call_next: Next) -> Any:
        passed.append(type(message).__name__)
        return await call_next(message)

    def broken(event: Ping) -> None:
        raise ValueError("x")

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.use(tap)
            bus.subscribe(Ping, broken)
            await bus.publish(Ping())
            await bus.join()
        return bus

    bus = run(scenario())
    assert passed == ["Ping", "HandlerFailed"]
    stats = bus.stats()
    assert (stats.published, stats.delivered, stats.failed) == (2, 2, 1)


def test_async_command_handler_through_middleware_with_timeout() -> None:
    async def passthrough(message: Message, call_next: Next) -> Any:
        return await call_next(message)

    async def add(command: Add) -> int:
        return command.a + command.b

    async def scenario() -> int:
        bus = EventBus()
        bus.use(passthrough)
        bus.handle(Add, add)
        return await bus.execute(Add(a=2, b=2), timeout=5)

    assert run(scenario()) == 4


def test_middleware_hit_by_a_foreign_cancellation_is_a_failure() -> None:
    seen: list[int] = []

    async def cancelled_middleware(message: Message, call_next: Next) -> Any:
        if isinstance(message, Ping) and message.n == 1:
            future = asyncio.get_running_loop().create_future()
            future.cancel()
            await future
        return await call_next(message)

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            bus.use(cancelled_middleware)
            bus.subscribe(Ping, lambda e: seen.append(e.n))
            for n in range(3):
                await bus.publish(Ping(n=n))
            await bus.join()
        return bus

    bus = run(scenario())
    assert seen == [0, 2]
    assert bus.stats().failed == 1


def test_stop_deadline_cancels_a_stuck_handler_behind_middleware() -> None:
    async def passthrough(message: Message, call_next: Next) -> Any:
        return await call_next(message)

    async def scenario() -> EventBus:
        started = asyncio.Event()

        async def stuck(event: Ping) -> None:
            started.set()
            await asyncio.Event().wait()

        bus = EventBus()
        bus.use(passthrough)
        bus.subscribe(Ping, stuck)
        await bus.start()
        await bus.publish(Ping(n=1))
        await started.wait()
        report = await bus.stop(deadline=0.02)
        assert report.timed_out and len(report.undelivered) == 1
        return bus

    stats = run(scenario()).stats()
    assert stats.undelivered == 1 and stats.failed == 0 and stats.accounted
