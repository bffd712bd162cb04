"""One answer in a studio conversation: from the stored user message to the stored answer.

`Turn.events()` relays services/turns.py's events (text, tool_call, tool_result) as they come
and ends with exactly one `TurnDone` or `TurnError`, yielded only after the answer is stored
(so `Turn.assistant` is set when a caller sees either). A turn whose consumer goes away
(task cancelled, or the generator closed) stores the text generated until then with status
`cancelled`, and closing the generator closes the model stream: the provider stops generating.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Protocol

from agentplaza.domain.accounts import Account
from agentplaza.domain.conversations import (
    MESSAGE_PREFIX,
    Conversation,
    MessageRole,
    MessageStatus,
    NewMessage,
    StoredToolCall,
    StudioMessage,
    TurnTranscript,
    estimate_tokens,
    history_for_model,
)
from agentplaza.domain.errors import AgentplazaError, ErrorCode, NotFound, RateLimited
from agentplaza.domain.hosted import HostedAgent
from agentplaza.domain.ids import AccountId, new_sortable_id
from agentplaza.domain.turns import (
    TurnDone,
    TurnError,
    TurnEvent,
    TurnText,
    TurnToolCall,
    TurnToolResult,
)
from agentplaza.llm.base import ChatMessage, ModelRequest, ProviderError, Role, ToolCall
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)

# Rows read to build the history before the token budget trims it: a budget of 8000 tokens
# at 4+ tokens a message never needs more.
HISTORY_ROWS = 400


@dataclass(frozen=True, slots=True, kw_only=True)
class Resolved:
    """Who answers one turn: the model settings, and what ModelAccess needs to run it."""

    model: str
    system: str | None
    temperature: float
    max_tokens: int
    thinking: bool
    agent: HostedAgent | None
    handle: Any = None
    """ModelAccess's own state for the turn (client, tool context)."""


