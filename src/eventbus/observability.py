"""Observability handlers' shared parts: trace filters, the readable line, handler stats, and
the console handler. The JSONL file handler lives in `eventbus.jsonl`.

Handlers are bus observers (`bus.observe(handler)`): they receive Trace records synchronously,
so they must be cheap. Write failures are counted in `stats`; they never reach the bus.
"""

from __future__ import annotations

import datetime
import logging
import sys
from collections.abc import Collection
from typing import TextIO

import msgspec

from eventbus.messages import Message
from eventbus.trace import Trace, TraceKind

log = logging.getLogger("eventbus.observability")


class TraceFilter:
    """Accepts traces by message type (isinstance), session id and kind; None accepts all."""

    __slots__ = ("kinds", "sessions", "types")

    def __init__(
        self,
        *,
        types: Collection[type[Message]] | None = None,
        sessions: Collection[str] | None = None,
        kinds: Collection[TraceKind] | None = None,
    ) -> None:
        self.types = tuple(types) if types is not None else None
        self.sessions = frozenset(sessions) if sessions is not None else None
        self.kinds = frozenset(kinds) if kinds is not None else None

    def __call__(self, trace: Trace) -> bool:
        if self.kinds is not None and trace.kind not in self.kinds:
            return False
        if self.sessions is not None and trace.message.session_id not in self.sessions:
            return False
        return self.types is None or isinstance(trace.message, self.types)


def format_trace(trace: Trace) -> str:
    """One readable line: time, kind, type, ids, then handler/error/latency when present."""
    message = trace.message
    clock = datetime.datetime.fromtimestamp(trace.at).strftime("%H:%M:%S.%f")[:-3]
    parts = [clock, f"{trace.kind:<11}", type(message).__name__, f"id={message.id}"]
    if message.session_id is not None:
        parts.append(f"session={message.session_id}")
    if message.correlation_id is not None:
        parts.append(f"correlation={message.correlation_id}")
    if trace.handler is not None:
        parts.append(f"handler={trace.handler}")
    if trace.latency_s is not None:
        parts.append(f"latency={trace.latency_s * 1e6:.1f}us")
    if trace.error is not None:
        parts.append(f"error={trace.error!r}")
    return " ".join(parts).replace("\n", "\\n")


class HandlerStats(msgspec.Struct, kw_only=True):
    """What an observability handler did with the traces it accepted.

    `traced` counts traces accepted (past the filter); each ends written or lost, so once the
    handler is closed `written + lost == traced`. `lost` is every trace not written: write
    errors plus the overflow drops, which are also counted by reason (`dropped_oldest`,
    `dropped_newest`, `dropped_deadline`; `dropped` is their sum).
    """

    traced: int = 0
    written: int = 0
    lost: int = 0
    errors: int = 0
    rotations: int = 0
    dropped_oldest: int = 0
    dropped_newest: int = 0
    dropped_deadline: int = 0
    last_error: str | None = None

    @property
    def dropped(self) -> int:
        return self.dropped_oldest + self.dropped_newest + self.dropped_deadline


class ConsoleHandler:
    """Prints one line per accepted trace to `stream` (stderr by default)."""

    def __init__(self, stream: TextIO | None = None, *, filter: TraceFilter | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.filter = filter
        self.stats = HandlerStats()

    def __call__(self, trace: Trace) -> None:
        if self.filter is not None and not self.filter(trace):
            return
        try:
            self.stream.write(format_trace(trace) + "\n")
        except (OSError, ValueError) as exc:  # closed or broken stream
            self.stats.errors += 1
            self.stats.lost += 1
            self.stats.last_error = f"cannot write to console: {exc}"
        else:
            self.stats.written += 1
