from __future__ import annotations

import pytest

from eventbus import ContextLimits, ContextOverflowError, ContextStore, Message, Overflow
from eventbus.encoding import to_msgpack
from tests.eventbus.support import Ping, Pong


def size(message: Message) -> int:
    return len(to_msgpack(message))


def test_data_store() -> None:
    store = ContextStore()
    store["k"] = 1
    assert store["k"] == 1 and "k" in store
    assert store.get("missing", 7) == 7
    store.clear()
    assert "k" not in store


def test_drop_oldest_on_count_limit() -> None:
    store = ContextStore(ContextLimits(max_messages=3))
    for n in range(5):
        store.record(Ping(n=n))
    assert [m.n for m in store] == [2, 3, 4]  # type: ignore[attr-defined]
    assert store.dropped == 2
    assert len(store) == 3


def test_drop_oldest_on_size_limit() -> None:
    one = size(Pong(id="x" * 10, timestamp=0.0, text="a" * 100))
    store = ContextStore(ContextLimits(max_bytes=2 * one + 10))
    for n in range(4):
        store.record(Pong(id=f"{n}" * 10, timestamp=0.0, text="a" * 100))
    assert [m.id for m in store.history] == ["2" * 10, "3" * 10]
    assert store.size_bytes == 2 * one
    assert store.dropped == 2


def test_error_policy_refuses_and_keeps_history() -> None:
    store = ContextStore(ContextLimits(max_messages=2, overflow=Overflow.ERROR))
    store.record(Ping(n=1))
    store.record(Ping(n=2))
    with pytest.raises(ContextOverflowError, match="session history full \\(2 messages"):
        store.record(Ping(n=3))
    assert [m.n for m in store] == [1, 2]  # type: ignore[attr-defined]


def test_message_bigger_than_the_limit_is_refused_under_every_policy() -> None:
    for overflow in (Overflow.DROP_OLDEST, Overflow.ERROR):
        store = ContextStore(ContextLimits(max_bytes=50, overflow=overflow))
        with pytest.raises(ContextOverflowError, match="over the history limit of 50 bytes"):
            store.record(Pong(text="x" * 100))


class Summary(Pong):
    folded: int = 0


def test_summarize_folds_the_oldest_half_into_one_message() -> None:
    folded_batches: list[list[int]] = []

    def summarize(messages: list[Message]) -> Message:
        folded_batches.append([getattr(m, "n", -1) for m in messages])
        return Summary(text="summary", folded=len(messages))

    store = ContextStore(
        ContextLimits(max_messages=4, overflow=Overflow.SUMMARIZE, summarize=summarize)
    )
    for n in range(5):
        store.record(Ping(n=n))
    history = store.history
    assert folded_batches == [[0, 1]]
    assert isinstance(history[0], Summary) and history[0].folded == 2
    assert [m.n for m in history[1:]] == [2, 3, 4]  # type: ignore[attr-defined]
    assert store.summarized == 2
    assert store.dropped == 0


def test_summary_that_does_not_shrink_falls_back_to_dropping() -> None:
    def bloated(messages: list[Message]) -> Message:
        return Pong(text="y" * 400)

    limit = size(Pong(text="y" * 400)) + 5
    store = ContextStore(
        ContextLimits(max_bytes=limit, overflow=Overflow.SUMMARIZE, summarize=bloated)
    )
    store.record(Ping(n=1))
    store.record(Ping(n=2))
    store.record(Pong(text="z" * 400))  # forces folding; the summary itself is too big
    assert store.size_bytes <= limit
    assert [getattr(m, "text", "")[:1] for m in store] == ["z"]
    assert store.dropped >= 1


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        ContextLimits(max_messages=0)
    with pytest.raises(ValueError, match="needs a summarize hook"):
        ContextLimits(overflow=Overflow.SUMMARIZE)
