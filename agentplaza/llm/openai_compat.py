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
from collections.abc import AsyncGenerator
from typing import Any

import openai

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
from agentplaza.llm.transport import timeout_of, tls_context

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

    async def _create(self, params: dict[str, Any]) -> Any:
        """Start the stream; a 400 that names a parameter in _QUIRKS is answered by sending
        the request again without it (at most once per parameter), remembered for next time."""
        while True:
            try:
                return await self._client.chat.completions.create(
                    **_adapt(params, self._quirks), stream=True
                )
            except openai.BadRequestError as exc:
                text = str(exc).lower()
                refused = [
                    q
                    for q, words in _QUIRKS.items()
                    if q not in self._quirks and q in params and all(w in text for w in words)
                ]
                if not refused:
                    raise
                self._quirks.add(refused[0])

    async def _attempt(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        raw = await self._create(wire_request(request))
        calls: dict[int, dict[str, str]] = {}
        finish: str | None = None
        usage: Usage | None = None
        try:
            async for chunk in raw:
                if chunk.usage is not None:
                    u = chunk.usage  # some servers leave a count out: 0, not None
                    usage = Usage(u.prompt_tokens or 0, u.completion_tokens or 0)
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    extra = delta.model_extra or {}
                    reasoning = extra.get("reasoning_content") or extra.get("reasoning")
                    if isinstance(reasoning, str) and reasoning:
                        yield ThinkingDelta(reasoning)
                    if delta.content:
                        yield TextDelta(delta.content)
                    for part in delta.tool_calls or ():
                        call = calls.setdefault(part.index, {"id": "", "name": "", "args": ""})
                        call["id"] = part.id or call["id"]
                        if part.function is not None:
                            name = part.function.name or ""
                            # The name comes once; a few servers repeat it in every fragment.
                            if name != call["name"]:
                                call["name"] += name
                            call["args"] += part.function.arguments or ""
                    finish = choice.finish_reason or finish
        finally:
            await raw.close()
        if finish is None:
            raise StreamCutShort
        for index in sorted(calls):
            call = calls[index]
            call_id = call["id"] or f"call_{uuid.uuid4().hex[:24]}"  # some servers send none
            yield ToolCallRequested(ToolCall(call_id, call["name"], call["args"] or "{}"))
        if usage is not None:
            yield usage
        yield Finished(_STOP.get(finish, "stop"))


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
