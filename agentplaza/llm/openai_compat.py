"""ModelClient for OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, DeepSeek, GLM …),
on the official `openai` package (AsyncOpenAI).

Wire mapping: the system prompt is the first message; assistant tool calls and `tool` messages
as the spec has them; tools as `{"type": "function", "function": {...}}`. Streamed reasoning
arrives as `delta.reasoning_content` (DeepSeek, vLLM) or `delta.reasoning` (Ollama,
OpenRouter): both become ThinkingDelta. `thinking` on a request sends nothing, as there is no
portable switch on this wire (reasoning models reason anyway; others would reject a field).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx2
import openai
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

_STOP = {"stop": "stop", "tool_calls": "tool_calls", "function_call": "tool_calls"}
_STOP |= {"length": "length"}
# Parameters some servers refuse with a 400 (older vLLM/Azure: stream_options; OpenAI's
# reasoning models: max_tokens, "use 'max_completion_tokens' instead", and a temperature
# other than 1): the words of such a refusal (all of them, lowercased) for each.
_QUIRKS = {
    "stream_options": ("stream_options",),
    "max_tokens": ("max_tokens", "max_completion_tokens"),
    "temperature": ("temperature", "support"),
}


class OpenAICompatClient:
    def __init__(self, config: ProviderConfig, *, policy: RetryPolicy | None = None) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=config.api_key or "unused",  # keyless local servers (Ollama) still need one
            base_url=config.base_url,
            timeout=timeout_of(config),
            # Ours are the only retries: the package's would retry inside one `create()` call,
            # invisibly to the concurrency cap, and also after a stream has started.
            max_retries=0,
            default_headers=config.extra_headers or None,
            http_client=openai.DefaultAsyncHttpxClient(verify=tls_context()),
        )
        self._policy = policy or RetryPolicy(max_retries=config.max_retries)
        self._semaphore = asyncio.Semaphore(max(1, config.max_concurrency))
        self._translate = Translator(
            api_error=openai.APIError,
            status_error=openai.APIStatusError,
            timeout_error=openai.APITimeoutError,
            connection_error=openai.APIConnectionError,
            api_key=config.api_key,
            timeout_secs=config.timeout_secs,
        )
        self._quirks: set[str] = set()
        """Parameters this endpoint refused once: adapted on every later request too."""

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

    def _refused(self, exc: openai.BadRequestError, params: dict[str, Any]) -> bool:
        """Whether `exc` refuses a parameter in _QUIRKS (not refused before): then it is
        remembered, adapted on this endpoint's later requests too (at most once each)."""
        text = str(exc).lower()
        refused = [
            q
            for q, words in _QUIRKS.items()
            if q not in self._quirks and q in params and all(w in text for w in words)
        ]
        if refused:
            self._quirks.add(refused[0])
        return bool(refused)

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        params = wire_request(request)
        while True:
            # The package builds, authenticates and sends the request and raises its errors
            # for a refused one (status, body, headers: what Translator maps); the body is
            # ours to read (see _relay).
            create = self._client.chat.completions.with_streaming_response.create
            try:
                async with create(**_adapt(params, self._quirks), stream=True) as response:
                    async for event in _relay(response.http_response, response.iter_lines()):
                        yield event
                    return
            except openai.BadRequestError as exc:  # raised on entering, before any event
                if not self._refused(exc, params):
                    raise


