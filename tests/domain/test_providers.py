"""Provider rules (domain/providers.py): kinds and their aliases, field limits, prices, cost."""

from __future__ import annotations

import math

import pytest

from agentplaza.domain import providers as rules
from agentplaza.domain.errors import Invalid
from agentplaza.domain.providers import ModelPrice


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("openai", "openai"),
        ("OpenAI_Compatible", "openai"),
        ("openai-compatible", "openai"),
        (" ollama ", "openai"),
        ("deepseek", "openai"),
        ("anthropic", "anthropic"),
        ("claude", "anthropic"),
    ],
)
def test_kinds_and_aliases(raw: str, kind: str) -> None:
    assert rules.parse_kind(raw) == kind


@pytest.mark.parametrize("raw", ["gemini", "", None, 3, ["openai"]])
def test_unknown_kinds_are_refused(raw: object) -> None:
    with pytest.raises(Invalid, match="provider_type"):
        rules.parse_kind(raw)


def test_cost_is_per_million_tokens() -> None:
    price = ModelPrice(input=3.0, output=15.0)
    assert math.isclose(rules.cost_usd(price, 1_000_000, 0), 3.0)
    assert math.isclose(rules.cost_usd(price, 2_000, 1_000), 0.006 + 0.015)
    assert rules.cost_usd(None, 10**9, 10**9) == 0.0
    assert rules.cost_usd(price, -5, -5) == 0.0


def test_prices() -> None:
    parsed = rules.validate_prices({"m": {"input": 1, "output": 2.5}, "n": {}})
    assert parsed == {"m": ModelPrice(1.0, 2.5), "n": ModelPrice(0.0, 0.0)}
    bads: list[object] = [
        [],
        {"m": 1},
        {"m": {"input": -1}},
        {"m": {"input": True}},
        {"m": {"output": float("nan")}},
        {"m": {"output": 1e9}},
        {"has space": {"input": 1}},
        {f"m{i}": {} for i in range(rules.PRICES_MAX + 1)},
    ]
    for bad in bads:
        with pytest.raises(Invalid):
            rules.validate_prices(bad)


def test_models_and_the_default_model() -> None:
    assert rules.validate_models(["a", "b", "a"]) == ("a", "b")
    assert rules.with_default_model(("a", "b"), "c") == ("c", "a", "b")
    assert rules.with_default_model(("a", "b"), "b") == ("a", "b")
    assert rules.with_default_model((), None) == ()
    for bad in ("a", ["a b"], [""], [1], ["x" * 129], [f"m{i}" for i in range(201)]):
        with pytest.raises(Invalid):
            rules.validate_models(bad)
    listed = ["ok-model", "bad model", 7, "ok-model"] + [f"m{i}" for i in range(300)]
    found = rules.discovered_models(listed)  # type: ignore[arg-type]
    assert found[0] == "ok-model" and len(found) == rules.MODELS_MAX


def test_limits_and_keys() -> None:
    assert rules.validate_timeout(30) == 30.0
    assert rules.validate_retries(0) == 0 and rules.validate_concurrency(256) == 256
    for call in (
        lambda: rules.validate_timeout(0.5),
        lambda: rules.validate_timeout(float("inf")),
        lambda: rules.validate_retries(11),
        lambda: rules.validate_concurrency(0),
        lambda: rules.validate_name("  "),
        lambda: rules.validate_name("a\nb"),
        lambda: rules.validate_api_key("", kind="anthropic"),
        lambda: rules.validate_api_key("has space", kind="openai"),
    ):
        with pytest.raises(Invalid):
            call()
    assert rules.validate_api_key("", kind="openai") == ""  # a local server may need none
    assert rules.key_hint("sk-0123456789abcdef") == "cdef"
    assert rules.key_hint("short-key") is None
    assert rules.is_provider_id(rules.new_provider_id("AbCdEf0123456789-_xy"))
    assert not rules.is_provider_id("prov_x") and not rules.is_provider_id("other_0123456789")
