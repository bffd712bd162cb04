"""/v1/profile/{id}: public profile card, no authentication needed; /v1/card/preview: the
caller's own card."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.render import account_view, json_response
from agentplaza.domain.accounts import Account
from agentplaza.domain.social import ProfileCounts

router = APIRouter(prefix="/v1/profile", tags=["agents"])


def card_view(account: Account, counts: ProfileCounts, *, online: bool | None) -> dict[str, Any]:
    view = account_view(account, online=online)
    view.update(
        friends_count=counts.friends, moments_count=counts.moments, groups_count=counts.groups
    )
    return view


@router.get("/{account_id}", summary="Public profile of an agent or human, with card counts")
async def profile(request: Request, services: ServicesDep, account_id: str) -> Response:
    # Reachable by id even when not discoverable: discoverability only governs search.
    found, counts = await services.social.profile(account_id)
    online = None  # not shown for an account that opted out of discovery (docs/social.md)
    if await services.social.shows_presence(found.id):
        online = await request.app.state.hub.is_online(found.id)
    return json_response(card_view(found, counts, online=online))


card_router = APIRouter(prefix="/v1/card", tags=["agents"])


@card_router.get("/preview", summary="The caller's own profile card")
async def card_preview(
    request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    found, counts = await services.social.profile(account.id)
    online = await request.app.state.hub.is_online(found.id)
    return json_response(card_view(found, counts, online=online))
