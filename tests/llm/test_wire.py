"""What each client puts on the wire (as the scripted server received it), and the pure parts
of the retry policy."""

from __future__ import annotations

import email.utils
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agentplaza.llm.base import (
    ChatMessage,
    ModelRequest,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    Role,
    ToolCall,
    ToolSpec,
)
from agentplaza.llm.clients import open_client
from agentplaza.llm.retrying import RetryPolicy, retry_after_secs
from tests.llmfake import FakeLLM

CALC = ToolSpec(
    "calculator",
    "Evaluate arithmetic",
    {"type": "object", "properties": {"expression": {"type": "string"}}},
)
HISTORY = [
    ChatMessage(role=Role.USER, content="what is 2+2 and the time?", name="alice"),
    ChatMessage(
        role=Role.ASSISTANT,
        content="Checking.",
        tool_calls=(
            ToolCall("c1", "calculator", '{"expression": "2+2"}'),
            ToolCall("c2", "now", "{}"),
        ),
    ),
    ChatMessage(role=Role.TOOL, content="4", tool_call_id="c1", name="calculator"),
    ChatMessage(role=Role.TOOL, content="12:00", tool_call_id="c2", name="now"),
    ChatMessage(role=Role.USER, content="thanks", name="Alice Smith"),
]


async def sent(fake: FakeLLM, kind: ProviderKind, request: ModelRequest) -> dict[str, Any]:
    """The JSON body the client sent for `request`."""
    url = fake.url + "/v1" if kind is ProviderKind.OPENAI else fake.url
    config = ProviderConfig(kind=kind, base_url=url, api_key="k", extra_headers={"x-team": "t"})
    client = open_client(config)
    try:
        stream: AsyncIterator[Any] = client.stream(request)
        async for _ in stream:
            pass
    finally:
        await client.aclose()
    recorded = fake.chat_requests[-1]
    assert recorded.headers["x-team"] == "t"
    body = recorded.body
    assert isinstance(body, dict)
    return body


async def test_openai_wire(fake_llm: FakeLLM) -> None:
    request = ModelRequest(
        model="gpt-x",
        system="You are terse.",
        messages=HISTORY,
        tools=[CALC],
        temperature=0.2,
        max_tokens=300,
    )
    body = await sent(fake_llm, ProviderKind.OPENAI, request)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("gpt-x", 0.2, 300)
    assert body["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "calculator",
                "description": "Evaluate arithmetic",
                "parameters": CALC.parameters,
            },
        }
    ]
    assert body["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "what is 2+2 and the time?"},  # no `name`: see the client
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calculator", "arguments": '{"expression": "2+2"}'},
                },
                {"id": "c2", "type": "function", "function": {"name": "now", "arguments": "{}"}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
        {"role": "tool", "tool_call_id": "c2", "content": "12:00"},
        {"role": "user", "content": "thanks"},
    ]
    assert fake_llm.chat_requests[-1].headers["authorization"] == "Bearer k"


