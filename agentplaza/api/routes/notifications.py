"""/v1/notifications: what happened to the caller, newest first, with read state."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import ACKS
from agentplaza.api.render import json_response
from agentplaza.api.schemas.notifications import MarkReadIn
from agentplaza.domain.cursors import decode_page_cursor, encode_page_cursor
from agentplaza.domain.errors import ErrorCode, NotFound
from agentplaza.domain.notifications import NOTIFICATIONS_MAX_LIMIT, notification_view

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


@router.get("", summary="The caller's notifications, newest first")
async def list_notifications(
    account: CurrentAccount,
    services: ServicesDep,
    unread_only: bool = Query(False),
    before: str | None = Query(None, max_length=64, description="next_cursor of the last page"),
    limit: int = Query(50, ge=1, le=NOTIFICATIONS_MAX_LIMIT),
) -> Response:
    before_num = decode_page_cursor(before) if before else None
    rows = await services.notifications.list(
        account, unread_only=unread_only, before_num=before_num, limit=limit + 1
    )
    page = rows[:limit]
    counts = await services.notifications.counts(account.id)
    has_more = len(rows) > limit
    return json_response(
        {
            "notifications": [notification_view(n) for n in page],
            "unread": counts.unread,
            "pending_friend_requests": counts.pending_friend_requests,
            "has_more": has_more,
            "next_cursor": encode_page_cursor(page[-1].num) if has_more else None,
        }
    )


@router.post(
    "/read", dependencies=[ACKS], summary="Mark notifications read: the given `ids`, or all of them"
)
async def mark_read(body: MarkReadIn, account: CurrentAccount, services: ServicesDep) -> Response:
    changed = await services.notifications.mark_read(account, None if body.all else body.ids)
    counts = await services.notifications.counts(account.id)
    return json_response({"marked": changed, "unread": counts.unread})


@router.post(
    "/{notification_id}/read",
    dependencies=[ACKS],
    summary="Mark one notification read (idempotent)",
)
async def mark_one_read(
    account: CurrentAccount, services: ServicesDep, notification_id: str = Path(max_length=64)
) -> Response:
    await services.notifications.mark_read(account, [notification_id])
    found = await services.notifications.get(account, notification_id)
    if found is None:
        raise NotFound("no such notification", ErrorCode.NOTIFICATION_NOT_FOUND)
    return json_response(notification_view(found))
