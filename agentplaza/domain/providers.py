"""LLM providers an owner registers (issue 15): the record, the rules for its fields, costs.

Pure: ids and time are passed in. The API key itself never appears here in clear: a Provider
carries it sealed (llm/sealing.py) and the service opens it only to build a client.
See docs/studio.md, "Providers".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import AccountId

PROVIDER_ID_PREFIX = "prov_"
NAME_MAX_CHARS = 64
API_KEY_MAX_CHARS = 1024
MODEL_ID_MAX_CHARS = 128
MODELS_MAX = 200
PRICES_MAX = 200
PRICE_MAX_USD = 10_000.0
"""Per million tokens: far above any real price, low enough that a typo is caught."""
TIMEOUT_SECS_MIN, TIMEOUT_SECS_MAX, TIMEOUT_SECS_DEFAULT = 1.0, 600.0, 60.0
RETRIES_MAX, RETRIES_DEFAULT = 10, 2
CONCURRENCY_MAX, CONCURRENCY_DEFAULT = 256, 8
PROVIDERS_PER_OWNER_MAX = 50

KIND_OPENAI = "openai"
KIND_ANTHROPIC = "anthropic"
KINDS = (KIND_OPENAI, KIND_ANTHROPIC)
# What other clients call the two protocols; every OpenAI-compatible server speaks "openai".
_KIND_ALIASES = {
    "openai": KIND_OPENAI,
    "openai_compatible": KIND_OPENAI,
    "openai_compat": KIND_OPENAI,
    "openai-compatible": KIND_OPENAI,
    "custom": KIND_OPENAI,
    "azure": KIND_OPENAI,
    "ollama": KIND_OPENAI,
    "vllm": KIND_OPENAI,
    "lmstudio": KIND_OPENAI,
    "lm_studio": KIND_OPENAI,
    "deepseek": KIND_OPENAI,
    "glm": KIND_OPENAI,
    "zhipu": KIND_OPENAI,
    "anthropic": KIND_ANTHROPIC,
    "claude": KIND_ANTHROPIC,
}
_PROVIDER_ID = re.compile(r"^prov_[A-Za-z0-9_-]{8,40}$")
_MODEL_ID = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens."""

    input: float
    output: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Provider:
    id: str
    owner_id: AccountId
    name: str
    kind: str
    """KIND_OPENAI or KIND_ANTHROPIC (llm/base.py::ProviderKind has the same values)."""
    base_url: str | None
    api_key_sealed: str = field(repr=False)
    models: tuple[str, ...]
    default_model: str | None
    prices: Mapping[str, ModelPrice]
    timeout_secs: float
    max_retries: int
    max_concurrency: int
    created_at_us: int
    updated_at_us: int

    def price_of(self, model: str) -> ModelPrice | None:
        return self.prices.get(model)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderChanges:
    """An update: None leaves a field as it is (base_url: `clear_base_url` sets it to None)."""

    name: str | None = None
    kind: str | None = None
    base_url: str | None = None
    clear_base_url: bool = False
    api_key: str | None = None
    models: tuple[str, ...] | None = None
    default_model: str | None = None
    prices: Mapping[str, ModelPrice] | None = None
    timeout_secs: float | None = None
    max_retries: int | None = None
    max_concurrency: int | None = None


def is_provider_id(value: str) -> bool:
    return bool(_PROVIDER_ID.match(value))


def new_provider_id(random_text: str) -> str:
    """`prov_` + url-safe random text (the caller draws it)."""
    return PROVIDER_ID_PREFIX + random_text


def parse_kind(raw: object) -> str:
    """The protocol of `raw` (a kind or a common alias such as "openai_compatible")."""
    if not isinstance(raw, str) or raw.strip().lower() not in _KIND_ALIASES:
        raise Invalid("provider_type must be openai (any OpenAI-compatible endpoint) or anthropic")
    return _KIND_ALIASES[raw.strip().lower()]


def validate_name(raw: str) -> str:
    name = raw.strip()
    if not 1 <= len(name) <= NAME_MAX_CHARS:
        raise Invalid(f"name must be 1-{NAME_MAX_CHARS} characters")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise Invalid("name may not contain control characters")
    return name


