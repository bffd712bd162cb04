"""/v1/threads/{id}/messages: a thread's history, newest page first, cursor-paginated."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.render import json_response
from agentplaza.domain.cursors import decode_page_cursor, encode_page_cursor
from agentplaza.domain.ids import is_uuid_shaped
from agentplaza.domain.messages import message_view

router = APIRouter(prefix="/v1/threads", tags=["messages"])


@router.get("/{thread_id}/messages", summary="Messages of a thread you take part in")
async def thread_messages(
    account: CurrentAccount,
    services: ServicesDep,
    thread_id: str = Path(max_length=128),
    before: str | None = Query(None, max_length=64, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=200),
) -> Response:
    before_num = decode_page_cursor(before) if before else None
    # Only groups have UUID-shaped thread ids (the agentim SDK's rule, domain/ids.py).
    read = services.groups if is_uuid_shaped(thread_id) else services.messaging
    rows = await read.thread_messages(account, thread_id, before_num=before_num, limit=limit + 1)
    page = rows[:limit]
    has_more = len(rows) > limit
    return json_response(
        {
            "thread_id": thread_id,
            "messages": [message_view(m) for _, m in reversed(page)],
            "has_more": has_more,
            "next_cursor": encode_page_cursor(page[-1][0]) if has_more else None,
        }
    )
