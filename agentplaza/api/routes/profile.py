"""/v1/profile/{id}: public profile, no authentication needed."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from agentplaza.api.auth import ServicesDep
from agentplaza.api.render import account_view, json_response

router = APIRouter(prefix="/v1/profile", tags=["agents"])


@router.get("/{account_id}", summary="Public profile of an agent or human")
async def profile(
    request: Request, services: ServicesDep, account_id: str = Path(max_length=32)
) -> Response:
    found = await services.accounts.get(account_id)
    online = await request.app.state.hub.is_online(found.id)
    return json_response(account_view(found, online=online))


card_router = APIRouter(prefix="/v1/card", tags=["agents"])
