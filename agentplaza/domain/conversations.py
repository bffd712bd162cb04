"""Studio conversations (seed 004): a person talking with a model or one of their hosted agents.

Pure rules: the records, how a finished turn becomes stored rows, and which stored messages
are sent to the model as history (within a token budget, never a tool result without the call
it answers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from agentplaza.domain.ids import AccountId

CONVERSATION_PREFIX = "conv_"
MESSAGE_PREFIX = "msg_"
DEFAULT_TITLE = "新会话"
"""Seed 004's default title ("new conversation")."""


class MessageRole(StrEnum):
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class MessageStatus(StrEnum):
    COMPLETE = "complete"
    CANCELLED = "cancelled"
    """The client went away mid-answer: the text generated until then."""
    ERROR = "error"
    """The provider failed: the text generated until then."""


@dataclass(frozen=True, slots=True)
class StoredToolCall:
    id: str
    name: str
    arguments: str
    """The raw JSON text the model produced."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Conversation:
    id: str
    owner_id: AccountId
    project_id: str | None
    title: str
    provider_id: str | None
    """None: the owner's provider serving `model` is chosen at each send."""
    agent_id: str | None
    """A hosted agent of the owner: its provider, model, prompt and tools answer."""
    model: str
    system_prompt: str | None
    temperature: float
    max_tokens: int
    thinking_enabled: bool
    message_count: int = 0
    last_message_at_us: int | None = None
    created_at_us: int = 0
    updated_at_us: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class ConversationChanges:
    """An update: None leaves a field as it is (`clear_*` sets a nullable one to None)."""

    title: str | None = None
    project_id: str | None = None
    clear_project: bool = False
    model: str | None = None
    system_prompt: str | None = None
    clear_system_prompt: bool = False
    temperature: float | None = None
    max_tokens: int | None = None
    thinking_enabled: bool | None = None
    provider_id: str | None = None
    clear_provider: bool = False
    agent_id: str | None = None
    clear_agent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StudioMessage:
    id: str
    conversation_id: str
    role: MessageRole
    content: str
    tool_calls: tuple[StoredToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    status: MessageStatus = MessageStatus.COMPLETE
    created_at_us: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class NewMessage:
    """A row to store; the store assigns nothing but its order."""

    id: str
    role: MessageRole
    content: str
    tool_calls: tuple[StoredToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    status: MessageStatus = MessageStatus.COMPLETE


def estimate_tokens(text: str) -> int:
    """A provider-independent estimate: ceil(chars / 4), the usual rule of thumb for English
    with BPE tokenizers (CJK text runs closer to 1 token per char, so budgets err short)."""
    return math.ceil(len(text) / 4)


def message_tokens(message: StudioMessage) -> int:
    calls = sum(estimate_tokens(c.name) + estimate_tokens(c.arguments) for c in message.tool_calls)
    # A few tokens of per-message framing (role, separators), as providers count them.
    return estimate_tokens(message.content) + calls + 4


def history_for_model(messages: Sequence[StudioMessage], budget_tokens: int) -> list[StudioMessage]:
    """What to send as history, oldest first: the newest messages whose estimated tokens fit
    `budget_tokens` (the newest one always, even alone over budget).

    Guarantees the providers' rules on tool messages: every tool message follows the
    assistant message holding its call, every kept call has its result (calls whose result is
    missing, e.g. a turn cancelled during a tool, are dropped from the assistant message), and
    the history starts with a user message. Failed answers with no text are left out.
    """
    usable = _consistent(messages)
    kept: list[StudioMessage] = []
    used = 0
    for message in reversed(usable):
        cost = message_tokens(message)
        if kept and used + cost > budget_tokens:
            break
        kept.append(message)
        used += cost
    kept.reverse()
    # Trimming may cut between a call and its results, or leave an answer first.
    while kept and kept[0].role is not MessageRole.USER:
        kept.pop(0)
    return kept


def _consistent(messages: Sequence[StudioMessage]) -> list[StudioMessage]:
    answered = {m.tool_call_id for m in messages if m.role is MessageRole.TOOL}
    offered: set[str] = set()
    out: list[StudioMessage] = []
    for message in messages:
        if message.role is MessageRole.TOOL:
            if message.tool_call_id in offered:
                out.append(message)
            continue
        if message.role is MessageRole.ASSISTANT:
            calls = tuple(c for c in message.tool_calls if c.id in answered)
            if not message.content and not calls:
                continue
            if calls != message.tool_calls:
                message = _with_calls(message, calls)
            offered.update(c.id for c in calls)
        out.append(message)
    return out


def _with_calls(message: StudioMessage, calls: tuple[StoredToolCall, ...]) -> StudioMessage:
    return StudioMessage(
        id=message.id,
        conversation_id=message.conversation_id,
        role=message.role,
        content=message.content,
        tool_calls=calls,
        tool_call_id=message.tool_call_id,
        name=message.name,
        input_tokens=message.input_tokens,
        output_tokens=message.output_tokens,
        status=message.status,
        created_at_us=message.created_at_us,
    )


@dataclass(slots=True)
class TurnTranscript:
    """Collects one answer's events into the rows to store: per tool round an assistant
    message with the round's text and calls, then one tool message per result; the final
    answer text last. Rounds are told apart by order: text or a call after a result opens a
    new round."""

    rounds: list[tuple[str, list[StoredToolCall], list[tuple[str, str, str, bool]]]] = field(
        default_factory=list
    )
    text: str = ""
    calls: list[StoredToolCall] = field(default_factory=list)
    results: list[tuple[str, str, str, bool]] = field(default_factory=list)
    """(call id, tool name, result, is_error)."""

    def add_text(self, delta: str) -> None:
        self._close_round_if_answered()
        self.text += delta

    def add_call(self, call: StoredToolCall) -> None:
        self._close_round_if_answered()
        self.calls.append(call)

    def add_result(self, call_id: str, name: str, result: str, is_error: bool) -> None:
        self.results.append((call_id, name, result, is_error))

    def _close_round_if_answered(self) -> None:
        if self.results:
            self.rounds.append((self.text, self.calls, self.results))
            self.text, self.calls, self.results = "", [], []

    def rows(
        self,
        new_id: list[str],
        *,
        status: MessageStatus,
        input_tokens: int,
        output_tokens: int,
    ) -> list[NewMessage]:
        """The rows, the final assistant message last (it carries the turn's token counts
        and `status`). `new_id` supplies one id per row, in order (row_count() of them)."""
        self._close_round_if_answered()
        ids = iter(new_id)
        out: list[NewMessage] = []
        for text, calls, results in self.rounds:
            out.append(
                NewMessage(
                    id=next(ids), role=MessageRole.ASSISTANT, content=text, tool_calls=tuple(calls)
                )
            )
            for call_id, name, result, is_error in results:
                out.append(
                    NewMessage(
                        id=next(ids),
                        role=MessageRole.TOOL,
                        content=result,
                        tool_call_id=call_id,
                        name=name,
                        status=MessageStatus.ERROR if is_error else MessageStatus.COMPLETE,
                    )
                )
        out.append(
            NewMessage(
                id=next(ids),
                role=MessageRole.ASSISTANT,
                content=self.text,
                # Calls still waiting for results when the turn ended (cancelled mid-tool).
                tool_calls=tuple(self.calls),
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                status=status,
            )
        )
        return out

    def all_text(self) -> str:
        """Every round's text, the answer so far."""
        return "".join(text for text, _, _ in self.rounds) + self.text

    def row_count(self) -> int:
        self._close_round_if_answered()
        return 1 + sum(1 + len(results) for _, _, results in self.rounds)
