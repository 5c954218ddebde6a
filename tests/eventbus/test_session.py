from __future__ import annotations

import pytest

from eventbus import ContextLimits, EventBus, SessionClosedError
from tests.eventbus.support import Add, Echo, Ping, run


def test_session_and_global_handlers_both_receive_session_events() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            bus.subscribe(Ping, lambda e: seen.append(f"global:{e.session_id}"), priority=1)
            one = bus.session("one")
            two = bus.session("two")
            one.subscribe(Ping, lambda e: seen.append(f"one:{e.n}"), priority=5)
            two.subscribe(Ping, lambda e: seen.append(f"two:{e.n}"))
            await one.publish(Ping(n=1))
            await two.publish(Ping(n=2))
            await bus.publish(Ping(n=3))
            await bus.join()
            one.close()
            two.close()

    run(scenario())
    assert seen == [
        "one:1",
        "global:one",
        "global:two",
        "two:2",
        "global:None",
    ]


def test_close_unregisters_handlers_and_frees_context() -> None:
    seen: list[str] = []

    async def scenario() -> EventBus:
        async with EventBus() as bus:
            session = bus.session("s")
            session.subscribe(Ping, lambda e: seen.append("session"))
            session.handle(Add, lambda c: -1)
            session.context["user"] = "ada"
            await session.publish(Ping())
            await bus.join()
            assert bus.stats().sessions == 1
            session.close()
            session.close()  # idempotent
            assert session.closed
            assert len(session.context) == 0 and "user" not in session.context
            await bus.publish(Ping(session_id="s"))  # no session handler any more
            await bus.join()
            assert bus._scoped == {} and bus._sessions == {}
        return bus

    bus = run(scenario())
    assert seen == ["session"]
    assert bus.stats().sessions == 0


def test_async_with_closes_the_session() -> None:
    async def scenario() -> None:
        bus = EventBus()
        async with bus.session() as session:
            assert session.id.startswith("s-")
            session.subscribe(Ping, print)
        assert session.closed
        with session as again:  # sync context manager too
            assert again is session
        with pytest.raises(SessionClosedError, match="is closed"):
            session.subscribe(Ping, print)
        with pytest.raises(SessionClosedError):
            await session.publish(Ping())
        with pytest.raises(SessionClosedError):
            session.handle(Add, print)

    run(scenario())


def test_session_commands_take_precedence_for_their_session() -> None:
    async def scenario() -> list[int]:
        bus = EventBus()
        bus.handle(Add, lambda c: c.a + c.b)
        session = bus.session()
        session.handle(Add, lambda c: 100 * (c.a + c.b))
        results = [
            await session.execute(Add(a=1, b=2)),
            await bus.execute(Add(a=1, b=2)),
            await bus.execute(Add(a=1, b=2, session_id="someone-else")),
        ]
        session.close()
        results.append(await bus.execute(Add(a=1, b=2, session_id=session.id)))
        return results

    assert run(scenario()) == [300, 3, 3, 3]


def test_session_falls_back_to_global_command_handler() -> None:
    async def scenario() -> str:
        bus = EventBus()
        bus.handle(Echo, lambda c: c.text)
        async with bus.session() as session:
            session.subscribe(Ping, print)  # the session has a table, but no Echo handler
            return await session.execute(Echo(text="hi"))

    assert run(scenario()) == "hi"


def test_messages_get_the_session_id_and_enter_history() -> None:
    async def scenario() -> None:
        bus = EventBus()
        bus.handle(Add, lambda c: 0)
        session = bus.session("me")
        event = Ping(n=1)
        session.publish_nowait(event)
        await session.execute(Add(a=1, b=1))
        assert event.session_id == "me"
        assert [type(m).__name__ for m in session.context.history] == ["Ping", "Add"]
        with pytest.raises(ValueError, match="belongs to session 'other', not 'me'"):
            await session.publish(Ping(session_id="other"))
        session.close()

    run(scenario())


def test_duplicate_session_id_is_refused() -> None:
    bus = EventBus()
    bus.session("dup")
    with pytest.raises(ValueError, match="'dup' is already open"):
        bus.session("dup")


def test_session_limits_are_passed_to_its_context() -> None:
    bus = EventBus()
    session = bus.session(limits=ContextLimits(max_messages=3))
    assert session.context.limits.max_messages == 3


def test_global_subscription_after_session_routes_were_cached() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            session = bus.session("s")
            session.subscribe(Ping, lambda e: seen.append("session"))
            await session.publish(Ping())
            await bus.join()
            late = bus.subscribe(Ping, lambda e: seen.append("late global"), priority=9)
            await session.publish(Ping())
            await bus.join()
            late.cancel()
            await session.publish(Ping())
            await bus.join()
            session.close()

    run(scenario())
    assert seen == ["session", "late global", "session", "session"]


def test_session_subscription_cancel() -> None:
    seen: list[str] = []

    async def scenario() -> None:
        async with EventBus() as bus:
            session = bus.session("s")
            sub = session.subscribe(Ping, lambda e: seen.append("x"))
            sub.cancel()
            await session.publish(Ping())
            await bus.join()
            session.close()

    run(scenario())
    assert seen == []
