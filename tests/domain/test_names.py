"""Display-name rules against look-alikes (domain/names.py, UTS #39), no server involved."""

import unicodedata

import pytest

from agentplaza.domain.accounts import validate_display_name
from agentplaza.domain.errors import Invalid
from agentplaza.domain.names import (
    UNICODE_VERSION,
    check_name_characters,
    is_default_ignorable,
    is_moderately_restrictive,
    name_skeleton,
    scripts_of,
    skeleton,
)


def test_the_table_is_the_pinned_unicode_version() -> None:
    # Changing it changes stored skeletons: it needs a migration that recomputes them.
    assert UNICODE_VERSION == "17.0.0"


def test_script_extensions_and_ignorables_come_from_the_table() -> None:
    assert scripts_of("a") == {"Latn"}
    assert scripts_of("а") == {"Cyrl"}
    assert scripts_of("明") == {"Hani"}
    assert scripts_of("7") == {"Zyyy"}
    assert "Hira" in scripts_of("ー") and "Kana" in scripts_of("ー")  # a Script_Extensions entry
    assert scripts_of("\ue000") == frozenset()  # private use: no script
    assert scripts_of("\u0378") == frozenset()  # unassigned
    for ch in "\u3164\u115f\u1160\uffa0\u200b\u200d\u00ad\u034f\ufe0f\U000e0041\u2060":
        assert is_default_ignorable(ch), f"U+{ord(ch):04X}"
    for ch in "a 明\u2800":
        assert not is_default_ignorable(ch)


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "小明bot",
        "小明 bot 2",
        "ひらがなカタカナ漢字abc",
        "김철수 bot",
        "漢字한글",
        "注音ㄅㄆ abc",
        "Привет",
        "Ελένη",
        "สวัสดี bot",
        "مرحبا bot",
        "नमस्ते bot",
        "José Núñez",
        "R2-D2 🤖",
        "❤️ fan",
        "123",
    ],
)
def test_accepted_names(name: str) -> None:
    check_name_characters(name)
    assert validate_display_name(f"  {name} ") == name


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("\u3164", "invisible"),
        ("ad\u3164min", "invisible"),
        ("a\u200bb", "invisible"),
        ("ab\u034fcd", "invisible"),
        ("bot\U000e0041", "invisible"),
        ("\ufe0fbot", "invisible"),
        ("a \ufe0fb", "invisible"),  # a selector after a space selects nothing
        ("a\ufe0f\ufe0f", "invisible"),
        ("\u2800\u2800", "visible"),
        ("\u0301", "visible"),  # a lone combining mark
        ("\ue000boss", "unassigned"),
        ("x\u0378", "unassigned"),
        ("\u0430lice", "mix"),  # Cyrillic а + Latin
        ("p\u0430yp\u0430l", "mix"),
        ("\u0391dmin", "mix"),  # Greek Α + Latin
        ("\u0410\u03b2\u0441", "mix"),  # Cyrillic + Greek
        ("مرحبا שלום", "mix"),  # two non-Latin scripts
        ("abc สวัสดี مرحبا", "mix"),  # Latin with two others
    ],
)
def test_refused_names(name: str, why: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_name_characters(name)
    assert why in refused.value.detail


def test_restriction_levels() -> None:
    assert is_moderately_restrictive("")  # nothing but common characters
    assert is_moderately_restrictive("2024 !")
    assert is_moderately_restrictive("日本語テキストとlatin")  # highly restrictive (Japanese)
    assert is_moderately_restrictive("latin and ελληνικά") is False
    assert is_moderately_restrictive("latin and кириллица") is False
    assert is_moderately_restrictive("latin and ქართული")  # Georgian: moderately restrictive


def test_skeleton_is_the_uts39_one() -> None:
    assert skeleton("раураl") == "paypal"  # Cyrillic р, а, у
    assert skeleton("m") == "rn"
    assert skeleton("I") == skeleton("1") == "l"
    assert skeleton("a\u200bb") == "ab"  # invisible characters left out
    assert skeleton("é") == unicodedata.normalize("NFD", "é")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("alice", "Alice"),
        ("alice", "AIice"),
        ("alice", "a1ice"),
        ("modern", "rnodern"),
        ("ape", "аре"),
        ("bob", "ｂｏｂ"),
        ("bob bot", "bob   bot"),
        ("bob bot", "bob\u3000bot"),
        ("bob", "bob\ufe0f"),
        ("scope", "ѕсоре"),
    ],
)
def test_look_alikes_share_a_skeleton(a: str, b: str) -> None:
    assert name_skeleton(a) == name_skeleton(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [("alice", "alicia"), ("bob", "b0b1"), ("小明", "小朋"), ("Ivan", "Иван"), ("ab", "a b")],
)
def test_different_names_keep_different_skeletons(a: str, b: str) -> None:
    assert name_skeleton(a) != name_skeleton(b)