async def _relay(
    response: httpx2.Response, lines: AsyncIterator[str]
) -> AsyncGenerator[ModelEvent, None]:
    """The chunks of one streamed answer as ModelEvents, parsed with orjson rather than by the
    package's `AsyncStream[ChatCompletionChunk]`.

    Why not the package here (issue 15 asks for the official packages unless a measurement
    says otherwise): it builds pydantic models for every chunk, ~70-100 µs of CPU per chunk
    against under 1 µs for orjson (5 µs json.loads), a third of the server's whole cost per
    relayed token. Measured with bench/studio_streams.py (200 streams x 50 tokens/s, 2-core
    VM, 2026-12-06): server CPU per token 199 → 83-101 µs, p99 added latency 17.6 s →
    0.5-0.9 s (the runs: bench/README.md, "/studio streamed conversations").

    What the package does with the stream is done the same way here: `data: [DONE]` ends it;
    a `{"error": ...}` chunk raises `openai.APIError` with the package's message and body (so
    it is translated, and retried before the first event, as before); comments and
    keep-alives are skipped and multi-line data joined (transport.sse_events); read errors
    surface as httpx2's, which Translator knows."""
    calls: dict[int, dict[str, str]] = {}
    finish: str | None = None
    usage: Usage | None = None
    async for _, data in sse_events(lines):
        if data.startswith("[DONE]"):
            break
        chunk = orjson.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError(f"a stream chunk is not an object: {data[:80]}")
        if chunk.get("error"):
            raise _stream_error(response, chunk["error"])
        u = chunk.get("usage")
        if isinstance(u, dict):  # some servers leave a count out: 0, not None
            usage = Usage(u.get("prompt_tokens") or 0, u.get("completion_tokens") or 0)
        for choice in (chunk.get("choices") or ())[:1]:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield ThinkingDelta(reasoning)
            content = delta.get("content")
            if isinstance(content, str) and content:
                yield TextDelta(content)
            for part in delta.get("tool_calls") or ():
                call = calls.setdefault(part.get("index", 0), {"id": "", "name": "", "args": ""})
                call["id"] = part.get("id") or call["id"]
                function = part.get("function")
                if isinstance(function, dict):
                    name = function.get("name") or ""
                    # The name comes once; a few servers repeat it in every fragment.
                    if name != call["name"]:
                        call["name"] += name
                    call["args"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    if finish is None:
        raise StreamCutShort
    for index in sorted(calls):
        call = calls[index]
        call_id = call["id"] or f"call_{uuid.uuid4().hex[:24]}"  # some servers send none
        yield ToolCallRequested(ToolCall(call_id, call["name"], call["args"] or "{}"))
    if usage is not None:
        yield usage
    yield Finished(_STOP.get(finish, "stop"))


def _stream_error(response: httpx2.Response, error: Any) -> openai.APIError:
    """What the package raises for an error chunk (openai/_streaming.py), word for word."""
    message = error.get("message") if isinstance(error, dict) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=response.request, body=error)


def _adapt(params: dict[str, Any], quirks: set[str]) -> dict[str, Any]:
    out = dict(params)
    if "stream_options" in quirks:
        out.pop("stream_options", None)
    if "max_tokens" in quirks and "max_tokens" in out:
        out["max_completion_tokens"] = out.pop("max_tokens")
    if "temperature" in quirks:
        out.pop("temperature", None)
    return out


def wire_request(request: ModelRequest) -> dict[str, Any]:
    """The chat.completions.create arguments for `request` (without `stream`)."""
    messages: list[dict[str, Any]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend(_message(m) for m in request.messages)
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "stream_options": {"include_usage": True},
    }
    if request.tools:
        params["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": t.name,
                    "description": t.description,
                    "parameters": t.parameters,
                },
            }
            for t in request.tools
        ]
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.max_tokens is not None:
        # `max_tokens`, not `max_completion_tokens`: every compatible server knows the former.
        params["max_tokens"] = request.max_tokens
    return params


def _message(m: ChatMessage) -> dict[str, Any]:
    if m.role is Role.TOOL:
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    # `name` is not sent: OpenAI refuses most display names (only [A-Za-z0-9_-]{1,64}) and some
    # compatible servers refuse the field at all; a speaker's name belongs in the content.
    out: dict[str, Any] = {"role": m.role.value, "content": m.content}
    if m.role is Role.ASSISTANT and m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in m.tool_calls
        ]
    return out
