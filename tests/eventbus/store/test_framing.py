"""The byte layout: frames and segment headers, and how damage to them is classified."""

from __future__ import annotations

import struct
from zlib import crc32

import pytest

from eventbus.store import framing
from eventbus.store.framing import (
    FLAG_COMMIT,
    FRAME_HEADER_SIZE,
    SEGMENT_HEADER_SIZE,
    FrameStatus,
    check_frame,
    decode_body,
    decode_segment_header,
    encode_frame,
    encode_segment_header,
    find_next_frame,
)


def frame(position: int = 7, payload: bytes = b"payload") -> bytes:
    return encode_frame(position, 123.5, FLAG_COMMIT, b"stream", b"Type", payload)


def test_a_frame_round_trips() -> None:
    data = b"junk" + frame()
    check = check_frame(data, 4)
    assert check.status is FrameStatus.OK
    assert check.size == len(data) - 4
    assert decode_body(data, 4, check.size) == (
        7,
        123.5,
        FLAG_COMMIT,
        b"stream",
        b"Type",
        b"payload",
    )


def test_segment_header_round_trips_and_damage_is_seen() -> None:
    header = encode_segment_header(42)
    assert len(header) == SEGMENT_HEADER_SIZE
    assert decode_segment_header(header + b"rest") == 42
    assert decode_segment_header(header[:-1]) is None
    damaged = bytearray(header)
    damaged[10] ^= 1
    assert decode_segment_header(bytes(damaged)) is None


def test_a_header_with_a_wrong_magic_but_right_checksum_is_refused() -> None:
    import struct
    from zlib import crc32

    head = struct.pack("<8sIQ", b"OTHERFMT", 1, 1)
    assert decode_segment_header(head + struct.pack("<I", crc32(head))) is None


@pytest.mark.parametrize(
    ("damage", "status", "reason"),
    [
        (lambda f: f[: FRAME_HEADER_SIZE - 1], FrameStatus.INCOMPLETE, "inside a frame header"),
        (lambda f: f[:-1], FrameStatus.INCOMPLETE, "inside a frame body"),
        (lambda f: b"X" + f[1:], FrameStatus.BAD, "no frame magic"),
        (lambda f: f[:4] + bytes([f[4] ^ 1]) + f[5:], FrameStatus.BAD, "header checksum"),
        (lambda f: f[:-1] + bytes([f[-1] ^ 1]), FrameStatus.BAD, "body checksum"),
    ],
)
def test_damaged_frames_are_classified(damage, status, reason) -> None:  # type: ignore[no-untyped-def]
    check = check_frame(damage(frame()), 0)
    assert check.status is status
    assert reason in check.reason


def test_resync_finds_the_next_valid_frame_after_damage() -> None:
    good = frame(2)
    data = frame(1)[:-3] + b"\x45\x56\x46\x52garbage" + good
    start = find_next_frame(data, 1)
    assert start == len(data) - len(good)
    assert find_next_frame(data[:-1], 1) is None


def test_lead_checksums_are_right_and_their_cache_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(framing, "_LEAD_CACHE_SIZE", 3)
    monkeypatch.setattr(framing, "LEAD_CHECKSUMS", {})
    for length in range(10):
        expected = crc32(struct.pack("<II", framing.FRAME_MAGIC, length))
        assert framing.lead_checksum(length) == expected
        assert framing.LEAD_CHECKSUMS[length] == expected
        assert len(framing.LEAD_CHECKSUMS) <= 3


@pytest.mark.parametrize(
    ("damage", "torn"),
    [
        (lambda f: f[:-4] + bytes(4), True),  # body written, checksum still zero
        (lambda f: f[:20] + bytes(len(f) - 20), True),  # body cut short
        (lambda f: f[:6] + bytes(len(f) - 6), True),  # header cut short
        (lambda f: f[:2] + bytes(len(f) - 2), True),
        (lambda f: f[:-1] + bytes([f[-1] ^ 1]), False),  # whole frame, damaged later
        (lambda f: f[:4] + bytes([f[4] ^ 1]) + f[5:], False),  # damaged length
        (lambda f: b"garbage" + bytes(len(f) - 7), False),
        (lambda f: bytes(len(f)), False),  # zeros are free space, not a frame
    ],
)
def test_a_frame_cut_short_in_zero_filled_space_is_told_from_damage(damage, torn) -> None:  # type: ignore[no-untyped-def]
    whole = frame()
    end = framing.torn_frame_end(b"\0" * 8 + damage(whole) + bytes(100), 8)
    assert end == (
        8 + (len(whole) if len(damage(whole).rstrip(b"\0")) > 12 else 12) if torn else None
    )


def test_a_torn_frame_may_end_past_the_end_of_the_file() -> None:
    whole = frame()
    assert framing.torn_frame_end(whole[:-2], 0) == len(whole)
