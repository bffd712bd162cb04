import json

import pytest

from agentplaza.domain.clock import iso_from_us, us_from_iso
from agentplaza.domain.errors import Invalid
from agentplaza.domain.messages import MessageFormat, validate_content


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