class ModelAccess(Protocol):
    """The providers, tools and hosted agents a conversation answers with."""

    async def agent(self, owner: Account, agent_id: str) -> HostedAgent:
        """The owner's hosted agent; NotFound if it is not theirs."""
        ...

    async def check_provider(self, owner: AccountId, provider_id: str) -> None:
        """NotFound unless the provider is the owner's."""
        ...

    async def resolve(
        self, owner: Account, conversation: Conversation, *, tools_enabled: bool
    ) -> Resolved:
        """Who answers (agent, else provider + model, else the owner's provider serving the
        model); Invalid when none can, RateLimited/Forbidden when an agent is over budget."""
        ...

    def run(self, resolved: Resolved, request: ModelRequest) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events (services/turns.py), tool rounds included."""
        ...

    async def finished(self, resolved: Resolved, *, input_tokens: int, output_tokens: int) -> None:
        """Account the turn (an agent's usage against its budget) and release its client."""
        ...


class ProviderUnavailable(AgentplazaError):
    """The provider cannot be used at all (502): nothing was stored, nothing was sent."""

    status = 502
    default_code = ErrorCode.UNAVAILABLE


class StreamSlots:
    """Answers in progress per owner on this node, capped (`studio_max_streams_per_account`)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[AccountId, int] = {}

    def acquire(self, owner: AccountId) -> None:
        count = self._open.get(owner, 0)
        if count >= self.limit:
            raise RateLimited(
                f"at most {self.limit} answers in progress at once",
                retry_after_secs=1.0,
                limit=self.limit,
            )
        self._open[owner] = count + 1

    def release(self, owner: AccountId) -> None:
        count = self._open.get(owner, 0) - 1
        if count > 0:
            self._open[owner] = count
        else:
            self._open.pop(owner, None)


@dataclass(slots=True, kw_only=True)
class Turn:
    runner: TurnRunner
    owner: AccountId
    conversation: Conversation
    user_message: StudioMessage
    resolved: Resolved
    request: ModelRequest
    assistant: StudioMessage | None = None
    """The stored answer (set before the final TurnDone / TurnError is yielded)."""
    _released: bool = field(default=False)

    def release(self) -> None:
        """Give back the owner's answer slot (idempotent)."""
        if not self._released:
            self._released = True
            self.runner.slots.release(self.owner)

    async def events(self) -> AsyncGenerator[TurnEvent, None]:
        transcript = TurnTranscript()
        input_tokens = output_tokens = 0
        try:
            async with aclosing(self.runner.models.run(self.resolved, self.request)) as stream:
                async for event in stream:
                    if isinstance(event, TurnText):
                        transcript.add_text(event.text)
                    elif isinstance(event, TurnToolCall):
                        transcript.add_call(
                            StoredToolCall(event.call_id, event.name, event.arguments)
                        )
                    elif isinstance(event, TurnToolResult):
                        transcript.add_result(
                            event.call_id, event.name, event.result, event.is_error
                        )
                    elif isinstance(event, TurnDone):
                        input_tokens, output_tokens = event.input_tokens, event.output_tokens
                        break
                    else:
                        raise ProviderError(event.message)
                    yield event
        except (asyncio.CancelledError, GeneratorExit):
            # The reader went away: keep what was generated. Shielded, so a second cancel
            # (shutdown) cannot lose the row half way; tokens are estimated (never reported).
            estimate = estimate_tokens(transcript.all_text())
            await asyncio.shield(self._store(transcript, MessageStatus.CANCELLED, 0, estimate))
            raise
        except ProviderError as exc:
            await asyncio.shield(self._store(transcript, MessageStatus.ERROR, 0, 0))
            yield TurnError(exc.message)
            return
        except Exception:
            log.exception("conversation %s: the answer failed", self.conversation.id)
            await asyncio.shield(self._store(transcript, MessageStatus.ERROR, 0, 0))
            yield TurnError("the answer failed (internal error)")
            return
        # Shielded like the others: a client leaving now must not lose the finished answer.
        await asyncio.shield(
            self._store(transcript, MessageStatus.COMPLETE, input_tokens, output_tokens)
        )
        assert self.assistant is not None
        yield TurnDone(
            content=self.assistant.content,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            tool_rounds=len(transcript.rounds),
        )

    async def _store(
        self,
        transcript: TurnTranscript,
        status: MessageStatus,
        input_tokens: int,
        output_tokens: int,
    ) -> None:
        runner = self.runner
        now = runner.runtime.clock_us()
        ids = [runner.new_message_id(now) for _ in range(transcript.row_count())]
        rows = transcript.rows(
            ids, status=status, input_tokens=input_tokens, output_tokens=output_tokens
        )
        try:
            await runner.models.finished(
                self.resolved, input_tokens=input_tokens, output_tokens=output_tokens
            )
        except Exception:
            log.exception("conversation %s: accounting the answer failed", self.conversation.id)
        stored = await runner.runtime.store.append_studio_messages(
            self.owner, self.conversation.id, rows, now_us=now
        )
        if stored is None:
            # Deleted while answering: nothing to keep; report the answer as it was.
            self.assistant = _unstored(rows[-1], self.conversation.id, now)
        else:
            self.assistant = stored[-1]


class TurnRunner:
    def __init__(self, runtime: Runtime, models: ModelAccess) -> None:
        self.runtime = runtime
        self.models = models
        self.slots = StreamSlots(runtime.settings.studio_max_streams_per_account)

    def new_message_id(self, now_us: int) -> str:
        return new_sortable_id(MESSAGE_PREFIX, now_us // 1000, self.runtime.random_bytes(10))

    async def begin(
        self, account: Account, conversation: Conversation, content: str, *, tools_enabled: bool
    ) -> Turn:
        owner = account.id
        self.slots.acquire(owner)
        try:
            try:
                resolved = await self.models.resolve(
                    account, conversation, tools_enabled=tools_enabled
                )
            except ProviderError as exc:  # e.g. its key no longer opens on this node
                raise ProviderUnavailable(exc.message) from None
            store = self.runtime.store
            now = self.runtime.clock_us()
            user = NewMessage(id=self.new_message_id(now), role=MessageRole.USER, content=content)
            stored = await store.append_studio_messages(owner, conversation.id, [user], now_us=now)
            if stored is None:
                raise NotFound("conversation not found")
            recent = await store.recent_studio_messages(conversation.id, limit=HISTORY_ROWS)
            history = history_for_model(recent, self.runtime.settings.studio_history_tokens)
            request = ModelRequest(
                model=resolved.model,
                messages=[_chat_message(m) for m in history],
                system=resolved.system,
                temperature=resolved.temperature,
                max_tokens=resolved.max_tokens,
                thinking=resolved.thinking,
            )
        except BaseException:
            self.slots.release(owner)
            raise
        return Turn(
            runner=self,
            owner=owner,
            conversation=conversation,
            user_message=stored[0],
            resolved=resolved,
            request=request,
        )


def _chat_message(message: StudioMessage) -> ChatMessage:
    return ChatMessage(
        role=Role(message.role.value),
        content=message.content,
        tool_calls=tuple(ToolCall(c.id, c.name, c.arguments) for c in message.tool_calls),
        tool_call_id=message.tool_call_id,
        name=message.name,
    )


def _unstored(row: NewMessage, conversation_id: str, now_us: int) -> StudioMessage:
    return StudioMessage(
        id=row.id,
        conversation_id=conversation_id,
        role=row.role,
        content=row.content,
        tool_calls=row.tool_calls,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        status=row.status,
        created_at_us=now_us,
    )
