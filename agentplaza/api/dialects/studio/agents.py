"""/studio/api/agents: hosted agents (seed 004's agent registry; docs/studio.md "Agents").

A hosted agent is a plaza account (its id is the account id) whose replies the server
generates; these routes manage its configuration and show its usage. Only the owner sees
or changes an agent: any other id is 404.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    StudioRoute,
    ok,
    page,
)
from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.hosted import (
    US_PER_DAY,
    AgentMode,
    DmPolicy,
    GroupPolicy,
    HostedAgent,
    Trust,
)
from agentplaza.domain.ids import AccountId, parse_account_id
from agentplaza.services.hosted_agents import UsageToday
from agentplaza.services.registry import Services

router = APIRouter(prefix="/studio/api/agents", tags=["dialect: /studio"], route_class=StudioRoute)
AgentIdPath = Path(max_length=64)
MAX_TOOLS = 32
MAX_TRUST_OVERRIDES = 500

_Name = Field(min_length=1, max_length=64)
_Prompt = Field(default=None, max_length=32_000)


class _Config(BaseModel):
    """Fields shared by create and update (None: unchanged on update, default on create)."""

    model_config = ConfigDict(extra="ignore")

    description: str | None = Field(default=None, max_length=500)
    system_prompt: str | None = _Prompt
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    thinking_enabled: bool | None = None
    tools: list[str] | None = Field(default=None, max_length=MAX_TOOLS)
    dm_policy: DmPolicy | None = None
    group_policy: GroupPolicy | None = None
    stranger_limit: int | None = Field(default=None, ge=0, le=10_000)
    trust_overrides: dict[str, Trust] | None = None
    agent_type: AgentMode | None = None
    memory_tokens: int | None = Field(default=None, ge=100, le=1_000_000)
    daily_token_budget: int | None = Field(default=None, ge=0, le=10_000_000_000)
    enabled: bool | None = None


class AgentIn(_Config):
    name: str = _Name
    provider_id: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=200)


class AgentUpdate(_Config):
    name: str | None = Field(default=None, min_length=1, max_length=64)
    provider_id: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=200)


def _apply(services: Services, base: HostedAgent, body: _Config, **ids: str) -> HostedAgent:
    """`base` with the body's fields that were sent, checked."""
    changes: dict[str, Any] = dict(ids)
    simple = (
        *("system_prompt", "temperature", "max_tokens", "dm_policy", "group_policy"),
        *("stranger_limit", "memory_tokens", "daily_token_budget", "enabled"),
    )
    for name in simple:
        value = getattr(body, name)
        if value is not None:
            changes[name] = value
    if body.thinking_enabled is not None:
        changes["thinking"] = body.thinking_enabled
    if body.agent_type is not None:
        changes["mode"] = body.agent_type
    if body.tools is not None:
        unknown = sorted(set(body.tools) - services.tools.names())
        if unknown:
            raise Invalid(f"unknown tools: {', '.join(unknown)[:200]}")
        changes["tools"] = tuple(dict.fromkeys(body.tools))
    if body.trust_overrides is not None:
        if len(body.trust_overrides) > MAX_TRUST_OVERRIDES:
            raise Invalid(f"trust_overrides holds at most {MAX_TRUST_OVERRIDES} accounts")
        for key in body.trust_overrides:
            if parse_account_id(key) is None:
                raise Invalid(
                    f"trust_overrides: {key[:32]!r} is not an account id", ErrorCode.INVALID_ID
                )
        changes["trust_overrides"] = dict(body.trust_overrides)
    return dataclasses.replace(base, **changes)


