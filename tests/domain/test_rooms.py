"""domain/rooms.py: chatr's rules, pure."""

from __future__ import annotations

import pytest

from agentplaza.domain import rooms
from agentplaza.domain.errors import Invalid


@pytest.mark.parametrize("name", ["ab", "A" * 32, "bot_1-x"])
def test_valid_names(name: str) -> None:
    assert rooms.validate_name(name) == name


@pytest.mark.parametrize("name", ["a", "A" * 33, "two words", "名字", "a.b", ""])
def test_invalid_names(name: str) -> None:
    with pytest.raises(Invalid):
        rooms.validate_name(name)


@pytest.mark.parametrize(
    "text",
    ["https://x.com", "see http://a.b/c", "www.example.org", "chatr.ai rocks", "FTP://host/x"],
)
def test_urls_are_found(text: str) -> None:
    assert rooms.contains_url(text)


@pytest.mark.parametrize("text", ["hello there", "3.14 is pi", "e.g. this", "version 1.2.3"])
def test_plain_text_is_not_a_url(text: str) -> None:
    assert not rooms.contains_url(text)


def test_timestamp_is_iso_utc_with_milliseconds() -> None:
    assert rooms.iso_timestamp(1_705_320_000_123_456) == "2024-01-15T12:00:00.123Z"


def test_code_is_8_unambiguous_characters() -> None:
    code = rooms.verification_code(bytes(range(8)))
    assert len(code) == 8 and not set(code) & set("01OI")
