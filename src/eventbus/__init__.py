"""eventbus: an asyncio message bus with sessions, observability and a durable event store.

The public API of the bus lives here; the event store is `eventbus.store`.
"""

from eventbus.backpressure import Backpressure
from eventbus.bus import EventBus, StopReport
from eventbus.context import ContextLimits, ContextStore, Overflow
from eventbus.encoding import Codec, from_json, from_msgpack, to_json, to_msgpack
from eventbus.errors import (
    BusClosedError,
    BusNotRunningError,
    CommandTimeoutError,
    ContextOverflowError,
    DecodingError,
    EncodingError,
    EventBusError,
    HandlerAlreadyRegisteredError,
    NoHandlerError,
    QueueFullError,
    SessionClosedError,
)
from eventbus.jsonl import JsonlFileHandler, TraceOverflow
from eventbus.messages import Command, Event, HandlerFailed, Message
from eventbus.middleware import Middleware, Next
from eventbus.observability import ConsoleHandler, TraceFilter, format_trace
from eventbus.registry import Subscription
from eventbus.session import Session
from eventbus.stats import BusStats, HistogramSnapshot
from eventbus.trace import Trace, TraceKind

__all__ = [
    "Backpressure",
    "BusClosedError",
    "BusNotRunningError",
    "BusStats",
    "Codec",
    "Command",
    "CommandTimeoutError",
    "ConsoleHandler",
    "ContextLimits",
    "ContextOverflowError",
    "ContextStore",
    "DecodingError",
    "EncodingError",
    "Event",
    "EventBus",
    "EventBusError",
    "HandlerAlreadyRegisteredError",
    "HandlerFailed",
    "HistogramSnapshot",
    "JsonlFileHandler",
    "Message",
    "Middleware",
    "Next",
    "NoHandlerError",
    "Overflow",
    "QueueFullError",
    "Session",
    "SessionClosedError",
    "StopReport",
    "Subscription",
    "Trace",
    "TraceFilter",
    "TraceKind",
    "TraceOverflow",
    "format_trace",
    "from_json",
    "from_msgpack",
    "to_json",
    "to_msgpack",
]
