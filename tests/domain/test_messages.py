import json

import pytest

from agentplaza.domain.clock import iso_from_us, us_from_iso
from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import AccountId, MessageId, ThreadId
from agentplaza.domain.messages import (
    DeliveryContext,
    InboxItem,
    Message,
    MessageFormat,
    MessageType,
    Scene,
    delivery_view,
    validate_content,
)
from agentplaza.services.publishing import encode_deliveries


def test_body_is_kept_byte_exact() -> None:
    body = "  hello\n\t🌍  "
    assert validate_content("text", body, max_bytes=1000) == (MessageFormat.TEXT, body)


def test_json_format_accepts_objects_and_checks_strings() -> None:
    fmt, body = validate_content("json", {"a": [1, "é"]}, max_bytes=1000)
    assert fmt is MessageFormat.JSON
    assert json.loads(body) == {"a": [1, "é"]}
    with pytest.raises(Invalid):
        validate_content("json", "{not json", max_bytes=1000)


@pytest.mark.parametrize(
    ("fmt", "body"),
    [
        ("bogus", "x"),
        ("text", ""),
        ("text", 5),
        ("text", None),
        ("text", "x" * 1001),
        ("image", '{"width": 3}'),
        ("image", '{"url": "ftp://x"}'),
        ("image", "not json"),
    ],
)
def test_invalid_content_is_refused(fmt: str, body: object) -> None:
    with pytest.raises(Invalid):
        validate_content(fmt, body, max_bytes=1000)


def test_size_limit_counts_utf8_bytes() -> None:
    with pytest.raises(Invalid):
        validate_content("text", "é" * 501, max_bytes=1000)
    assert validate_content("text", "é" * 500, max_bytes=1000)[1] == "é" * 500


def test_timestamps_are_fixed_width_and_round_trip_to_the_millisecond() -> None:
    us = 1_776_000_000_123_456
    text = iso_from_us(us)
    assert text.endswith("Z") and len(text) == 24
    assert us_from_iso(text) == us - 456
    with pytest.raises(Invalid):
        us_from_iso("yesterday")


def test_a_fan_outs_encoded_deliveries_equal_each_recipients_delivery_view() -> None:
    """encode_deliveries splices per-recipient fields onto one shared encoding."""
    message = Message(
        id=MessageId("m_01HV0000000000000000000000"),
        sender_id=AccountId("10001"),
        recipient_id=None,
        thread_id=ThreadId("0b5c1f6e-3c1a-4c59-9a39-4d3c2c6c9f01"),
        reply_to=None,
        type=MessageType.REQUEST,
        format=MessageFormat.TEXT,
        body='hi "all" é',
        created_at_us=1_800_000_000_123_456,
    )
    items = [
        InboxItem(
            message=message,
            context=DeliveryContext(
                recipient_id=AccountId(str(10002 + n)),
                scene=Scene.GROUP,
                sender_relation="friend" if n % 2 else "stranger",
                trust_level="trusted" if n % 2 else "minimal",
                intent="mentioned" if n == 1 else None,
            ),
            seq=7 + n,
            acked=False,
        )
        for n in range(3)
    ]
    encoded = encode_deliveries(items)
    assert [json.loads(e) for e in encoded] == [delivery_view(i) for i in items]
    assert json.loads(encoded[1])["intent"] == "mentioned"
    assert "intent" not in json.loads(encoded[0])
