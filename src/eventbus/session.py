"""Sessions: a scope for handlers and a context store, undone completely by close().

A session knows its bus only as a SessionHost, the few calls it makes; EventBus implements
them, so this module imports nothing of the bus and the bus imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar

from eventbus.context import ContextLimits, ContextStore
from eventbus.errors import SessionClosedError
from eventbus.messages import Command, Event, Message
from eventbus.registry import Subscription

R = TypeVar("R")
E = TypeVar("E", bound=Event)
C = TypeVar("C", bound=Command[Any])
M = TypeVar("M", bound=Message)


class SessionHost(Protocol):
    """What a session needs of the bus that opened it (EventBus implements it)."""

    def subscribe(
        self,
        event_type: type[E],
        handler: Callable[[E], Any],
        *,
        priority: int = 0,
        session_id: str | None = None,
    ) -> Subscription: ...

    def handle(
        self, command_type: type[C], handler: Callable[[C], Any], *, session_id: str | None = None
    ) -> Subscription: ...

    async def publish(self, event: Event) -> None: ...

    def publish_nowait(self, event: Event) -> None: ...

    async def execute(self, command: Command[R], timeout: float | None = None) -> R: ...

    def _attach_session(self, session: Session) -> None: ...

    def _detach_session(self, session_id: str) -> None: ...


class Session:
    """Handlers registered here see only this session's messages; the bus's global handlers
    see them too. Messages sent through the session get its id and enter its history.

    Open with `bus.session()`; close with close() or `async with` / `with`.
    """

    __slots__ = ("_bus", "closed", "context", "id")

    def __init__(self, bus: SessionHost, session_id: str, limits: ContextLimits | None) -> None:
        self._bus = bus
        self.id = session_id
        self.context = ContextStore(limits)
        self.closed = False
        bus._attach_session(self)

    def subscribe(
        self, event_type: type[E], handler: Callable[[E], Any], *, priority: int = 0
    ) -> Subscription:
        self._check_open()
        return self._bus.subscribe(event_type, handler, priority=priority, session_id=self.id)

    def handle(self, command_type: type[C], handler: Callable[[C], Any]) -> Subscription:
        self._check_open()
        return self._bus.handle(command_type, handler, session_id=self.id)

    async def publish(self, event: Event) -> None:
        await self._bus.publish(self._claim(event))

    def publish_nowait(self, event: Event) -> None:
        self._bus.publish_nowait(self._claim(event))

    async def execute(self, command: Command[R], timeout: float | None = None) -> R:
        return await self._bus.execute(self._claim(command), timeout)

    def close(self) -> None:
        """Unregister everything this session registered and free its context (idempotent)."""
        if not self.closed:
            self.closed = True
            self.context.clear()
            self._bus._detach_session(self.id)

    def __enter__(self) -> Session:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self.closed:
            raise SessionClosedError(f"session {self.id!r} is closed")

    def _claim(self, message: M) -> M:
        self._check_open()
        if message.session_id is None:
            message.session_id = self.id
        elif message.session_id != self.id:
            raise ValueError(
                f"{type(message).__name__} belongs to session {message.session_id!r}, "
                f"not {self.id!r}"
            )
        self.context.record(message)
        return message
