from __future__ import annotations

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventbus import (
    Codec,
    DecodingError,
    EncodingError,
    Event,
    from_json,
    from_msgpack,
    to_json,
    to_msgpack,
)
from tests.eventbus.support import Add, Ping, Pong


class Payload(Event):
    name: str
    count: int
    ratio: float
    tags: list[str]
    attrs: dict[str, int]
    blob: bytes
    maybe: int | None = None


class Nested(Event):
    inner: list[dict[str, object]]


names = st.text(max_size=20)
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
finite = st.floats(allow_nan=False, allow_infinity=False)
payloads = st.builds(
    Payload,
    name=names,
    count=ints,
    ratio=finite,
    tags=st.lists(names, max_size=5),
    attrs=st.dictionaries(names, ints, max_size=5),
    blob=st.binary(max_size=50),
    maybe=st.none() | ints,
    session_id=st.none() | names,
    correlation_id=st.none() | names,
    causation_id=st.none() | names,
)


@given(payloads)
def test_msgpack_round_trip(event: Payload) -> None:
    assert from_msgpack(to_msgpack(event), Payload) == event


@given(payloads)
def test_json_round_trip(event: Payload) -> None:
    assert from_json(to_json(event), Payload) == event


@given(st.lists(st.one_of(payloads, st.builds(Ping, n=ints), st.builds(Pong, text=names))))
def test_codec_round_trips_mixed_types(messages: list[Event]) -> None:
    codec = Codec([Payload, Ping, Pong])
    for message in messages:
        assert codec.decode_msgpack(codec.encode_msgpack(message)) == message
        assert codec.decode_json(codec.encode_json(message)) == message


def test_encoding_carries_a_type_tag() -> None:
    assert msgspec.json.decode(to_json(Ping(n=3)))["type"] == "Ping"


def test_msgpack_is_more_compact_than_json() -> None:
    event = Add(a=1, b=2)
    assert len(to_msgpack(event)) < len(to_json(event))


def test_single_type_codec() -> None:
    codec = Codec([Add])
    command = Add(a=1, b=2)
    assert codec.decode_json(codec.encode_json(command)) == command


class Unserializable:
    pass


def test_unserializable_field_is_named() -> None:
    event = Nested(inner=[{"ok": 1}, {"bad": Unserializable()}])
    with pytest.raises(EncodingError, match=r"field `inner\[1\]\['bad'\]`") as info:
        to_msgpack(event)
    assert info.value.field == "inner[1]['bad']"
    with pytest.raises(EncodingError, match="as JSON"):
        to_json(event)


def test_unserializable_top_level_field_is_named() -> None:
    event = Ping(n=Unserializable())  # type: ignore[arg-type]
    with pytest.raises(EncodingError, match="field `n`") as info:
        to_json(event)
    assert info.value.field == "n"


def test_container_level_failure_names_the_container() -> None:
    # JSON object keys must be strings: the dict itself is the problem, not a value in it.
    event = Nested(inner=[{(1, 2): 3}])  # type: ignore[dict-item]
    with pytest.raises(EncodingError, match=r"field `inner\[0\]`"):
        to_json(event)


def test_integer_out_of_range_is_named() -> None:
    with pytest.raises(EncodingError, match="field `n`"):
        to_msgpack(Ping(n=2**70))


def test_invalid_payload_on_decode_names_the_field() -> None:
    with pytest.raises(DecodingError, match=r"\$\.n"):
        from_json(b'{"type": "Ping", "n": "seven"}', Ping)
    with pytest.raises(DecodingError, match="cannot decode Ping"):
        from_msgpack(b"\xc1", Ping)


def test_codec_decode_errors_are_clear() -> None:
    codec = Codec([Ping, Pong])
    with pytest.raises(DecodingError, match="Invalid value 'Nope'"):
        codec.decode_json(b'{"type": "Nope"}')
    with pytest.raises(DecodingError, match=r"\$\.text"):
        codec.decode_msgpack(msgspec.msgpack.encode({"type": "Pong", "text": 5}))


def test_nan_does_not_survive_json_silently() -> None:
    event = Payload(name="x", count=1, ratio=math.nan, tags=[], attrs={}, blob=b"")
    with pytest.raises(DecodingError, match=r"\$\.ratio"):
        from_json(to_json(event), Payload)


def test_codec_rejects_duplicate_tags() -> None:
    class Ping(Event):  # same class name, same tag as the shared Ping
        pass

    from tests.eventbus.support import Ping as SharedPing

    with pytest.raises(ValueError, match="share the tag 'Ping'"):
        Codec([SharedPing, Ping])


def test_codec_needs_types() -> None:
    with pytest.raises(ValueError, match="at least one"):
        Codec([])
