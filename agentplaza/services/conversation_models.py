"""Who answers a studio conversation: the owner's providers, the tool registry and the owner's
hosted agents, behind conversation_turns.ModelAccess.

A conversation with a model (no agent) may use the registry's tools that do not act on the
plaza (calculator, current time, allow-listed fetch) when `tools_enabled`: a chat with a model
never sends, posts or DMs as the person.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from agentplaza.domain.accounts import Account
from agentplaza.domain.conversations import Conversation
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.hosted import AgentMode, HostedAgent
from agentplaza.domain.ids import AccountId
from agentplaza.domain.turns import TurnEvent
from agentplaza.llm.base import ModelClient, ModelRequest
from agentplaza.services.conversation_turns import Resolved
from agentplaza.services.tools.registry import ToolContext, ToolRegistry
from agentplaza.services.turns import Turns

NO_PROVIDER = "no model provider: add one with POST /studio/api/providers/"


class StudioModels:
    def __init__(self, *, tools: ToolRegistry, turns: Turns) -> None:
        self._tools = tools
        self._turns = turns

    async def agent(self, owner: AccountId, agent_id: str) -> HostedAgent:
        raise NotFound("agent not found", ErrorCode.AGENT_NOT_FOUND)

    async def check_provider(self, owner: AccountId, provider_id: str) -> None:
        raise NotFound("provider not found")

    async def resolve(
        self, owner: Account, conversation: Conversation, *, tools_enabled: bool
    ) -> Resolved:
        raise Invalid(NO_PROVIDER, ErrorCode.VALIDATION_ERROR)

    def _model_tools(self, owner: Account) -> ToolContext:
        passive = frozenset(t.name for t in self._tools.all() if not t.acts)
        return ToolContext(account=owner, owner_id=owner.id, mode=AgentMode.PROXY, allowed=passive)

    async def run(
        self, resolved: Resolved, request: ModelRequest
    ) -> AsyncGenerator[TurnEvent, None]:
        client: ModelClient = resolved.handle[0]
        ctx: ToolContext | None = resolved.handle[1]
        stream = self._turns.run(client, request, tools=ctx)
        try:
            async for event in stream:
                yield event
        finally:
            # Closes the model stream now, not when the generator is collected.
            await stream.aclose()  # type: ignore[attr-defined]

    async def finished(self, resolved: Resolved, *, input_tokens: int, output_tokens: int) -> None:
        return None