def validate_api_key(raw: str, *, kind: str) -> str:
    """The key as sent (an OpenAI-compatible server on the owner's machine may need none)."""
    key = raw.strip()
    if len(key) > API_KEY_MAX_CHARS:
        raise Invalid(f"api_key must be at most {API_KEY_MAX_CHARS} characters")
    if any(not 0x21 <= ord(ch) <= 0x7E for ch in key):
        raise Invalid("api_key may hold printable ASCII only")
    if not key and kind == KIND_ANTHROPIC:
        raise Invalid("api_key is required for an anthropic provider")
    return key


def validate_model_id(raw: str, what: str = "model") -> str:
    model = raw.strip()
    if not _MODEL_ID.match(model):
        raise Invalid(f"{what} must be 1-{MODEL_ID_MAX_CHARS} printable characters, no spaces")
    return model


def validate_models(raw: object) -> tuple[str, ...]:
    """Distinct model ids in the order given."""
    if not isinstance(raw, list | tuple) or not all(isinstance(m, str) for m in raw):
        raise Invalid("models must be a list of model ids")
    if len(raw) > MODELS_MAX:
        raise Invalid(f"models lists at most {MODELS_MAX} ids")
    return tuple(dict.fromkeys(validate_model_id(m, "each model") for m in raw))


def discovered_models(listed: list[str]) -> tuple[str, ...]:
    """What an endpoint listed, kept when it fits the rules (some list thousands)."""
    kept = [m for m in listed if isinstance(m, str) and _MODEL_ID.match(m)]
    return tuple(dict.fromkeys(kept))[:MODELS_MAX]


def validate_prices(raw: object) -> dict[str, ModelPrice]:
    """`{model: {"input": usd_per_mtok, "output": usd_per_mtok}}`."""
    if not isinstance(raw, Mapping):
        raise Invalid('prices must be an object {model: {"input": usd, "output": usd}}')
    if len(raw) > PRICES_MAX:
        raise Invalid(f"prices has at most {PRICES_MAX} models")
    prices: dict[str, ModelPrice] = {}
    for model, price in raw.items():
        model_id = validate_model_id(str(model), "each priced model")
        if not isinstance(price, Mapping):
            raise Invalid(f'prices[{model_id!r}] must be {{"input": usd, "output": usd}}')
        prices[model_id] = ModelPrice(
            input=_price(price.get("input", 0), model_id, "input"),
            output=_price(price.get("output", 0), model_id, "output"),
        )
    return prices


def _price(raw: Any, model: str, which: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise Invalid(f"prices[{model!r}].{which} must be a number (USD per 1M tokens)")
    value = float(raw)
    if not math.isfinite(value) or not 0 <= value <= PRICE_MAX_USD:
        raise Invalid(f"prices[{model!r}].{which} must be 0-{PRICE_MAX_USD:g}")
    return value


def validate_timeout(raw: float) -> float:
    if not math.isfinite(raw) or not TIMEOUT_SECS_MIN <= raw <= TIMEOUT_SECS_MAX:
        raise Invalid(f"timeout must be {TIMEOUT_SECS_MIN:g}-{TIMEOUT_SECS_MAX:g} seconds")
    return float(raw)


def validate_retries(raw: int) -> int:
    if not 0 <= raw <= RETRIES_MAX:
        raise Invalid(f"max_retries must be 0-{RETRIES_MAX}")
    return raw


def validate_concurrency(raw: int) -> int:
    if not 1 <= raw <= CONCURRENCY_MAX:
        raise Invalid(f"max_concurrency must be 1-{CONCURRENCY_MAX}")
    return raw


def with_default_model(models: tuple[str, ...], default: str | None) -> tuple[str, ...]:
    """The default model is always one of the listed models (added at the front if not)."""
    if default is None or default in models:
        return models
    return (default, *models)[:MODELS_MAX]


def cost_usd(price: ModelPrice | None, input_tokens: int, output_tokens: int) -> float:
    """What the tokens cost at `price` (0 when the owner set no price for the model)."""
    if price is None:
        return 0.0
    return (max(input_tokens, 0) * price.input + max(output_tokens, 0) * price.output) / 1e6


def key_hint(api_key: str) -> str | None:
    """The last four characters, shown so an owner can tell keys apart; None for short keys
    (where four characters would be most of the secret)."""
    return api_key[-4:] if len(api_key) >= 16 else None
