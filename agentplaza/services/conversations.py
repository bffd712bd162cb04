"""Studio conversations (seed 004): CRUD per owner, messages, and answers by a model or a hosted
agent, streamed or not.

Everything is scoped by the owner: another person's conversation, message, provider or agent
is "not found" (404), exactly as one that does not exist. The user's message is stored before
the model is called (it survives a failed or cancelled answer); the answer is stored when the
turn ends, complete, cancelled or failed (services/conversation_turns.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from agentplaza.domain.accounts import Account
from agentplaza.domain.conversations import (
    CONVERSATION_PREFIX,
    DEFAULT_TITLE,
    Conversation,
    ConversationChanges,
    StudioMessage,
)
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound, PayloadTooLarge
from agentplaza.domain.ids import is_sortable_id, new_sortable_id
from agentplaza.services.conversation_turns import ModelAccess, Turn, TurnRunner
from agentplaza.services.runtime import Runtime

CONVERSATION_NOT_FOUND = "conversation not found"
MESSAGE_NOT_FOUND = "message not found"
T = TypeVar("T")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewConversation:
    """A create request as seed 004 gives it (plus provider_id / agent_id)."""

    project_id: str | None = None
    title: str = DEFAULT_TITLE
    model: str = ""
    system_prompt: str | None = None
    temperature: float = 1.0
    max_tokens: int = 65536
    thinking_enabled: bool = False
    provider_id: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    page_size: int


class Conversations:
    def __init__(self, runtime: Runtime, *, models: ModelAccess) -> None:
        self._runtime = runtime
        self._store = runtime.store
        self._models = models
        self._turns = TurnRunner(runtime, models)

    # --- conversations -----------------------------------------------------------------------

    async def create(self, owner: Account, new: NewConversation) -> Conversation:
        """A conversation of `owner`. A provider or agent named must be the owner's (404
        otherwise); `max_tokens` above `studio_max_tokens_cap` is stored as the cap."""
        if new.provider_id is not None and new.agent_id is not None:
            raise Invalid("give provider_id or agent_id, not both", ErrorCode.VALIDATION_ERROR)
        model = new.model
        if new.agent_id is not None:
            agent = await self._models.agent(owner, new.agent_id)
            model = model or agent.model
        elif new.provider_id is not None:
            await self._models.check_provider(owner.id, new.provider_id)
        now = self._runtime.clock_us()
        conversation = Conversation(
            id=self._new_id(CONVERSATION_PREFIX, now),
            owner_id=owner.id,
            project_id=new.project_id,
            title=new.title.strip() or DEFAULT_TITLE,
            provider_id=new.provider_id,
            agent_id=new.agent_id,
            model=model,
            system_prompt=new.system_prompt,
            temperature=new.temperature,
            max_tokens=self._cap(new.max_tokens),
            thinking_enabled=new.thinking_enabled,
            created_at_us=now,
            updated_at_us=now,
        )
        return await self._store.create_conversation(conversation)

    async def get(self, owner: Account, conversation_id: str) -> Conversation:
        found = await self._store.get_conversation(owner.id, conversation_id)
        if found is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        return found

    async def list(
        self, owner: Account, *, project_id: str | None, page: int, page_size: int
    ) -> Page[Conversation]:
        """The owner's conversations, most recently active first."""
        items, total = await self._store.list_conversations(
            owner.id, project_id=project_id, offset=(page - 1) * page_size, limit=page_size
        )
        return Page(items, total, page, page_size)

    async def update(
        self, owner: Account, conversation_id: str, changes: ConversationChanges
    ) -> Conversation:
        """Apply `changes`; a provider or agent it names must be the owner's. Setting one of
        provider_id / agent_id clears the other (a conversation answers through one)."""
        await self.get(owner, conversation_id)
        if changes.provider_id is not None and changes.agent_id is not None:
            raise Invalid("give provider_id or agent_id, not both", ErrorCode.VALIDATION_ERROR)
        if changes.agent_id is not None:
            await self._models.agent(owner, changes.agent_id)
            changes = replace(changes, clear_provider=True)
        if changes.provider_id is not None:
            await self._models.check_provider(owner.id, changes.provider_id)
            changes = replace(changes, clear_agent=True)
        if changes.max_tokens is not None:
            changes = replace(changes, max_tokens=self._cap(changes.max_tokens))
        if changes.title is not None:
            changes = replace(changes, title=changes.title.strip() or DEFAULT_TITLE)
        updated = await self._store.update_conversation(
            owner.id, conversation_id, changes, now_us=self._runtime.clock_us()
        )
        if updated is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        return updated

    async def delete(self, owner: Account, conversation_id: str) -> None:
        """Delete it and all its messages (an answer in progress stores nothing after)."""
        if not await self._store.delete_conversation(owner.id, conversation_id):
            raise NotFound(CONVERSATION_NOT_FOUND)

    # --- messages ----------------------------------------------------------------------------

    async def messages(
        self, owner: Account, conversation_id: str, *, page: int, page_size: int
    ) -> Page[StudioMessage]:
        """The conversation's messages, oldest first."""
        found = await self._store.list_studio_messages(
            owner.id, conversation_id, offset=(page - 1) * page_size, limit=page_size
        )
        if found is None:
            raise NotFound(CONVERSATION_NOT_FOUND)
        items, total = found
        return Page(items, total, page, page_size)

    async def delete_message(self, owner: Account, message_id: str) -> None:
        """Delete one message of one of the owner's conversations (404 for anyone else's)."""
        if not await self._store.delete_studio_message(owner.id, message_id):
            raise NotFound(MESSAGE_NOT_FOUND, ErrorCode.MESSAGE_NOT_FOUND)

    async def begin(
        self, owner: Account, conversation_id: str, content: str, *, tools_enabled: bool
    ) -> Turn:
        """Validate, take one of the owner's answer slots (429 when all are busy), resolve
        the model, store the user's message (durable before any model call) and return the
        turn, not yet started: iterate `Turn.events()` to run it, and always `release()`."""
        if not content.strip():
            raise Invalid("content is empty", ErrorCode.INVALID_CONTENT)
        limit = self._runtime.settings.studio_max_content_chars
        if len(content) > limit:
            raise PayloadTooLarge(f"content is longer than {limit} characters")
        conversation = await self.get(owner, conversation_id)
        return await self._turns.begin(owner, conversation, content, tools_enabled=tools_enabled)

    async def send(
        self, owner: Account, conversation_id: str, content: str, *, tools_enabled: bool
    ) -> tuple[StudioMessage, StudioMessage]:
        """The answer, not streamed: (stored assistant message, stored user message). A
        provider failure is stored as an error message and returned as such, not raised."""
        turn = await self.begin(owner, conversation_id, content, tools_enabled=tools_enabled)
        try:
            async for _ in turn.events():
                pass
        finally:
            turn.release()
        assert turn.assistant is not None  # events() always stores the answer
        return turn.assistant, turn.user_message

    # --- helpers -----------------------------------------------------------------------------

    def _cap(self, max_tokens: int) -> int:
        return min(max_tokens, self._runtime.settings.studio_max_tokens_cap)

    def _new_id(self, prefix: str, now_us: int) -> str:
        return new_sortable_id(prefix, now_us // 1000, self._runtime.random_bytes(10))


def is_conversation_id(value: str) -> bool:
    return is_sortable_id(CONVERSATION_PREFIX, value)
