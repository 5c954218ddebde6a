"""The bus's routing layer: who handles a message.

The bus keeps one handler table for its global handlers and one per session that registered
any. Routes, the pre-sorted handler tuples per event type, are resolved once and cached until
a (un)subscribe changes them; an event of a session goes to the global handlers and the
session's, in one route.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eventbus.errors import HandlerAlreadyRegisteredError, NoHandlerError
from eventbus.messages import Command, Event, Message
from eventbus.registry import (
    HandlerTable,
    Registration,
    Route,
    Subscription,
    build_route,
    handler_name,
)

E = TypeVar("E", bound=Event)
C = TypeVar("C", bound=Command[Any])


class Routing:
    """Handler registration and route lookup, the base of EventBus (see eventbus.bus)."""

    def __init__(self) -> None:
        self._global = HandlerTable()
        self._scoped: dict[str, HandlerTable] = {}

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Any],
        *,
        priority: int = 0,
        session_id: str | None = None,
    ) -> Subscription:
        """Call `handler` for every event of `event_type` (or a subclass), sync or async.

        Higher `priority` runs first. With `session_id`, only that session's events reach it.
        """
        if not (isinstance(event_type, type) and issubclass(event_type, Event)):
            raise TypeError(f"subscribe() takes an Event subclass, got {event_type!r}")
        registration = Registration(event_type, handler, priority)
        table = self._table(session_id)
        table.add_event(registration)
        if session_id is None:
            self._invalidate_scoped_routes()

        def unregister() -> None:
            if table.remove_event(registration) and session_id is None:
                self._invalidate_scoped_routes()

        return Subscription(unregister)

    def handle(
        self,
        command_type: type[C],
        handler: Callable[[C], Any],
        *,
        session_id: str | None = None,
    ) -> Subscription:
        """Make `handler` the one handler of `command_type` (per scope: global or a session).

        A session's handler serves the commands that carry its session id.
        """
        if not (isinstance(command_type, type) and issubclass(command_type, Command)):
            raise TypeError(f"handle() takes a Command subclass, got {command_type!r}")
        table = self._table(session_id)
        existing = table.commands.get(command_type)
        if existing is not None:
            scope = f"session {session_id!r}" if session_id else "the bus"
            raise HandlerAlreadyRegisteredError(
                f"{command_type.__name__} already has a handler in {scope}: "
                f"{handler_name(existing.handler)}; a command has exactly one handler"
            )
        registration = Registration(command_type, handler, 0)
        table.commands[command_type] = registration

        def unregister() -> None:
            if table.commands.get(command_type) is registration:
                del table.commands[command_type]

        return Subscription(unregister)

    def _table(self, session_id: str | None) -> HandlerTable:
        if session_id is None:
            return self._global
        table = self._scoped.get(session_id)
        if table is None:
            table = self._scoped[session_id] = HandlerTable()
        return table

    def _route_for(self, event: Event) -> Route:
        session_id = event.session_id
        if session_id is not None and session_id in self._scoped:
            return self._resolve_scoped(session_id, type(event))
        route = self._global.routes.get(type(event))
        return route if route is not None else self._resolve_global(type(event))

    def _resolve_global(self, event_type: type) -> Route:
        route = build_route(self._global.matching(event_type))
        self._global.routes[event_type] = route
        return route

    def _resolve_scoped(self, session_id: str, event_type: type) -> Route:
        table = self._scoped[session_id]
        route = table.routes.get(event_type)
        if route is None:
            registrations = self._global.matching(event_type) + table.matching(event_type)
            route = table.routes[event_type] = build_route(registrations)
        return route

    def _invalidate_scoped_routes(self) -> None:
        for table in self._scoped.values():
            table.routes.clear()

    def _command_registration(self, command: Message) -> Registration:
        session_id = command.session_id
        if session_id is not None:
            table = self._scoped.get(session_id)
            if table is not None:
                registration = table.commands.get(type(command))
                if registration is not None:
                    return registration
        registration = self._global.commands.get(type(command))
        if registration is None:
            raise NoHandlerError(
                f"no handler for command {type(command).__name__}; register one with "
                "bus.handle(...)"
            )
        return registration
