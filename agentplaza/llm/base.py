"""The model client contract every provider kind implements (openai_compat.py, anthropic.py).

A client turns one ModelRequest into a stream of ModelEvents. Services never see a provider's
own wire types: they build ModelRequests from plaza history and read these events.
Closing the stream early (`aclose()`, or cancelling the task that iterates it) must close the
upstream HTTP response, so that a reader who went away stops the tokens being generated.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class ProviderKind(StrEnum):
    OPENAI = "openai"
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, DeepSeek, GLM …)."""
    ANTHROPIC = "anthropic"


class Role(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: its JSON-schema parameters are sent as they are."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: str
    """The raw JSON text the model produced; it may be invalid (the caller reports that to the
    model as the tool's result)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatMessage:
    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    """An assistant message's calls, in the order the model made them."""
    tool_call_id: str | None = None
    """A tool message answers this call."""
    name: str | None = None
    """A tool message's tool name; in a room, a user or assistant message's speaker name."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRequest:
    model: str
    messages: Sequence[ChatMessage]
    system: str | None = None
    tools: Sequence[ToolSpec] = ()
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: bool = False


# --- what a stream yields ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ThinkingDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallRequested:
    """A complete tool call (its arguments fully streamed), yielded once per call."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of the whole request; yielded once, before Finished, when reported."""

    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class Finished:
    stop_reason: str
    """"stop", "tool_calls", "length" (the provider's own words are mapped to these)."""


ModelEvent = TextDelta | ThinkingDelta | ToolCallRequested | Usage | Finished


class ProviderError(Exception):
    """The provider failed after the client's retries: a message fit to show the owner."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class ProviderConfig:
    """What a client needs to talk to one provider; `api_key` is the decrypted key."""

    kind: ProviderKind
    base_url: str | None
    api_key: str = field(repr=False)  # never in a log line or a traceback's repr
    timeout_secs: float = 60.0
    max_retries: int = 2
    max_concurrency: int = 8
    extra_headers: dict[str, str] = field(default_factory=dict)


class ModelClient(Protocol):
    def stream(self, request: ModelRequest) -> AsyncGenerator[ModelEvent, None]:
        """Yield the answer as it is generated. Retries (429, 5xx, connect errors, with
        backoff) happen before the first event only; then a failure raises ProviderError.
        A generator, so that a reader who stops early can `aclose()` it (or use
        `contextlib.aclosing`): that closes the upstream response at once."""
        ...

    async def list_models(self) -> list[str]:
        """The model ids the endpoint lists (a real call: used by the provider `test`)."""
        ...

    async def aclose(self) -> None: ...
