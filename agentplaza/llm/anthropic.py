"""ModelClient for the Anthropic Messages API, on the official `anthropic` package.

Wire mapping: `system` is its own parameter; a tool message becomes a `tool_result` block of a
user turn (consecutive ones share that turn, as the API requires all results of one assistant
turn together); assistant tool calls become `tool_use` blocks. `max_tokens` is required here:
4096 when the request leaves it open. `temperature` is NOT sent: API version 2026-10-21 (the
one anthropic ≥ 2 speaks) refuses every sampling parameter, and the package no longer has
them. `thinking` sends `{"type": "adaptive"}` (the current models refuse the older fixed
`budget_tokens`) with summarized display, so that thinking streams as ThinkingDelta. The raw
event stream is read (not the package's accumulating helper) so that invalid tool-call JSON
reaches the caller as text; its lines are parsed here (see _relay).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import anthropic
import httpx2
import orjson

from agentplaza.llm.base import (
    ChatMessage,
    Finished,
    ModelEvent,
    ModelRequest,
    ProviderConfig,
    Role,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)
from agentplaza.llm.retrying import (
    RetryPolicy,
    StreamCutShort,
    Translator,
    guarded_call,
    guarded_stream,
)
from agentplaza.llm.transport import sse_events, timeout_of, tls_context

DEFAULT_MAX_TOKENS = 4096
_STOP = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls"}
_STOP |= {"max_tokens": "length", "model_context_window_exceeded": "length"}


class AnthropicClient:
    def __init__(self, config: ProviderConfig, *, policy: RetryPolicy | None = None) -> None:
        self._client = anthropic.AsyncAnthropic(
            api_key=config.api_key,
            base_url=_root(config.base_url),
            timeout=timeout_of(config),
            # Ours are the only retries: the package's would retry inside one `create()` call,
            # invisibly to the concurrency cap, and also after a stream has started.
            max_retries=0,
            default_headers=config.extra_headers or None,
            http_client=anthropic.DefaultAsyncHttpxClient(verify=tls_context()),
        )
        self._policy = policy or RetryPolicy(max_retries=config.max_retries)
        self._semaphore = asyncio.Semaphore(max(1, config.max_concurrency))
        self._translate = Translator(
            api_error=anthropic.APIError,
            status_error=anthropic.APIStatusError,
            timeout_error=anthropic.APITimeoutError,
            connection_error=anthropic.APIConnectionError,
            api_key=config.api_key,
            timeout_secs=config.timeout_secs,
        )

    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        return guarded_stream(
            lambda: self._attempt(request),
            policy=self._policy,
            translate=self._translate,
            semaphore=self._semaphore,
        )

    async def list_models(self) -> list[str]:
        async def call() -> list[str]:
            return sorted([m.id async for m in self._client.models.list()])

        return await guarded_call(
            call, policy=self._policy, translate=self._translate, semaphore=self._semaphore
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        # The package builds, authenticates and sends the request and raises its errors for a
        # refused one; the event stream is ours to read (see _relay).
        create = self._client.messages.with_streaming_response.create
        async with create(**wire_request(request), stream=True) as response:
            async for event in _relay(response.http_response, response.iter_lines()):
                yield event


async def _relay(
    response: httpx2.Response, lines: AsyncIterator[str]
) -> AsyncGenerator[ModelEvent, None]:
    """The events of one streamed answer as ModelEvents, parsed with orjson rather than into
    the package's event models (see openai_compat._relay for why; here each event model cost
    ~12 µs against 0.4 µs for orjson, measured: bench/README.md). As the package does:
    `ping` and unnamed events are skipped, `event: error` raises the package's
    APIStatusError with the same message and body (Translator maps overload to 529, retried
    before the first event)."""
    blocks: dict[int, dict[str, str]] = {}  # open tool_use blocks by index
    input_tokens = output_tokens = 0
    stop: str | None = None
    done = False
    async for name, data in sse_events(lines):
        if name == "error":
            raise _stream_error(response, data)
        if not name or name == "ping":
            continue
        event = orjson.loads(data)
        kind = event.get("type") if isinstance(event, dict) else None
        if kind == "content_block_delta":  # first: nearly every event is one
            delta, index = event["delta"], event["index"]
            dtype = delta.get("type")
            if dtype == "text_delta" and delta.get("text"):
                yield TextDelta(delta["text"])
            elif dtype == "thinking_delta" and delta.get("thinking"):
                yield ThinkingDelta(delta["thinking"])
            elif dtype == "input_json_delta" and index in blocks:
                tool = blocks[index]
                # Deltas replace a non-empty `input` the start block may have carried.
                tool["args"] = tool.get("streamed", "") + (delta.get("partial_json") or "")
                tool["streamed"] = tool["args"]
        elif kind == "message_start":
            u = event["message"]["usage"]
            input_tokens = u["input_tokens"] + (u.get("cache_creation_input_tokens") or 0)
            input_tokens += u.get("cache_read_input_tokens") or 0
            output_tokens = u.get("output_tokens") or 0
        elif kind == "content_block_start":
            block = event["content_block"]
            if block.get("type") == "tool_use":
                start = json.dumps(block["input"]) if block.get("input") else ""
                blocks[event["index"]] = {"id": block["id"], "name": block["name"], "args": start}
        elif kind == "content_block_stop" and event["index"] in blocks:
            tool = blocks.pop(event["index"])
            yield ToolCallRequested(ToolCall(tool["id"], tool["name"], tool["args"] or "{}"))
        elif kind == "message_delta":
            stop = event["delta"].get("stop_reason") or stop
            output_tokens = event["usage"]["output_tokens"]
        elif kind == "message_stop":
            done = True
    if not done:
        raise StreamCutShort
    yield Usage(input_tokens, output_tokens)
    yield Finished(_STOP.get(stop or "end_turn", "stop"))


def _stream_error(response: httpx2.Response, data: str) -> anthropic.APIStatusError:
    """What the package raises for `event: error` (anthropic/_streaming.py), word for word."""
    body: Any = data
    try:
        body = json.loads(data)
        message = f"{body}"
    except ValueError:
        message = data or f"Error code: {response.status_code}"
    return anthropic.APIStatusError(message, response=response, body=body)


def _root(base_url: str | None) -> str | None:
    """The package appends `/v1/messages` itself: a base URL given with `/v1` (as OpenAI-style
    URLs are) would otherwise reach `/v1/v1/messages`."""
    if base_url is None:
        return None
    base = base_url.rstrip("/")
    return base.removesuffix("/v1") if base.endswith("/v1") else base


def wire_request(request: ModelRequest) -> dict[str, Any]:
    """The messages.create arguments for `request` (without `stream`)."""
    params: dict[str, Any] = {
        "model": request.model,
        "messages": _messages(request.messages),
        "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
    }
    if request.system:
        params["system"] = request.system
    if request.tools:
        params["tools"] = [
            {"name": t.name, "description": t.description, "input_schema": t.parameters}
            for t in request.tools
        ]
    if request.thinking and not _unsigned_tool_turn(request.messages):
        params["thinking"] = {"type": "adaptive", "display": "summarized"}
    return params


def _unsigned_tool_turn(messages: Any) -> bool:
    """With thinking on, the API wants the last assistant tool-use turn's signed thinking
    blocks back; ChatMessage does not keep them, so such a request is sent without thinking."""
    for m in reversed(messages):
        if m.role is Role.ASSISTANT:
            return bool(m.tool_calls)
    return False


def _messages(messages: Any) -> list[dict[str, Any]]:
    """Anthropic turns: consecutive messages of one role merged, empty text left out."""
    out: list[dict[str, Any]] = []
    for m in messages:
        role = "assistant" if m.role is Role.ASSISTANT else "user"
        blocks = _blocks(m)
        if not blocks:
            continue
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(m: ChatMessage) -> list[dict[str, Any]]:
    if m.role is Role.TOOL:
        result = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
        return [result]
    blocks: list[dict[str, Any]] = []
    if m.content:
        blocks.append({"type": "text", "text": m.content})
    for c in m.tool_calls if m.role is Role.ASSISTANT else ():
        try:
            arguments = json.loads(c.arguments or "{}")
        except ValueError:
            arguments = None
        # The API wants an object; invalid JSON the model once produced is sent as empty.
        arguments = arguments if isinstance(arguments, dict) else {}
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": arguments})
    return blocks
