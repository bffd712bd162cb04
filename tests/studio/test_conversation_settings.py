"""The studio conversation settings change what they say (a server of their own, both backends)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.conftest import own_server
from tests.llmfake import FakeLLM, Reply
from tests.server import ServerProcess
from tests.studio.conftest import STUDIO_ENV, register_human
from tests.studio.conversation_calls import (
    MESSAGES,
    STREAM,
    add_provider,
    create,
    error_of,
    ok_data,
    parse_sse,
)

SETTINGS = {
    **STUDIO_ENV,
    "AGENTPLAZA_STUDIO_HISTORY_TOKENS": "40",
    "AGENTPLAZA_STUDIO_MAX_CONTENT_CHARS": "100",
    "AGENTPLAZA_STUDIO_MAX_TOKENS_CAP": "1000",
    "AGENTPLAZA_STUDIO_MAX_STREAMS_PER_ACCOUNT": "1",
}


@pytest.fixture(scope="module")
def tight_server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with own_server(backend, tmp_path_factory, "studio-tight", SETTINGS) as proc:
        yield proc


@pytest.fixture
async def tight(tight_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=tight_server.url, timeout=30) as c:
        yield c


async def test_caps_on_content_and_max_tokens(tight: httpx.AsyncClient) -> None:
    me = await register_human(tight)
    conv = await create(tight, me, max_tokens=5000)
    assert conv["max_tokens"] == 1000
    body = {"conversation_id": conv["id"], "content": "x" * 101}
    error_of(await tight.post(MESSAGES, json=body, headers=me.headers), 413)


async def test_history_is_trimmed_to_the_budget(
    tight: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    me = await register_human(tight)
    await add_provider(tight, me, fake_llm)
    conv = await create(tight, me, model="m", system_prompt=None)
    for text in ("a" * 60, "b" * 60, "c" * 60):  # 15 + 4 tokens each, and their echoes more
        body = {"conversation_id": conv["id"], "content": text, "tools_enabled": False}
        ok_data(await tight.post(MESSAGES, json=body, headers=me.headers))
    sent = fake_llm.chat_requests[-1].body["messages"]
    assert sent == [{"role": "user", "content": "c" * 60}]
    assert len(fake_llm.chat_requests[0].body["messages"]) == 1


async def test_one_answer_at_a_time(tight: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    me = await register_human(tight)
    await add_provider(tight, me, fake_llm)
    conv = await create(tight, me, model="m")
    body = {"conversation_id": conv["id"], "content": "hi", "tools_enabled": False}
    fake_llm.hold()
    first = asyncio.create_task(tight.post(STREAM, json=body, headers=me.headers))
    await fake_llm.until(lambda: fake_llm.in_flight == 1)
    error_of(await tight.post(STREAM, json=body, headers=me.headers), 429)
    # Another person is not held back by this one.
    other = await register_human(tight)
    await add_provider(tight, other, fake_llm)
    theirs = await create(tight, other, model="m")
    fake_llm.script(Reply(text="yours"))
    fake_llm.release()
    own = {"conversation_id": theirs["id"], "content": "hi", "tools_enabled": False}
    assert (
        ok_data(await tight.post(MESSAGES, json=own, headers=other.headers))["status"] == "complete"
    )
    assert parse_sse((await first).text)[-1][0] == "done"
