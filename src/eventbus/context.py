"""Per-session context: a key/value store plus a bounded history of messages.

The history is bounded by count and by encoded size (msgpack bytes). When a new message would
exceed a limit, the overflow policy decides: drop the oldest entries, fold the oldest entries
into one summary message via a hook, or refuse with ContextOverflowError.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from eventbus.encoding import to_msgpack
from eventbus.errors import ContextOverflowError
from eventbus.messages import Message

Summarizer = Callable[[list[Message]], Message]


class Overflow(str, enum.Enum):
    """What a full history does with a new message."""

    DROP_OLDEST = "drop_oldest"
    SUMMARIZE = "summarize"
    ERROR = "error"


@dataclass(frozen=True)
class ContextLimits:
    """History bounds of a session context; `summarize` is required for Overflow.SUMMARIZE."""

    max_messages: int = 1000
    max_bytes: int = 1_000_000
    overflow: Overflow = Overflow.DROP_OLDEST
    summarize: Summarizer | None = None

    def __post_init__(self) -> None:
        if self.max_messages < 1 or self.max_bytes < 1:
            raise ValueError(
                f"context limits must be positive, got max_messages={self.max_messages}, "
                f"max_bytes={self.max_bytes}"
            )
        if self.overflow is Overflow.SUMMARIZE and self.summarize is None:
            raise ValueError("Overflow.SUMMARIZE needs a summarize hook")


class ContextStore:
    """Key/value data and bounded message history of one session."""

    __slots__ = ("_entries", "data", "dropped", "limits", "size_bytes", "summarized")

    def __init__(self, limits: ContextLimits | None = None) -> None:
        self.limits = limits or ContextLimits()
        self.data: dict[str, Any] = {}
        self._entries: deque[tuple[Message, int]] = deque()
        self.size_bytes = 0
        self.dropped = 0
        self.summarized = 0

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.data[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    @property
    def history(self) -> tuple[Message, ...]:
        return tuple(message for message, _ in self._entries)

    def __iter__(self) -> Iterator[Message]:
        return (message for message, _ in self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, message: Message) -> None:
        """Append `message` to the history, applying the overflow policy if a limit is hit."""
        size = len(to_msgpack(message))
        limits = self.limits
        if size > limits.max_bytes:
            raise ContextOverflowError(
                f"{type(message).__name__} is {size} bytes, over the history limit of "
                f"{limits.max_bytes} bytes"
            )
        if self._fits(size):
            self._push(message, size)
            return
        if limits.overflow is Overflow.ERROR:
            raise ContextOverflowError(
                f"session history full ({len(self._entries)} messages, {self.size_bytes} bytes;"
                f" limits {limits.max_messages} messages, {limits.max_bytes} bytes)"
            )
        if limits.overflow is Overflow.SUMMARIZE:
            self._summarize_until_fits(size)
        while not self._fits(size):
            _, old_size = self._entries.popleft()
            self.size_bytes -= old_size
            self.dropped += 1
        self._push(message, size)

    def clear(self) -> None:
        """Forget data and history (counters stay, they describe the session's past)."""
        self.data.clear()
        self._entries.clear()
        self.size_bytes = 0

    def _fits(self, size: int) -> bool:
        limits = self.limits
        return (
            len(self._entries) < limits.max_messages and self.size_bytes + size <= limits.max_bytes
        )

    def _push(self, message: Message, size: int) -> None:
        self._entries.append((message, size))
        self.size_bytes += size

    def _summarize_until_fits(self, size: int) -> None:
        """Fold the oldest half (at least two entries) into one summary until `size` fits.

        Each round shrinks the count by at least one, so this ends; if a lone summary still
        leaves no room, the caller's drop-oldest loop makes it.
        """
        summarize = self.limits.summarize
        assert summarize is not None  # checked by ContextLimits
        while not self._fits(size) and len(self._entries) >= 2:
            take = max(2, len(self._entries) // 2)
            folded = [self._entries.popleft() for _ in range(take)]
            self.size_bytes -= sum(old_size for _, old_size in folded)
            summary = summarize([message for message, _ in folded])
            summary_size = len(to_msgpack(summary))
            self._entries.appendleft((summary, summary_size))
            self.size_bytes += summary_size
            self.summarized += take
