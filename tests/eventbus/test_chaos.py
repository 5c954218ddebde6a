"""Under injected failures, delays and memory pressure the bus keeps serving and its
statistics stay true to what the chaos toolkit actually did."""

from __future__ import annotations

import asyncio

import pytest

from eventbus import Backpressure, EventBus, HandlerFailed
from tests.eventbus.chaos import Chaos, ChaosError, memory_pressure
from tests.eventbus.support import Add, Ping, run


def test_toolkit_is_deterministic_for_a_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        chaos = Chaos(seed, failure_rate=0.5)
        handler = chaos.wrap_sync(lambda m: None)
        result = []
        for _ in range(50):
            try:
                handler(None)
                result.append(True)
            except ChaosError:
                result.append(False)
        return result

    assert outcomes(7) == outcomes(7)
    assert outcomes(7) != outcomes(8)
    assert 10 < outcomes(7).count(False) < 40


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_failing_handlers_at_a_rate_keep_the_bus_serving(seed: int) -> None:
    events = 3000
    chaos = Chaos(seed, failure_rate=0.2)
    healthy: list[int] = []
    failure_events: list[HandlerFailed] = []

    async def scenario() -> EventBus:
        async with EventBus(max_queue=500) as bus:
            bus.subscribe(Ping, chaos.wrap(lambda e: None))
            bus.subscribe(Ping, chaos.wrap_sync(lambda e: None))
            bus.subscribe(Ping, lambda e: healthy.append(e.n), priority=-1)
            bus.subscribe(HandlerFailed, failure_events.append)
            for n in range(events):
                await bus.publish(Ping(n=n))
            await bus.join()
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert healthy == list(range(events))  # the healthy handler saw every event, in order
    assert chaos.failures > 0
    assert stats.failed == chaos.failures == len(failure_events)
    assert stats.published == events + chaos.failures
    assert stats.delivered == stats.published
    assert stats.handler_calls == 3 * events + chaos.failures  # + the HandlerFailed listener
    assert stats.accounted


def test_injected_latency_with_drops_keeps_every_event_accounted_for() -> None:
    chaos = Chaos(11, delay_rate=0.3, max_delay=0.002)
    delivered: list[int] = []

    async def scenario() -> EventBus:
        async with EventBus(max_queue=20, policy=Backpressure.DROP_NEWEST) as bus:
            bus.subscribe(Ping, chaos.wrap(lambda e: delivered.append(e.n)))
            for n in range(400):
                await bus.publish(Ping(n=n))
                if n % 50 == 0:
                    await asyncio.sleep(0.001)  # publishers pause now and then; not a sync
            await bus.join()
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert chaos.delays > 0
    assert stats.dropped > 0
    assert stats.delivered == len(delivered)
    assert stats.delivered + stats.dropped == stats.published == 400
    assert delivered == sorted(delivered)  # FIFO survives the stalls


def test_commands_under_chaos_fail_or_answer_and_are_counted() -> None:
    chaos = Chaos(5, failure_rate=0.3, delay_rate=0.2, max_delay=0.001)

    async def add(command: Add) -> int:
        return command.a + command.b

    async def scenario() -> tuple[EventBus, int, int]:
        bus = EventBus()
        wrapped = chaos.wrap(add)

        async def handler(command: Add) -> int:
            await wrapped(command)
            return command.a + command.b

        bus.handle(Add, handler)
        answered = failed = 0
        for n in range(300):
            try:
                assert await bus.execute(Add(a=n, b=1), timeout=5) == n + 1
                answered += 1
            except ChaosError:
                failed += 1
        return bus, answered, failed

    bus, answered, failed = run(scenario())
    stats = bus.stats()
    assert failed == chaos.failures > 0
    assert stats.commands == 300 and stats.commands_failed == failed
    assert answered + failed == 300


@pytest.mark.integration
def test_bus_serves_correctly_under_memory_pressure() -> None:
    chaos = Chaos(3, failure_rate=0.05)

    async def scenario() -> EventBus:
        async with EventBus(max_queue=1000) as bus:
            bus.subscribe(Ping, chaos.wrap_sync(lambda e: None))
            for n in range(20_000):
                await bus.publish(Ping(n=n))
            await bus.join()
        return bus

    with memory_pressure(256) as ballast:
        bus = run(scenario())
        assert len(ballast) == 256
    stats = bus.stats()
    assert stats.failed == chaos.failures
    assert stats.delivered == 20_000 + chaos.failures
    assert stats.accounted


def test_chaotic_sessions_close_cleanly() -> None:
    chaos = Chaos(9, failure_rate=0.25)

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            for round_ in range(20):
                async with bus.session() as session:
                    session.subscribe(Ping, chaos.wrap_sync(lambda e: None))
                    for n in range(10):
                        await session.publish(Ping(n=round_ * 10 + n))
                    await bus.join()
        return bus

    bus = run(scenario())
    stats = bus.stats()
    assert stats.sessions == 0 and bus._scoped == {}
    assert stats.failed == chaos.failures
    assert stats.accounted
