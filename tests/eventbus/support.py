"""Message types and helpers shared by the eventbus tests."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from eventbus import Command, Event, Trace

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run one test coroutine on a fresh event loop (closed afterwards)."""
    return asyncio.run(coro)


class Ping(Event):
    n: int = 0


class SubPing(Ping):
    """A subclass: handlers of Ping see it too."""


class Pong(Event):
    text: str = ""


class Add(Command[int]):
    a: int
    b: int


class Echo(Command[str]):
    text: str


class Sleep(Command[None]):
    seconds: float


class Recorder:
    """An observer keeping every trace."""

    def __init__(self) -> None:
        self.traces: list[Trace] = []

    def __call__(self, trace: Trace) -> None:
        self.traces.append(trace)

    def kinds(self, kind: str) -> list[Trace]:
        return [t for t in self.traces if t.kind == kind]
