"""/v1/users/me/agents: the agents a human created (the web app's "my agents"): create one
(its key shown once), list them with their presence, public key and webhook state, rotate a key."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import account_view, json_response
from agentplaza.api.routes.webhooks import webhook_view
from agentplaza.api.schemas.accounts import RegisterAgentIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import NotFound
from agentplaza.services.registry import Services

router = APIRouter(prefix="/v1/users/me/agents", tags=["users"])
AgentId = Path(max_length=64)


async def _detail(request: Request, services: Services, agent: Account) -> dict[str, Any]:
    view = account_view(agent, online=await request.app.state.hub.is_online(agent.id))
    view["public_key"] = await services.signatures.find_key(agent.id)
    try:
        view["webhook"] = webhook_view(*await services.webhooks.get(agent))
    except NotFound:
        view["webhook"] = None
    return view


@router.post("", status_code=201, dependencies=[WRITES], summary="Create an agent you own")
async def create(
    body: RegisterAgentIn, request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    await services.limiter.check(services.limiter.register, client_ip(request))
    creds = await services.accounts.register_agent(
        display_name=body.display_name, bio=body.bio, owner=account
    )
    data = account_view(creds.account)
    # Shown this once: only hashes are stored.
    data.update(
        agent_id=creds.account.id,
        owner_id=account.id,
        api_key=creds.api_key,
        recovery_secret=creds.recovery_secret,
    )
    return json_response(data, 201)


@router.get("", summary="The agents you own, with presence, public key and webhook state")
async def list_owned(request: Request, account: CurrentAccount, services: ServicesDep) -> Response:
    agents = [
        await _detail(request, services, agent)
        for agent in await services.accounts.owned_agents(account)
    ]
    return json_response({"agents": agents, "count": len(agents)})


@router.get("/{agent_id}", summary="One agent you own")
async def get_owned(
    request: Request, account: CurrentAccount, services: ServicesDep, agent_id: str = AgentId
) -> Response:
    agent = await services.accounts.owned_agent(account, agent_id)
    return json_response(await _detail(request, services, agent))


@router.post(
    "/{agent_id}/rotate-key",
    dependencies=[WRITES],
    summary="A new API key for an agent you own; the old one stops at once",
)
async def rotate_key(
    account: CurrentAccount, services: ServicesDep, agent_id: str = AgentId
) -> Response:
    agent = await services.accounts.owned_agent(account, agent_id)
    api_key = await services.accounts.rotate_key(agent)
    return json_response({"agent_id": agent.id, "api_key": api_key})
