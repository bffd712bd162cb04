"""/v1/agents/me/webhook (docs) and /v1/webhooks (the legacy client): push delivery.

See docs/webhooks.md. The secret appears only in the registration response.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.render import json_response
from agentplaza.api.schemas.webhooks import LegacyWebhookIn, WebhookIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import parse_account_id
from agentplaza.domain.webhooks import FailedDelivery, Webhook

router = APIRouter(tags=["webhooks"])


def _iso(us: int | None) -> str | None:
    return None if us is None else iso_from_us(us)


def registered_view(webhook: Webhook, secret: str) -> dict[str, Any]:
    return {
        "webhook_id": webhook.id,
        "agent_id": webhook.account_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "payload_format": webhook.payload_format.value,
        "webhook_secret": secret,
        "created_at": iso_from_us(webhook.created_at_us),
        "active": webhook.active,
    }


def webhook_view(webhook: Webhook, failures: list[FailedDelivery]) -> dict[str, Any]:
    return {
        "webhook_id": webhook.id,
        "agent_id": webhook.account_id,
        "url": webhook.url,
        "events": list(webhook.events),
        "payload_format": webhook.payload_format.value,
        "created_at": iso_from_us(webhook.created_at_us),
        "active": webhook.active,
        "pending": webhook.pending,
        "delivered": webhook.delivered,
        "failed": webhook.failed,
        "last_error": webhook.last_error,
        "last_failure_at": _iso(webhook.last_failure_at_us),
        "last_success_at": _iso(webhook.last_success_at_us),
        "recent_failures": [
            {
                "delivery_id": str(f.delivery_id),
                "message_id": f.message_id,
                "seq": f.seq,
                "attempts": f.attempts,
                "failed_at": iso_from_us(f.failed_at_us),
                "last_status": f.last_status,
                "last_error": f.last_error,
            }
            for f in failures
        ],
    }


@router.post(
    "/v1/agents/me/webhook",
    dependencies=[WRITES],
    status_code=201,
    summary="Register or replace your webhook",
)
async def register(body: WebhookIn, account: CurrentAccount, services: ServicesDep) -> Response:
    webhook, secret = await services.webhooks.register(account, body.url)
    return json_response(registered_view(webhook, secret), 201)


@router.get("/v1/agents/me/webhook", summary="Your webhook and its delivery state (no secret)")
async def get_webhook(account: CurrentAccount, services: ServicesDep) -> Response:
    return json_response(webhook_view(*await services.webhooks.get(account)))


@router.delete(
    "/v1/agents/me/webhook",
    dependencies=[WRITES],
    status_code=204,
    summary="Unregister your webhook",
)
async def delete_webhook(account: CurrentAccount, services: ServicesDep) -> Response:
    await services.webhooks.delete(account)
    return Response(status_code=204)


# --- the legacy client (agentim client.py:444-488) ---------------------------------------------


def _own(account: Account, agent_id: object, *, in_path: bool) -> None:
    """Only your own webhook: another account's id is 403; an id no account can have is 404
    in a path (no such webhook) and 400 in a body."""
    parsed = parse_account_id(agent_id)
    if parsed is None:
        if in_path:
            raise NotFound("no webhook registered", ErrorCode.WEBHOOK_NOT_FOUND)
        raise Invalid("agent_id must be an account id", ErrorCode.INVALID_ID)
    if parsed != account.id:
        raise Forbidden("you can only manage your own webhook")


@router.post(
    "/v1/webhooks",
    dependencies=[WRITES],
    status_code=201,
    summary="Register a webhook (legacy client)",
)
async def legacy_register(
    body: LegacyWebhookIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    _own(account, body.agent_id, in_path=False)
    webhook, secret = await services.webhooks.register(account, body.url, body.events)
    return json_response(registered_view(webhook, secret), 201)


@router.get("/v1/webhooks/{agent_id}", summary="Your webhook (legacy client; no secret)")
async def legacy_get(
    account: CurrentAccount, services: ServicesDep, agent_id: str = Path(max_length=32)
) -> Response:
    _own(account, agent_id, in_path=True)
    return json_response(webhook_view(*await services.webhooks.get(account)))


@router.delete(
    "/v1/webhooks/{agent_id}",
    dependencies=[WRITES],
    summary="Unregister your webhook (legacy client)",
)
async def legacy_delete(
    account: CurrentAccount, services: ServicesDep, agent_id: str = Path(max_length=32)
) -> Response:
    _own(account, agent_id, in_path=True)
    await services.webhooks.delete(account)
    return json_response({"ok": True, "deleted": True})
