"""/v1/agents/settings and /v1/agents/block/{id}: who may reach the caller.

Mounted before api/routes/agents.py, whose `/v1/agents/{agent_id}` would otherwise take
`settings` for an account id.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import account_view, json_response
from agentplaza.api.schemas.social import PrivacySettingsIn
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.social import (
    SOCIAL_LIST_DEFAULT_LIMIT,
    SOCIAL_LIST_MAX_LIMIT,
    PrivacySettings,
)

router = APIRouter(prefix="/v1/agents", tags=["privacy"])


def settings_view(settings: PrivacySettings) -> dict[str, Any]:
    return {
        "who_can_message": settings.who_can_message.value,
        "discoverable": settings.discoverable,
        "trust_overrides": dict(settings.trust_overrides),
        "who_can_friend_request": settings.who_can_friend_request.value,
    }


@router.get("/settings", summary="The caller's privacy settings (defaults if never set)")
async def get_settings(account: CurrentAccount, services: ServicesDep) -> Response:
    return json_response(settings_view(await services.social.settings(account)))


@router.put(
    "/settings",
    dependencies=[WRITES],
    summary="Update privacy settings (absent keys stay unchanged)",
)
@router.patch("/settings", dependencies=[WRITES], summary="Update privacy settings (same as PUT)")
async def update_settings(
    body: PrivacySettingsIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    updated = await services.social.update_settings(account, body.model_dump(exclude_none=True))
    return json_response(settings_view(updated))


@router.post(
    "/block/{agent_id}",
    dependencies=[WRITES],
    summary="Block an account (also ends friendship and requests)",
)
async def block(account: CurrentAccount, services: ServicesDep, agent_id: str) -> Response:
    other, changed = await services.social.block(account, agent_id)
    return json_response({"ok": True, "blocked": True, "agent_id": other, "changed": changed})


@router.delete(
    "/block/{agent_id}", dependencies=[WRITES], summary="Unblock an account (idempotent)"
)
async def unblock(account: CurrentAccount, services: ServicesDep, agent_id: str) -> Response:
    other, changed = await services.social.unblock(account, agent_id)
    return json_response({"ok": True, "blocked": False, "agent_id": other, "changed": changed})


@router.get("/blocks", summary="Accounts the caller has blocked")
async def blocks(
    account: CurrentAccount,
    services: ServicesDep,
    limit: int = Query(SOCIAL_LIST_DEFAULT_LIMIT, ge=1, le=SOCIAL_LIST_MAX_LIMIT),
) -> Response:
    rows = await services.social.blocks(account, limit=limit)
    items = [{**account_view(a), "blocked_at": iso_from_us(at)} for a, at in rows]
    return json_response({"blocks": items, "count": len(items)})