def agent_view(account: Account, agent: HostedAgent, usage: UsageToday) -> dict[str, Any]:
    """A hosted agent as /studio shows it. No API key: the server acts as the agent."""
    return {
        "id": agent.account_id,
        "account_id": agent.account_id,
        "owner_id": agent.owner_id,
        "name": account.display_name,
        "description": account.bio,
        "provider_id": agent.provider_id,
        "model": agent.model,
        "system_prompt": agent.system_prompt,
        "temperature": agent.temperature,
        "max_tokens": agent.max_tokens,
        "thinking_enabled": agent.thinking,
        "tools": list(agent.tools),
        "dm_policy": agent.dm_policy.value,
        "group_policy": agent.group_policy.value,
        "stranger_limit": agent.stranger_limit,
        "trust_overrides": {k: v.value for k, v in agent.trust_overrides.items()},
        "agent_type": agent.mode.value,
        "memory_tokens": agent.memory_tokens,
        "daily_token_budget": agent.daily_token_budget,
        "enabled": agent.enabled,
        "usage_today": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "tokens": usage.input_tokens + usage.output_tokens,
            "cost_usd": usage.cost_usd,
            "replies": usage.replies,
        },
        "budget_exhausted": usage.budget_exhausted,
        "created_at": iso_from_us(agent.created_at_us),
        "updated_at": iso_from_us(agent.updated_at_us),
    }


async def _view(services: Services, agent: HostedAgent) -> dict[str, Any]:
    account = await services.hosted.account_of(agent)
    return agent_view(account, agent, await services.hosted.usage_today(agent))


@router.get("/", summary="Your hosted agents")
async def list_agents(
    account: CurrentAccount,
    services: ServicesDep,
    page_no: int = Query(default=1, ge=1, le=100_000, alias="page"),
    page_size: int = Query(default=PAGE_SIZE_DEFAULT, ge=1, le=PAGE_SIZE_MAX),
) -> Response:
    agents = await services.hosted.list_owned(account)
    chosen = agents[(page_no - 1) * page_size : page_no * page_size]
    items = [await _view(services, a) for a in chosen]
    return page(items, total=len(agents), page=page_no, page_size=page_size)


@router.post("/", status_code=201, dependencies=[WRITES], summary="Create a hosted agent")
async def create_agent(body: AgentIn, account: CurrentAccount, services: ServicesDep) -> Response:
    base = HostedAgent(
        account_id=AccountId(""),
        owner_id=account.id,
        provider_id=body.provider_id,
        model=body.model,
    )
    config = _apply(services, base, body)
    created, agent = await services.hosted.create(
        account, name=body.name, description=body.description or "", config=config
    )
    return ok(agent_view(created, agent, await services.hosted.usage_today(agent)), status=201)


@router.get("/{agent_id}", summary="One of your hosted agents")
async def get_agent(
    account: CurrentAccount, services: ServicesDep, agent_id: str = AgentIdPath
) -> Response:
    return ok(await _view(services, await services.hosted.owned(account, agent_id)))


@router.put("/{agent_id}", dependencies=[WRITES], summary="Update a hosted agent")
async def update_agent(
    body: AgentUpdate, account: CurrentAccount, services: ServicesDep, agent_id: str = AgentIdPath
) -> Response:
    agent = await services.hosted.owned(account, agent_id)
    ids = {k: v for k, v in (("provider_id", body.provider_id), ("model", body.model)) if v}
    config = _apply(services, agent, body, **ids)
    updated_account, updated = await services.hosted.update(
        account, agent, name=body.name, description=body.description, config=config
    )
    return ok(agent_view(updated_account, updated, await services.hosted.usage_today(updated)))


@router.delete("/{agent_id}", dependencies=[WRITES], summary="Delete a hosted agent")
async def delete_agent(
    account: CurrentAccount, services: ServicesDep, agent_id: str = AgentIdPath
) -> Response:
    await services.hosted.delete(await services.hosted.owned(account, agent_id))
    return ok(None, message="已删除")


@router.get("/{agent_id}/usage", summary="Daily usage of a hosted agent")
async def agent_usage(
    account: CurrentAccount,
    services: ServicesDep,
    agent_id: str = AgentIdPath,
    days: int = Query(default=30, ge=1, le=366),
) -> Response:
    agent = await services.hosted.owned(account, agent_id)
    series = await services.hosted.usage_series(agent, days)
    return ok(
        {
            "agent_id": agent.account_id,
            "daily_token_budget": agent.daily_token_budget,
            "days": [
                {
                    "date": iso_from_us(d.day * US_PER_DAY)[:10],
                    "input_tokens": d.input_tokens,
                    "output_tokens": d.output_tokens,
                    "tokens": d.tokens,
                    "cost_usd": d.cost_micro_usd / 1_000_000,
                    "replies": d.replies,
                }
                for d in series
            ],
        }
    )
