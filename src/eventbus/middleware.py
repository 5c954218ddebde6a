"""Middleware: async functions wrapped around the dispatch of every message.

A middleware receives the message and `call_next`; it may inspect or change the message, time
the call, swallow it (not calling `call_next`) or translate errors. For a command, the value
returned by `call_next` is the handler's result; for an event it is None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from eventbus.messages import Message

Next = Callable[[Message], Awaitable[Any]]
Middleware = Callable[[Message, Next], Awaitable[Any]]


def build_chain(middlewares: Sequence[Middleware], terminal: Next) -> Next:
    """Compose so that middlewares[0] is the outermost: it runs first and sees the result last."""
    call = terminal
    for middleware in reversed(middlewares):
        call = _bind(middleware, call)
    return call


def _bind(middleware: Middleware, call_next: Next) -> Next:
    def call(message: Message) -> Awaitable[Any]:
        return middleware(message, call_next)

    return call
