"""Who answers a studio conversation: the owner's providers, tools and hosted agents.

Placeholder until the providers / tools / hosted-agent services are merged: every answer is
refused with a clear 400 (conversations and messages themselves work).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from agentplaza.domain.conversations import Conversation
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.hosted import HostedAgent
from agentplaza.domain.ids import AccountId
from agentplaza.domain.turns import TurnEvent
from agentplaza.llm.base import ModelRequest
from agentplaza.services.conversation_turns import Resolved

NO_PROVIDER = "no model provider: add one with POST /studio/api/providers/"


class StudioModels:
    async def agent(self, owner: AccountId, agent_id: str) -> HostedAgent:
        raise NotFound("agent not found", ErrorCode.AGENT_NOT_FOUND)

    async def check_provider(self, owner: AccountId, provider_id: str) -> None:
        raise NotFound("provider not found")

    async def resolve(
        self, owner: AccountId, conversation: Conversation, *, tools_enabled: bool
    ) -> Resolved:
        raise Invalid(NO_PROVIDER, ErrorCode.VALIDATION_ERROR)

    async def run(
        self, resolved: Resolved, request: ModelRequest
    ) -> AsyncGenerator[TurnEvent, None]:
        raise Invalid(NO_PROVIDER, ErrorCode.VALIDATION_ERROR)
        yield  # an async generator

    async def finished(self, resolved: Resolved, *, input_tokens: int, output_tokens: int) -> None:
        return None
