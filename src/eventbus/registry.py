"""Handler tables (global and per session) and their pre-sorted routes per event type."""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable
from typing import Any

Handler = Callable[[Any], Any]
# A route is what dispatch iterates: (handler, is_async) in priority order.
Route = tuple[tuple[Handler, bool], ...]

_sequence = itertools.count()


class Registration:
    """One handler registered for one message type, in one scope."""

    __slots__ = ("handler", "is_async", "message_type", "priority", "seq")

    def __init__(self, message_type: type, handler: Handler, priority: int) -> None:
        if not callable(handler):
            raise TypeError(f"handler for {message_type.__name__} is not callable: {handler!r}")
        self.message_type = message_type
        self.handler = handler
        self.priority = priority
        self.seq = next(_sequence)
        self.is_async = is_async_callable(handler)


def is_async_callable(handler: Handler) -> bool:
    """True for `async def` functions, partials of them and objects with `async def __call__`."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None)  # noqa: B004 - objects with an async __call__
    )


def handler_name(handler: Handler) -> str:
    """A readable name for errors and traces: module.qualname where there is one."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    module = getattr(handler, "__module__", None)
    return f"{module}.{name}" if module else name


class HandlerTable:
    """The event and command handlers of one scope, plus a cache of resolved routes."""

    __slots__ = ("commands", "events", "routes")

    def __init__(self) -> None:
        self.events: dict[type, list[Registration]] = {}
        self.commands: dict[type, Registration] = {}
        self.routes: dict[type, Route] = {}

    def add_event(self, registration: Registration) -> None:
        self.events.setdefault(registration.message_type, []).append(registration)
        self.routes.clear()

    def remove_event(self, registration: Registration) -> bool:
        registrations = self.events.get(registration.message_type)
        if registrations is None or registration not in registrations:
            return False
        registrations.remove(registration)
        if not registrations:
            del self.events[registration.message_type]
        self.routes.clear()
        return True

    def matching(self, event_type: type) -> list[Registration]:
        """Registrations for `event_type` or any of its base classes."""
        found: list[Registration] = []
        for cls in event_type.__mro__:
            found.extend(self.events.get(cls, ()))
        return found


def build_route(registrations: list[Registration]) -> Route:
    """Highest priority first; equal priorities in registration order."""
    ordered = sorted(registrations, key=lambda r: (-r.priority, r.seq))
    return tuple((r.handler, r.is_async) for r in ordered)


class Subscription:
    """Handle returned by subscribe()/handle(); cancel() unregisters (idempotent)."""

    __slots__ = ("_unregister", "active")

    def __init__(self, unregister: Callable[[], None]) -> None:
        self._unregister = unregister
        self.active = True

    def cancel(self) -> None:
        if self.active:
            self.active = False
            self._unregister()
