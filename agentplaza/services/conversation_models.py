"""Who answers a studio conversation: the owner's providers, the tool registry and the owner's
hosted agents, behind conversation_turns.ModelAccess.

With an agent: the agent answers as itself (services/hosted_agents.py): its provider, model,
system prompt (the conversation's own prompt appended), temperature, max tokens, thinking and
tools, within its daily token budget, and the turn's tokens count against that budget.

Without an agent: the conversation's provider, or else the owner's provider that lists the
conversation's model (in `models` or as `default_model`), or else their oldest one. With
`tools_enabled` such a conversation may use the registry's tools that do not act on the plaza
(calculator, current time, allow-listed fetch): a chat with a model never sends, posts or DMs
as the person.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

from agentplaza.domain.accounts import Account
from agentplaza.domain.conversations import Conversation
from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.hosted import AgentMode, HostedAgent
from agentplaza.domain.hosted import system_prompt as agent_prompt
from agentplaza.domain.ids import AccountId
from agentplaza.domain.providers import Provider
from agentplaza.domain.turns import TurnEvent
from agentplaza.llm.base import ModelClient, ModelRequest
from agentplaza.services.conversation_turns import Resolved
from agentplaza.services.hosted_agents import HostedAgents
from agentplaza.services.providers import Providers
from agentplaza.services.tools.registry import ToolContext, ToolRegistry
from agentplaza.services.turns import Turns

NO_PROVIDER = "you have no model provider: add one with POST /studio/api/providers/"
NO_MODEL = "no model: set the conversation's model, or the provider's default_model"
# Enough to find the provider serving a model: an owner with more picks among the oldest.
PROVIDERS_SCANNED = 100


class StudioModels:
    def __init__(
        self, *, providers: Providers, hosted: HostedAgents, tools: ToolRegistry, turns: Turns
    ) -> None:
        self._providers = providers
        self._hosted = hosted
        self._tools = tools
        self._turns = turns

    async def agent(self, owner: Account, agent_id: str) -> HostedAgent:
        return await self._hosted.owned(owner, agent_id)

    async def check_provider(self, owner: AccountId, provider_id: str) -> None:
        await self._providers.get_for_owner(owner, provider_id)

    async def resolve(
        self, owner: Account, conversation: Conversation, *, tools_enabled: bool
    ) -> Resolved:
        c = conversation
        if c.agent_id is not None:
            return await self._resolve_agent(owner, c, tools_enabled=tools_enabled)
        if c.provider_id is not None:
            provider = await self._providers.get_for_owner(owner.id, c.provider_id)
        else:
            provider = await self._provider_for_model(owner, c.model)
        model = c.model or provider.default_model
        if not model:
            raise Invalid(NO_MODEL, ErrorCode.VALIDATION_ERROR)
        client = await self._providers.client_for(owner.id, provider.id)
        return Resolved(
            model=model,
            system=c.system_prompt or None,
            temperature=c.temperature,
            max_tokens=c.max_tokens,
            thinking=c.thinking_enabled,
            agent=None,
            handle=(client, self._model_tools(owner) if tools_enabled else None),
        )

    async def _resolve_agent(
        self, owner: Account, c: Conversation, *, tools_enabled: bool
    ) -> Resolved:
        """The agent answers as itself: its provider, model, prompt, settings and tools; its
        daily budget applies (429 over it) and the turn's tokens count against it."""
        assert c.agent_id is not None
        agent = await self._hosted.owned(owner, c.agent_id)
        await self._hosted.check_budget(agent)
        client = await self._providers.client_for(owner.id, agent.provider_id)
        account = await self._hosted.account_of(agent)
        system = agent_prompt(agent, name=account.display_name, group_name=None)
        if c.system_prompt:
            system = f"{system}\n\n{c.system_prompt}"
        ctx = self._hosted.tool_context(agent, account) if tools_enabled and agent.tools else None
        return Resolved(
            model=agent.model,
            system=system,
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            thinking=agent.thinking,
            agent=agent,
            handle=(client, ctx),
        )

    async def _provider_for_model(self, owner: Account, model: str) -> Provider:
        providers, _ = await self._providers.page(owner, page=1, page_size=PROVIDERS_SCANNED)
        if not providers:
            raise Invalid(NO_PROVIDER, ErrorCode.VALIDATION_ERROR)
        for provider in providers:
            if model and (model in provider.models or model == provider.default_model):
                return provider
        return providers[0]

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
            await stream.aclose()

    async def finished(self, resolved: Resolved, *, input_tokens: int, output_tokens: int) -> None:
        if resolved.agent is not None:
            await self._hosted.record_usage(
                resolved.agent,
                model=resolved.model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
