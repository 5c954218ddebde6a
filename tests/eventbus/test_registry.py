from __future__ import annotations

import functools

from eventbus.registry import (
    HandlerTable,
    Registration,
    Subscription,
    build_route,
    handler_name,
    is_async_callable,
)
from tests.eventbus.support import Ping, SubPing


async def async_handler(event: Ping) -> None:
    pass


def sync_handler(event: Ping) -> None:
    pass


class AsyncCallable:
    async def __call__(self, event: Ping) -> None:
        pass


def test_is_async_callable() -> None:
    assert is_async_callable(async_handler)
    assert is_async_callable(functools.partial(functools.partial(async_handler)))
    assert is_async_callable(AsyncCallable())
    assert not is_async_callable(sync_handler)
    assert not is_async_callable(print)


def test_handler_names() -> None:
    assert handler_name(sync_handler) == "tests.eventbus.test_registry.sync_handler"
    assert handler_name(functools.partial(sync_handler)) == handler_name(sync_handler)
    assert handler_name(AsyncCallable()) == "tests.eventbus.test_registry.AsyncCallable"
    assert handler_name(print) == "builtins.print"


def test_routes_follow_priority_then_registration_and_the_mro() -> None:
    table = HandlerTable()
    low = Registration(Ping, sync_handler, -1)
    high = Registration(SubPing, async_handler, 5)
    same = Registration(Ping, async_handler, -1)
    for registration in (low, high, same):
        table.add_event(registration)
    assert build_route(table.matching(SubPing)) == (
        (async_handler, True),
        (sync_handler, False),
        (async_handler, True),
    )
    assert build_route(table.matching(Ping)) == ((sync_handler, False), (async_handler, True))


def test_remove_event_is_idempotent_and_clears_routes() -> None:
    table = HandlerTable()
    registration = Registration(Ping, sync_handler, 0)
    table.add_event(registration)
    table.routes[Ping] = build_route(table.matching(Ping))
    assert table.remove_event(registration)
    assert table.routes == {} and table.events == {}
    assert not table.remove_event(registration)


def test_subscription_cancel_runs_once() -> None:
    calls: list[int] = []
    subscription = Subscription(lambda: calls.append(1))
    assert subscription.active
    subscription.cancel()
    subscription.cancel()
    assert calls == [1] and not subscription.active
