"""Both clients' own stream reading (openai_compat._relay, anthropic._relay,
transport.sse_events) against byte-exact streams a real server on loopback sends: what the
scripted fake does not vary (keep-alive comments, CRLF, multi-line data, `event:` lines, odd
error events)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx2
import openai
import pytest

from agentplaza.llm.base import (
    ChatMessage,
    Finished,
    ModelEvent,
    ModelRequest,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    Role,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)
from agentplaza.llm.clients import open_client
from agentplaza.llm.retrying import RetryPolicy
from agentplaza.llm.transport import sse_events, timeout_message

FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01)


def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> str:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish}] if delta or finish else []
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    return json.dumps(body | {"choices": choices, "usage": usage})


class Canned:
    """A loopback HTTP/1.1 server answering each request with the next body of `bodies` as a
    200 event stream, verbatim (so line ends and comments are exactly as written)."""

    def __init__(self, bodies: Sequence[str]) -> None:
        self.bodies = list(bodies)
        self.requests = 0
        self.url = ""

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = [h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length:")]
        await reader.readexactly(int(length[0].split(b":")[1]) if length else 0)
        body = self.bodies[min(self.requests, len(self.bodies) - 1)].encode()
        self.requests += 1
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def canned() -> AsyncIterator[Canned]:
    server = Canned([])
    listener = await asyncio.start_server(server._serve, "127.0.0.1", 0)
    server.url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/v1"
    yield server
    listener.close()
    await listener.wait_closed()


async def run(
    canned: Canned, *bodies: str, kind: ProviderKind = ProviderKind.OPENAI
) -> list[ModelEvent]:
    canned.bodies = list(bodies)
    config = ProviderConfig(kind=kind, base_url=canned.url, api_key="k")
    client = open_client(config, policy=FAST)
    request = ModelRequest(model="m", messages=[ChatMessage(role=Role.USER, content="hi")])
    try:
        return [event async for event in client.stream(request)]
    finally:
        await client.aclose()


async def test_keepalives_crlf_event_lines_and_multiline_data(canned: Canned) -> None:
    call = {"index": 0, "id": "call_9", "type": "function"}
    body = (
        ": keep-alive\r\n\r\n"  # a comment-only event: nothing
        + "event: message\r\nid: 1\r\nretry: 100\r\n"
        + f"data: {chunk({'role': 'assistant', 'content': 'Hel'})}\r\n\r\n"
        + ":\n\n: OPENROUTER PROCESSING\n\n"
        # One chunk over two data lines (joined with "\n": still the same JSON).
        + 'data: {"id": "c1", "choices": [{"index": 0, "delta": {"content": "lo"},\n'
        + 'data: "finish_reason": null}]}\n\n'
        + f"data:{chunk({'tool_calls': [call | {'function': {'name': 'f', 'arguments': ''}}]})}\n\n"
        + f"data: {chunk({'tool_calls': [{'index': 0, 'function': {'arguments': '{}'}}]})}\n\n"
        + f"data: {chunk({}, 'tool_calls')}\n\n"
        + f"data: {chunk({}, usage={'prompt_tokens': 3, 'completion_tokens': 2})}\n\n"
        + "data: [DONE]\n\n"
    )
    events = await run(canned, body)
    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        ToolCallRequested(ToolCall("call_9", "f", "{}")),
        Usage(3, 2),
        Finished("tool_calls"),
    ]


async def test_an_error_chunk_mid_stream_is_a_provider_error_not_retried(canned: Canned) -> None:
    error = json.dumps({"error": {"message": "model overloaded", "type": "server_error"}})
    body = f"data: {chunk({'content': 'one '})}\n\ndata: {error}\n\n"
    seen: list[ModelEvent] = []
    config = ProviderConfig(kind=ProviderKind.OPENAI, base_url=canned.url, api_key="k")
    canned.bodies = [body]
    client = open_client(config, policy=FAST)
    request = ModelRequest(model="m", messages=[ChatMessage(role=Role.USER, content="hi")])
    with pytest.raises(ProviderError) as caught:
        async for event in client.stream(request):
            seen.append(event)
    await client.aclose()
    assert seen == [TextDelta("one ")]
    assert caught.value.message == "the provider answered 502 (provider error): model overloaded"
    assert canned.requests == 1


async def test_an_error_chunk_before_any_text_is_retried(canned: Canned) -> None:
    # No message: the package's own wording, as it would have raised.
    first = 'data: {"error": {"code": 500}}\n\n'
    second = f"data: {chunk({'content': 'ok'})}\n\ndata: {chunk({}, 'stop')}\n\ndata: [DONE]\n\n"
    events = await run(canned, first, second)
    assert events == [TextDelta("ok"), Finished("stop")]
    assert canned.requests == 2


async def test_a_stream_ending_inside_an_event_is_cut_short(canned: Canned) -> None:
    # The last event has no blank line after it: discarded, so the stop never arrives.
    body = f"data: {chunk({'content': 'a'})}\n\ndata: {chunk({}, 'stop')}"
    with pytest.raises(ProviderError) as caught:
        await run(canned, body)
    assert "closed the stream before the answer was complete" in caught.value.message


def event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\r\ndata: {json.dumps(data | {'type': name})}\r\n\r\n"


async def test_anthropic_pings_comments_and_a_tool_call(canned: Canned) -> None:
    usage = {"input_tokens": 5, "cache_read_input_tokens": 2, "output_tokens": 1}
    tool = {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}
    body = (
        event("message_start", {"message": {"id": "m", "usage": usage}})
        + ": keep-alive\n\n"
        + event("ping", {})
        + event("content_block_start", {"index": 0, "content_block": {"type": "text"}})
        + event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "x"}})
        + event("content_block_stop", {"index": 0})
        + event("content_block_start", {"index": 1, "content_block": tool})
        + event(
            "content_block_delta",
            {"index": 1, "delta": {"type": "input_json_delta", "partial_json": '{"a": 1}'}},
        )
        + event("content_block_stop", {"index": 1})
        + event(
            "message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}
        )
        + event("message_stop", {})
    )
    events = await run(canned, body, kind=ProviderKind.ANTHROPIC)
    assert events == [
        TextDelta("x"),
        ToolCallRequested(ToolCall("toolu_1", "f", '{"a": 1}')),
        Usage(7, 9),
        Finished("tool_calls"),
    ]


async def test_anthropic_error_event_that_is_not_json(canned: Canned) -> None:
    delta = {"index": 0, "delta": {"type": "text_delta", "text": "x"}}
    body = event("content_block_delta", delta) + "event: error\ndata: upstream gone\n\n"
    with pytest.raises(ProviderError) as caught:
        await run(canned, body, kind=ProviderKind.ANTHROPIC)
    assert caught.value.message == "the provider answered 502 (provider error): upstream gone"
    assert canned.requests == 1


async def test_sse_events_framing() -> None:
    async def lines(*items: str) -> AsyncIterator[str]:
        for item in items:
            yield item

    raw = [":c", "", "event: ping", "", "data:a", "data:  b", "", "event: x", "data: y", ""]
    got = [e async for e in sse_events(lines(*raw, "data: unfinished"))]
    assert got == [("", "a\n b"), ("x", "y")]


def test_timeout_messages_name_the_limit_that_fired() -> None:
    request = httpx2.Request("POST", "http://provider.invalid/v1/chat/completions")

    def wrapped(cause: BaseException) -> BaseException:
        exc = openai.APITimeoutError(request=request)
        exc.__cause__ = cause
        return exc

    connect = timeout_message(wrapped(httpx2.ConnectTimeout("slow")), 90.0)
    assert connect == "the provider did not accept a connection within 10 s (connect timeout)"
    assert timeout_message(wrapped(httpx2.ReadTimeout("slow")), 90.0) == (
        "the provider sent nothing for 90 s (read timeout)"
    )
    assert "within 5 s (connect" in timeout_message(httpx2.ConnectTimeout("x"), 5.0)
    assert "90 s (pool timeout)" in timeout_message(wrapped(httpx2.PoolTimeout("x")), 90.0)
