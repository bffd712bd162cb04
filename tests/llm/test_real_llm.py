"""The OpenAI-compatible client against a real model server, when AGENTPLAZA_TEST_LLM_URL names
one (e.g. Ollama: http://127.0.0.1:11434/v1); otherwise every test here skips and says so."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agentplaza.llm.base import (
    ChatMessage,
    Finished,
    ModelClient,
    ModelEvent,
    ModelRequest,
    ProviderConfig,
    ProviderKind,
    Role,
    TextDelta,
    Usage,
)
from agentplaza.llm.clients import open_client
from tests.llmfake import RealLLM, real_llm_or_skip


@pytest.fixture
def real() -> RealLLM:
    return real_llm_or_skip()


@pytest.fixture
async def client(real: RealLLM) -> AsyncIterator[ModelClient]:
    config = ProviderConfig(
        kind=ProviderKind.OPENAI, base_url=real.base_url, api_key=real.api_key, timeout_secs=120
    )
    c = open_client(config)
    yield c
    await c.aclose()


async def test_real_model_streams_text(real: RealLLM, client: ModelClient) -> None:
    request = ModelRequest(
        model=real.model,
        system="Answer in one short sentence.",
        messages=[ChatMessage(role=Role.USER, content="Say hello.")],
        max_tokens=40,
    )
    events: list[ModelEvent] = [e async for e in client.stream(request)]
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    assert isinstance(events[-1], Finished)
    assert events[-1].stop_reason in {"stop", "length"}
    usages = [e for e in events if isinstance(e, Usage)]
    assert len(usages) <= 1  # a server may not report usage; when it does, once


async def test_real_model_lists_models(real: RealLLM, client: ModelClient) -> None:
    models = await client.list_models()
    assert models and all(isinstance(m, str) for m in models)
