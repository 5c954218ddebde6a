from __future__ import annotations

import asyncio

import pytest

from eventbus import (
    BusClosedError,
    CommandTimeoutError,
    EventBus,
    HandlerAlreadyRegisteredError,
    HandlerFailed,
    NoHandlerError,
)
from tests.eventbus.support import Add, Echo, Ping, Recorder, Sleep, run


def test_execute_sync_handler_returns_result() -> None:
    async def scenario() -> int:
        bus = EventBus()
        bus.handle(Add, lambda c: c.a + c.b)
        return await bus.execute(Add(a=2, b=3))

    assert run(scenario()) == 5


def test_execute_async_handler_returns_result() -> None:
    async def echo(command: Echo) -> str:
        await asyncio.sleep(0)
        return command.text.upper()

    async def scenario() -> str:
        bus = EventBus()
        bus.handle(Echo, echo)
        return await bus.execute(Echo(text="hi"), timeout=5)

    assert run(scenario()) == "HI"


def test_execute_works_without_start_and_counts() -> None:
    async def scenario() -> EventBus:
        bus = EventBus()
        bus.handle(Add, lambda c: c.a * c.b)
        assert await bus.execute(Add(a=4, b=5)) == 20
        return bus

    stats = run(scenario()).stats()
    assert stats.commands == 1
    assert stats.commands_failed == 0
    assert stats.command_latency.count == 1


def test_no_handler_is_a_clear_error() -> None:
    async def scenario() -> None:
        await EventBus().execute(Add(a=1, b=2))

    with pytest.raises(NoHandlerError, match="no handler for command Add"):
        run(scenario())


def test_second_handler_is_a_clear_error() -> None:
    bus = EventBus()
    bus.handle(Add, lambda c: 1)
    with pytest.raises(HandlerAlreadyRegisteredError, match="Add already has a handler"):
        bus.handle(Add, lambda c: 2)


def test_handler_can_be_replaced_after_cancel() -> None:
    async def scenario() -> int:
        bus = EventBus()
        first = bus.handle(Add, lambda c: 1)
        first.cancel()
        first.cancel()  # idempotent
        assert not first.active
        bus.handle(Add, lambda c: 2)
        return await bus.execute(Add(a=0, b=0))

    assert run(scenario()) == 2


def test_cancelling_a_replaced_handler_keeps_the_new_one() -> None:
    async def scenario() -> int:
        bus = EventBus()
        old = bus.handle(Add, lambda c: 1)
        old.cancel()
        bus.handle(Add, lambda c: 2)
        old._unregister()  # a stale handle must not remove its successor
        return await bus.execute(Add(a=0, b=0))

    assert run(scenario()) == 2


def test_handler_error_propagates_and_is_recorded() -> None:
    def broken(command: Add) -> int:
        raise ValueError("bad numbers")

    async def scenario() -> tuple[EventBus, Recorder, list[HandlerFailed]]:
        bus = EventBus()
        recorder = Recorder()
        bus.observe(recorder)
        failures: list[HandlerFailed] = []
        bus.subscribe(HandlerFailed, failures.append)
        bus.handle(Add, broken)
        with pytest.raises(ValueError, match="bad numbers"):
            await bus.execute(Add(a=1, b=2))
        return bus, recorder, failures

    bus, recorder, failures = run(scenario())
    stats = bus.stats()
    assert stats.commands_failed == 1
    assert stats.failed == 0  # `failed` counts event handler failures
    assert [t.handler for t in recorder.kinds("failed")] == [
        "tests.eventbus.test_bus_commands.test_handler_error_propagates_and_is_recorded.<locals>"
        ".broken"
    ]
    assert failures[0].message_type == "Add"
    assert failures[0].error == "bad numbers"
    assert bus.failures[0].error == "ValueError: bad numbers"


def test_timeout_raises_command_timeout_error() -> None:
    async def sleepy(command: Sleep) -> None:
        await asyncio.sleep(command.seconds)

    async def scenario() -> EventBus:
        bus = EventBus()
        bus.handle(Sleep, sleepy)
        with pytest.raises(CommandTimeoutError, match=r"Sleep\(.*\) did not finish within 0.01 s"):
            await bus.execute(Sleep(seconds=60), timeout=0.01)
        return bus

    stats = run(scenario()).stats()
    assert stats.command_timeouts == 1
    assert stats.commands_failed == 1


def test_handler_raising_timeout_error_itself_is_not_a_bus_timeout() -> None:
    async def raises_timeout(command: Sleep) -> None:
        raise TimeoutError("upstream timed out")

    async def scenario() -> EventBus:
        bus = EventBus()
        bus.handle(Sleep, raises_timeout)
        with pytest.raises(TimeoutError, match="upstream timed out") as info:
            await bus.execute(Sleep(seconds=0), timeout=10)
        assert not isinstance(info.value, CommandTimeoutError)
        return bus

    assert run(scenario()).stats().command_timeouts == 0


def test_execute_rejects_non_commands() -> None:
    async def scenario() -> None:
        await EventBus().execute(Ping())  # type: ignore[arg-type]

    with pytest.raises(TypeError, match="execute\\(\\) takes a Command, got Ping"):
        run(scenario())


def test_handle_rejects_non_command_types() -> None:
    with pytest.raises(TypeError, match="handle\\(\\) takes a Command subclass"):
        EventBus().handle(Ping, print)  # type: ignore[type-var]


def test_execute_after_stop_is_refused() -> None:
    async def scenario() -> None:
        bus = EventBus()
        bus.handle(Add, lambda c: 0)
        await bus.stop()
        await bus.execute(Add(a=1, b=1))

    with pytest.raises(BusClosedError, match="not executed"):
        run(scenario())


def test_executed_trace_has_latency() -> None:
    async def scenario() -> Recorder:
        bus = EventBus()
        recorder = Recorder()
        bus.observe(recorder)
        bus.handle(Add, lambda c: 0)
        await bus.execute(Add(a=1, b=1))
        return recorder

    (trace,) = run(scenario()).kinds("executed")
    assert trace.latency_s is not None and trace.latency_s >= 0
