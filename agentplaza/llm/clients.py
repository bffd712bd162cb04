"""The one place that chooses a ModelClient for a provider's kind."""

from __future__ import annotations

from agentplaza.llm.base import ModelClient, ProviderConfig, ProviderKind
from agentplaza.llm.retrying import RetryPolicy


def open_client(config: ProviderConfig, *, policy: RetryPolicy | None = None) -> ModelClient:
    """A client for `config` (close it with `aclose()`). `policy` overrides the backoff timing
    (tests use short delays); by default it retries `config.max_retries` times."""
    # Each package is imported on first use, not with this module: importing `anthropic` costs
    # seconds of CPU (`openai` about half that), which a server without such providers never pays.
    if config.kind is ProviderKind.ANTHROPIC:
        from agentplaza.llm.anthropic import AnthropicClient

        return AnthropicClient(config, policy=policy)
    from agentplaza.llm.openai_compat import OpenAICompatClient

    return OpenAICompatClient(config, policy=policy)
