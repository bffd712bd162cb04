"""The scripted model server's own promises, seen through the official packages directly
(the other helpers' tests rely on them)."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai

from tests.llmfake import Call, FakeLLM, Recorded, Reply


def openai_client(fake: FakeLLM) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)


def anthropic_client(fake: FakeLLM) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=fake.url, api_key="k", max_retries=0)


USER: list[Any] = [{"role": "user", "content": "hi"}]


async def test_non_streamed_openai_completion(fake_llm: FakeLLM) -> None:
    fake_llm.script(
        Reply(text="sure", tool_calls=[Call("now", {}, id="c9")], input_tokens=7, output_tokens=3)
    )
    async with openai_client(fake_llm) as client:
        answer = await client.chat.completions.create(model="m", messages=USER)
    message = answer.choices[0].message
    assert message.content == "sure" and answer.choices[0].finish_reason == "tool_calls"
    assert message.tool_calls is not None and message.tool_calls[0].id == "c9"
    assert answer.usage is not None and answer.usage.prompt_tokens == 7
    assert answer.usage.completion_tokens == 3


async def test_non_streamed_anthropic_message(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(text="sure", tool_calls=[Call("now", {"tz": "UTC"}, id="t1")]))
    async with anthropic_client(fake_llm) as client:
        answer = await client.messages.create(model="m", max_tokens=50, messages=USER)
    assert answer.stop_reason == "tool_use"
    assert [b.type for b in answer.content] == ["text", "tool_use"]
    tool = answer.content[1]
    assert tool.type == "tool_use" and tool.input == {"tz": "UTC"}


async def test_per_model_scripts_and_the_default(fake_llm: FakeLLM) -> None:
    fake_llm.script(Reply(text="for b"), model="b")
    fake_llm.script(Reply(text="shared"))
    fake_llm.default = lambda request: Reply(text=f"default for {request.body['model']}")
    async with openai_client(fake_llm) as client:
        texts = [
            (await client.chat.completions.create(model=m, messages=USER))
            .choices[0]
            .message.content
            for m in ("a", "b", "b")
        ]
    assert texts == ["shared", "for b", "default for b"]


async def test_the_echo_answers_a_tool_result(fake_llm: FakeLLM) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "time?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t", "name": "now", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t", "content": "noon"}],
        },
    ]
    async with anthropic_client(fake_llm) as client:
        answer = await client.messages.create(model="m", max_tokens=50, messages=messages)
    assert answer.content[0].type == "text" and answer.content[0].text == "echo: noon"


async def test_a_required_key_refuses_others(fake_llm: FakeLLM) -> None:
    fake_llm.api_key = "right"
    async with openai_client(fake_llm) as client:
        try:
            await client.models.list()
        except openai.AuthenticationError as e:
            assert e.status_code == 401
        else:
            raise AssertionError("a wrong key was accepted")
    assert isinstance(fake_llm.requests[0], Recorded)


async def test_hold_then_release_and_paced_streams(fake_llm: FakeLLM) -> None:
    fake_llm.tokens_per_sec = 200
    fake_llm.hold()

    async def ask() -> str:
        async with openai_client(fake_llm) as client:
            stream = await client.chat.completions.create(model="m", messages=USER, stream=True)
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

    task = asyncio.create_task(ask())
    await fake_llm.until(lambda: fake_llm.in_flight == 1)
    assert not task.done()
    fake_llm.release()
    assert await task == "echo: hi"
    assert fake_llm.completed == 1 and fake_llm.disconnects == 0
