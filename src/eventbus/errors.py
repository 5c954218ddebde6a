"""The eventbus error family: one base class, one subclass per way a caller can go wrong."""

from __future__ import annotations


class EventBusError(Exception):
    """Base class of every error the bus raises on purpose."""


class EncodingError(EventBusError, ValueError):
    """A message cannot be encoded; `field` is the dotted path of the offending value."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class DecodingError(EventBusError, ValueError):
    """Bytes do not decode into the expected message type; the text names the field."""


class NoHandlerError(EventBusError, LookupError):
    """A command was executed but no handler is registered for its type."""


class HandlerAlreadyRegisteredError(EventBusError):
    """A second handler was registered for a command type (commands have exactly one)."""


class QueueFullError(EventBusError):
    """The bus queue is full and the policy rejects (or a wait timed out); counted as rejected."""


class BusClosedError(EventBusError):
    """The bus is stopping or stopped and accepts no new messages; counted as rejected."""


class CommandTimeoutError(EventBusError, TimeoutError):
    """A command handler did not finish within the timeout given to execute()."""


class SessionClosedError(EventBusError):
    """The session was closed; it can no longer register handlers or send messages."""


class ContextOverflowError(EventBusError):
    """A session context history limit was hit under the `error` overflow policy."""


class BusNotRunningError(EventBusError):
    """An operation needs a started bus (its worker task), e.g. join()."""
