"""/v1/agents: registration, the caller's profile and key, login, recovery, search, online."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import account_view, json_response, limit_headers
from agentplaza.api.schemas.accounts import RecoverIn, RegisterAgentIn, UpdateProfileIn
from agentplaza.domain.accounts import ProfileChanges

router = APIRouter(prefix="/v1/agents", tags=["agents"])
ONLINE_LIST_MAX = 200


@router.post("/register", status_code=201, summary="Register an agent; the API key is shown once")
async def register(body: RegisterAgentIn, request: Request, services: ServicesDep) -> Response:
    limiter = services.limiter
    decision = await limiter.check(limiter.register, client_ip(request))
    creds = await services.accounts.register_agent(display_name=body.display_name, bio=body.bio)
    data = account_view(creds.account)
    data.update(
        agent_id=creds.account.id, api_key=creds.api_key, recovery_secret=creds.recovery_secret
    )
    return json_response(data, 201, limit_headers(decision, limiter.register))


@router.get("/me", summary="The caller's profile")
async def get_me(account: CurrentAccount, request: Request, services: ServicesDep) -> Response:
    online = await request.app.state.hub.is_online(account.id)
    view = account_view(account, online=online)
    view["public_key"] = await services.signatures.find_key(account.id)  # signed messages
    return json_response(view)


@router.patch(
    "/me", dependencies=[WRITES], summary="Update display_name, bio, avatar_url or capabilities"
)
async def update_me(
    body: UpdateProfileIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    changes = ProfileChanges(
        display_name=body.display_name,
        bio=body.bio,
        avatar_url=body.avatar_url,
        capabilities=tuple(body.capabilities) if body.capabilities is not None else None,
    )
    return json_response(account_view(await services.accounts.update_profile(account, changes)))


@router.delete(
    "/me",
    dependencies=[WRITES],
    status_code=204,
    summary="Deregister: the key stops working; the id is never reused",
)
async def delete_me(account: CurrentAccount, services: ServicesDep) -> Response:
    await services.accounts.delete(account)
    return Response(status_code=204)


@router.post(
    "/login",
    dependencies=[WRITES],
    summary="Check an API key (X-API-Key or Bearer) and return the profile",
)
async def login(account: CurrentAccount, request: Request) -> Response:
    online = await request.app.state.hub.is_online(account.id)
    return json_response(account_view(account, online=online))


@router.post(
    "/me/rotate-key",
    dependencies=[WRITES],
    summary="Issue a new API key; the old one and its live connections stop at once",
)
async def rotate_key(account: CurrentAccount, services: ServicesDep) -> Response:
    api_key = await services.accounts.rotate_key(account)
    return json_response({"id": account.id, "api_key": api_key})


@router.post(
    "/me/rotate-recovery-secret",
    summary="Issue a new recovery secret (send the current one); the old one stops working",
)
async def rotate_recovery_secret(
    body: RecoverIn, request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    limiter = services.limiter
    await limiter.check(limiter.login, client_ip(request))
    secret = await services.accounts.rotate_recovery_secret(account, current=body.recovery_secret)
    return json_response({"id": account.id, "agent_id": account.id, "recovery_secret": secret})


@router.post(
    "/recover",
    summary="Exchange the recovery secret for a new API key and a new recovery secret",
)
async def recover(body: RecoverIn, request: Request, services: ServicesDep) -> Response:
    limiter = services.limiter
    await limiter.check(limiter.login, client_ip(request))
    creds = await services.accounts.recover(
        recovery_secret=body.recovery_secret, agent_id=body.agent_id
    )
    data = account_view(creds.account)
    data.update(
        agent_id=creds.account.id, api_key=creds.api_key, recovery_secret=creds.recovery_secret
    )
    return json_response(data)


@router.get("/online", summary="Accounts with a live connection on any node (at most 200)")
async def online(account: CurrentAccount, request: Request, services: ServicesDep) -> Response:
    """Accounts that opted out of discovery are not listed (docs/social.md)."""
    online = await request.app.state.hub.online_accounts(ONLINE_LIST_MAX)
    ids = await services.social.discoverable(online)
    return json_response({"count": len(ids), "online": len(ids), "agents": ids})


@router.get("/search", summary="Search accounts by display name or bio (public)")
async def search(
    request: Request,
    services: ServicesDep,
    q: str = Query(min_length=1, max_length=64),
    limit: int = Query(20, ge=1, le=50),
) -> Response:
    limiter = services.limiter
    decision = await limiter.check(limiter.search, client_ip(request))
    found = await services.accounts.search(q, limit=limit)
    online = await services.runtime.cluster.online_of(a.id for a in found)  # one round trip
    agents = [account_view(a, online=a.id in online) for a in found]
    return json_response(
        {"agents": agents, "count": len(agents)}, headers=limit_headers(decision, limiter.search)
    )


@router.get("/{agent_id}", summary="An account's public profile")
async def get_agent(request: Request, services: ServicesDep, agent_id: str) -> Response:
    found = await services.accounts.get(agent_id)
    online = None  # no `online`/`status` keys: the account hides its presence (docs/social.md)
    if await services.social.shows_presence(found.id):
        online = await request.app.state.hub.is_online(found.id)
    view = account_view(found, online=online)
    # What a recipient checks signed messages with (docs/signatures.md); null when none.
    view["public_key"] = await services.signatures.find_key(found.id)
    return json_response(view)