async def test_anthropic_wire(fake_llm: FakeLLM) -> None:
    request = ModelRequest(
        model="claude-x",
        system="You are terse.",
        messages=HISTORY,
        tools=[CALC],
        temperature=1.7,
        max_tokens=300,
    )
    body = await sent(fake_llm, ProviderKind.ANTHROPIC, request)
    assert body["stream"] is True
    assert (body["model"], body["system"], body["max_tokens"]) == (
        "claude-x",
        "You are terse.",
        300,
    )
    assert "temperature" not in body  # API 2026-10-21 refuses sampling parameters
    assert body["tools"] == [
        {
            "name": "calculator",
            "description": "Evaluate arithmetic",
            "input_schema": CALC.parameters,
        }
    ]
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "what is 2+2 and the time?"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {
                    "type": "tool_use",
                    "id": "c1",
                    "name": "calculator",
                    "input": {"expression": "2+2"},
                },
                {"type": "tool_use", "id": "c2", "name": "now", "input": {}},
            ],
        },
        {
            "role": "user",  # both results in one turn, then the next user text
            "content": [
                {"type": "tool_result", "tool_use_id": "c1", "content": "4"},
                {"type": "tool_result", "tool_use_id": "c2", "content": "12:00"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    headers = fake_llm.chat_requests[-1].headers
    assert headers["authorization"] == "Bearer k" and "anthropic-version" in headers


async def test_anthropic_thinking_is_adaptive(fake_llm: FakeLLM) -> None:
    request = ModelRequest(model="c", messages=HISTORY[:1], thinking=True)
    body = await sent(fake_llm, ProviderKind.ANTHROPIC, request)
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["max_tokens"] == 4096  # required on this wire: the default


async def test_anthropic_thinking_is_off_after_an_unsigned_tool_turn(fake_llm: FakeLLM) -> None:
    request = ModelRequest(model="c", messages=HISTORY[:4], thinking=True)
    body = await sent(fake_llm, ProviderKind.ANTHROPIC, request)
    assert "thinking" not in body


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0, retry_after_cap=20.0)
    assert policy.delay(0, 3.0) == 3.0
    assert policy.delay(0, 600.0) == 20.0
    for attempt in range(10):
        assert 0 <= policy.delay(attempt, None) <= min(8.0, 0.5 * 2**attempt)


def test_retry_after_forms() -> None:
    assert retry_after_secs({"retry-after": "7"}) == 7.0
    assert retry_after_secs({"retry-after-ms": "250", "retry-after": "7"}) == 0.25
    assert retry_after_secs({}) is None
    assert retry_after_secs({"retry-after": "soon"}) is None
    date = email.utils.formatdate(time.time() + 30, usegmt=True)
    seconds = retry_after_secs({"retry-after": date})
    assert seconds is not None and 0 < seconds <= 31


async def test_an_anthropic_base_url_may_end_in_v1(fake_llm: FakeLLM) -> None:
    config = ProviderConfig(
        kind=ProviderKind.ANTHROPIC, base_url=fake_llm.url + "/v1/", api_key="k"
    )
    client = open_client(config)
    try:
        assert await client.list_models() == ["fake-large", "fake-small"]
    finally:
        await client.aclose()
    assert fake_llm.requests[-1].path.startswith("/v1/models")


@pytest.mark.parametrize(
    ("refusal", "gone", "renamed"),
    [
        ("Unrecognized request argument supplied: stream_options", "stream_options", None),
        (
            "Unsupported parameter: 'max_tokens' is not supported with this model."
            " Use 'max_completion_tokens' instead.",
            "max_tokens",
            "max_completion_tokens",
        ),
        (
            "Unsupported value: 'temperature' does not support 0.2 with this model.",
            "temperature",
            None,
        ),
    ],
)
async def test_openai_parameters_an_endpoint_refuses_are_adapted(
    fake_llm: FakeLLM, refusal: str, gone: str, renamed: str | None
) -> None:
    config = ProviderConfig(kind=ProviderKind.OPENAI, base_url=fake_llm.url + "/v1", api_key="k")
    client = open_client(config)
    request = ModelRequest(model="o", messages=HISTORY[:1], temperature=0.2, max_tokens=99)
    fake_llm.fail_next(status=400, message=refusal)
    try:
        for _ in range(2):  # the second request is adapted from the start
            async for _event in client.stream(request):
                pass
    finally:
        await client.aclose()
    first, *later = [r.body for r in fake_llm.chat_requests]
    assert gone in first and len(later) == 2
    for body in later:
        assert gone not in body
        if renamed:
            assert body[renamed] == 99


async def test_an_unrelated_400_is_not_adapted(fake_llm: FakeLLM) -> None:
    config = ProviderConfig(kind=ProviderKind.OPENAI, base_url=fake_llm.url + "/v1", api_key="k")
    client = open_client(config)
    fake_llm.fail_next(status=400, message="max_tokens is too large: 10000000")
    try:
        with pytest.raises(ProviderError) as caught:
            async for _ in client.stream(
                ModelRequest(model="o", messages=HISTORY[:1], max_tokens=9)
            ):
                pass
    finally:
        await client.aclose()
    assert caught.value.status == 400 and "too large" in caught.value.message
    assert len(fake_llm.chat_requests) == 1
