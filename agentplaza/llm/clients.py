"""The one place that chooses a ModelClient for a provider's kind."""

from __future__ import annotations

from agentplaza.llm.anthropic import AnthropicClient
from agentplaza.llm.base import ModelClient, ProviderConfig, ProviderKind
from agentplaza.llm.openai_compat import OpenAICompatClient
from agentplaza.llm.retrying import RetryPolicy


def open_client(config: ProviderConfig, *, policy: RetryPolicy | None = None) -> ModelClient:
    """A client for `config` (close it with `aclose()`). `policy` overrides the backoff timing
    (tests use short delays); by default it retries `config.max_retries` times."""
    if config.kind is ProviderKind.ANTHROPIC:
        return AnthropicClient(config, policy=policy)
    return OpenAICompatClient(config, policy=policy)
