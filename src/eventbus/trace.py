"""Trace records: what the bus tells observability handlers about each message."""

from __future__ import annotations

from typing import Literal

import msgspec

from eventbus.messages import Message

TraceKind = Literal[
    "published", "delivered", "failed", "dropped", "rejected", "undelivered", "executed"
]


class Trace(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """One thing that happened to one message.

    `kind` says what: published (accepted into the queue), delivered (all handlers ran),
    failed (a handler raised; `handler` and `error` say which and why), dropped / rejected
    (backpressure), undelivered (left in the queue when stop() hit its deadline), executed
    (a command returned; one that raised is traced as failed).

    Not tracked by the cycle collector (`gc=False`, a quarter cheaper to build: every message
    makes two): a trace refers to its message and strings, never back to itself.
    """

    kind: TraceKind
    message: Message
    at: float
    handler: str | None = None
    error: str | None = None
    latency_s: float | None = None
