"""Binary (msgpack) and JSON encoding of messages with a round-trip guarantee.

Encoding errors name the offending field (`payload.items[2]`), decoding errors name the field
that failed validation (msgspec's `$.field` path), so a bad payload is found in one look.
JSON cannot represent NaN or infinity: such floats encode as null and fail on decode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar, Union

import msgspec

from eventbus.errors import DecodingError, EncodingError
from eventbus.messages import Message

M = TypeVar("M", bound=Message)

_msgpack_encoder = msgspec.msgpack.Encoder()
_json_encoder = msgspec.json.Encoder()


def to_msgpack(message: Message) -> bytes:
    """Compact binary form of `message`."""
    return _encode(_msgpack_encoder.encode, message, "msgpack")


def to_json(message: Message) -> bytes:
    """JSON form of `message` (UTF-8 bytes)."""
    return _encode(_json_encoder.encode, message, "JSON")


def from_msgpack(data: bytes, message_type: type[M]) -> M:
    """Decode msgpack bytes into `message_type`, validating every field."""
    return _decode(msgspec.msgpack.decode, data, message_type)


def from_json(data: bytes | str, message_type: type[M]) -> M:
    """Decode JSON into `message_type`, validating every field."""
    return _decode(msgspec.json.decode, data, message_type)


class Codec:
    """Encodes any message and decodes bytes into whichever of `types` the `type` tag names."""

    def __init__(self, types: Iterable[type[Message]]) -> None:
        self.types = tuple(types)
        if not self.types:
            raise ValueError("Codec needs at least one message type")
        seen: dict[Any, type[Message]] = {}
        for cls in self.types:
            tag = msgspec.inspect.type_info(cls).tag  # type: ignore[attr-defined]
            if tag in seen:
                raise ValueError(
                    f"{cls.__qualname__} and {seen[tag].__qualname__} share the tag {tag!r};"
                    " give one of them `tag=...` in its class definition"
                )
            seen[tag] = cls
        union: Any = self.types[0] if len(self.types) == 1 else Union[self.types]  # noqa: UP007
        self._msgpack = msgspec.msgpack.Decoder(union)
        self._json = msgspec.json.Decoder(union)

    def encode_msgpack(self, message: Message) -> bytes:
        return to_msgpack(message)

    def encode_json(self, message: Message) -> bytes:
        return to_json(message)

    def decode_msgpack(self, data: bytes) -> Message:
        return _decode_with(self._msgpack.decode, data)

    def decode_json(self, data: bytes | str) -> Message:
        return _decode_with(self._json.decode, data)


def _encode(encode: Callable[[Any], bytes], message: Message, fmt: str) -> bytes:
    try:
        return encode(message)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError) as exc:
        path = _find_unencodable(encode, message, "") or "<message>"
        raise EncodingError(
            f"cannot encode {type(message).__name__} as {fmt}: field `{path}`: {exc}", field=path
        ) from exc


def _decode(decode: Callable[..., Any], data: bytes | str, message_type: type[M]) -> M:
    try:
        result: M = decode(data, type=message_type)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise DecodingError(f"cannot decode {message_type.__name__}: {exc}") from exc
    return result


def _decode_with(decode: Callable[[Any], Any], data: bytes | str) -> Message:
    try:
        result: Message = decode(data)
    except msgspec.DecodeError as exc:
        raise DecodingError(f"cannot decode message: {exc}") from exc
    return result


def _encodes(encode: Callable[[Any], bytes], value: Any) -> bool:
    try:
        encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return False
    return True


def _children(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, msgspec.Struct):
        for name in value.__struct_fields__:
            yield (f"{path}.{name}" if path else name), getattr(value, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}[{key!r}]", key
            yield f"{path}[{key!r}]", item
    elif isinstance(value, (list, tuple, set, frozenset)):
        for index, item in enumerate(value):
            yield f"{path}[{index}]", item


def _find_unencodable(encode: Callable[[Any], bytes], value: Any, path: str) -> str | None:
    """The deepest path under `value` whose value does not encode (None if all encode)."""
    for child_path, child in _children(value, path):
        if not _encodes(encode, child):
            return _find_unencodable(encode, child, child_path) or child_path
    return None
