"""Trace records: what the bus tells observability handlers about each message, and their
JSON line (what the JSONL handler writes)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import msgspec

from eventbus.encoding import to_json
from eventbus.errors import EncodingError
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


_line_encoder = msgspec.json.Encoder()
_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, msgspec.EncodeError)


def encode_trace(trace: Trace) -> bytes:
    """One JSON object, no newline: the trace with its message embedded (tagged with its type).

    A message that cannot be encoded is written as its type and id plus the encoding error,
    so the line stays valid JSON and the failure is visible where it happened."""
    try:
        return _line_encoder.encode(trace)
    except _ENCODE_ERRORS:
        pass
    message = trace.message
    try:
        to_json(message)
    except EncodingError as exc:
        problem = str(exc)
    else:  # pragma: no cover - the trace fails only through its message
        problem = "cannot encode trace"
    return _line_encoder.encode(
        {
            "kind": trace.kind,
            "at": trace.at,
            "message": {"type": type(message).__name__, "id": message.id},
            "handler": trace.handler,
            "error": f"{trace.error}; {problem}" if trace.error else problem,
            "latency_s": trace.latency_s,
        }
    )


def encode_traces(traces: Iterable[Trace]) -> bytes:
    """Newline-delimited JSON for a batch: one encoder call, or line by line if one is bad."""
    try:
        return _line_encoder.encode_lines(traces)
    except _ENCODE_ERRORS:
        return b"".join(encode_trace(trace) + b"\n" for trace in traces)
