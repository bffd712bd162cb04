"""AIM frame headers (domain/aim_frames.py) against the layout the agentim SDK writes."""

from __future__ import annotations

import pytest
from agentim.aim_connection import AimTcpConnection

from agentplaza.domain.aim_frames import (
    FLAG_RESPONSE,
    HEADER_SIZE,
    FrameError,
    FrameHeader,
    FrameType,
    decode_header,
    encode_frame,
)


def test_decodes_what_the_sdk_encodes() -> None:
    sdk = AimTcpConnection("127.0.0.1", 8082, "key", tls=False)
    frame = sdk.encode_frame(FrameType.MESSAGE, {"to": "1"}, stream_id=70000, seq=0x123456)
    header = decode_header(frame, max_length=1024)
    assert header == FrameHeader(FrameType.MESSAGE, 0, 70000, 0x123456, len(frame) - HEADER_SIZE)


def test_encodes_what_the_sdk_would() -> None:
    sdk = AimTcpConnection("127.0.0.1", 8082, "key", tls=False)
    expected = sdk.encode_frame(FrameType.ACK, {"a": 1}, stream_id=1, seq=9, flags=FLAG_RESPONSE)
    payload = expected[HEADER_SIZE:]
    assert encode_frame(FrameType.ACK, payload, flags=FLAG_RESPONSE, stream_id=1, seq=9) == expected


def test_seq_keeps_its_low_24_bits() -> None:
    header = decode_header(encode_frame(FrameType.MESSAGE, seq=0x1_000_005), max_length=0)
    assert header.seq == 5


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"AM\x01", "truncated"),
        (b"XY" + encode_frame(0)[2:], "magic"),
        (b"AM\x02" + encode_frame(0)[3:], "version"),
        (encode_frame(0, b"x" * 11), "exceeds the 10-byte limit"),
    ],
)
def test_refuses_what_is_not_an_acceptable_header(data: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        decode_header(data, max_length=10)
