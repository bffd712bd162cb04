"""/v1/messages: send, pending (long-poll), ack, sync, thread list."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import ValidationError
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, request_credential
from agentplaza.api.budgets import ACKS
from agentplaza.api.render import json_response, limit_headers
from agentplaza.api.schemas.messages import AckUpToIn, SendMessageIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us, us_from_iso
from agentplaza.domain.cursors import MAX_POSITION, SYNC_DEFAULT_LIMIT, SYNC_MAX_LIMIT
from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import is_uuid_shaped
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS, delivery_view, message_view
from agentplaza.metrics import DELIVERED_LONGPOLL
from agentplaza.realtime.longpoll import PENDING_DEFAULT_LIMIT, wait_for_pending
from agentplaza.services.messaging import Outgoing
from agentplaza.services.registry import Services

router = APIRouter(prefix="/v1/messages", tags=["messages"])


@router.post("", status_code=201, summary="Send a direct message")
async def send_message(
    body: SendMessageIn,
    account: CurrentAccount,
    services: ServicesDep,
    idempotency_key: str | None = Header(default=None, max_length=IDEMPOTENCY_KEY_MAX_CHARS),
) -> Response:
    status, view, headers = await send_from_body(services, account, body, idempotency_key)
    return json_response(view, status, headers)


async def send_from_body(
    services: Services, account: Account, body: SendMessageIn, idempotency_key: str | None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """The send itself, shared by this route and its fast path (api/fastpath.py).

    Returns (status, the sender's view of the message, extra headers).
    """
    limiter = services.limiter
    decision = await limiter.check(limiter.send, account.id)
    content_format = body.content.format if body.content else (body.format or "text")
    content_body = body.content.body if body.content else body.body
    out = Outgoing(
        to=body.to,
        format=content_format,
        body=content_body,
        thread_id=body.thread_id,
        reply_to=body.reply_to,
        type=body.type,
        idempotency_key=idempotency_key or body.idempotency_key,
        signature=body.signature,
    )
    posted = None
    if body.thread_id and is_uuid_shaped(body.thread_id):  # only groups have such thread ids
        posted = await services.groups.reply_in_group(account, out)
    message, replayed = posted or await services.messaging.send(account, out)
    headers = limit_headers(decision, limiter.send) or {}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    view = message_view(message)
    view["status"] = "accepted"
    return (200 if replayed else 201), view, headers


async def send_from_payload(
    services: Services, account: Account, payload: dict[str, Any]
) -> dict[str, Any]:
    """A send from an already decoded body (an AIM TCP MESSAGE frame): the same validation and
    send as POST /v1/messages; returns the send response, raises AgentplazaError."""
    try:
        body = SendMessageIn.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "payload"
        raise Invalid(f"{where}: {first.get('msg', 'invalid value')}") from None
    _, view, _ = await send_from_body(services, account, body, None)
    return view


@router.get("/pending", summary="Unacknowledged messages; waits up to `timeout` s for one")
async def pending(
    request: Request,
    account: CurrentAccount,
    services: ServicesDep,
    timeout: float = Query(0, ge=0, le=3600),  # noqa: ASYNC109 (the documented wire parameter)
    limit: int = Query(PENDING_DEFAULT_LIMIT, ge=1, le=SYNC_MAX_LIMIT),
) -> Response:
    timeout = min(timeout, services.runtime.settings.longpoll_max_timeout_secs)
    items = await wait_for_pending(
        services,
        request.app.state.hub,
        account,
        timeout_secs=timeout,
        limit=limit,
        token=request_credential(request) or "",
        client_gone=lambda: _until_disconnected(request),
    )
    if items:
        DELIVERED_LONGPOLL.inc(len(items))
    return json_response([delivery_view(i) for i in items])


async def _until_disconnected(request: Request) -> None:
    """Returns when the client closes the connection (the body was already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


@router.post("/ack", dependencies=[ACKS], summary="Acknowledge everything up to a seq")
async def ack_up_to(body: AckUpToIn, account: CurrentAccount, services: ServicesDep) -> Response:
    acked = await services.messaging.ack_up_to(account, body.up_to_seq)
    return json_response({"acked": acked, "up_to_seq": body.up_to_seq})


@router.post(
    "/{message_id}/ack",
    dependencies=[ACKS],
    status_code=204,
    summary="Acknowledge one message (idempotent)",
)
async def ack(
    account: CurrentAccount, services: ServicesDep, message_id: str = Path(max_length=64)
) -> Response:
    await services.messaging.ack(account, message_id)
    return Response(status_code=204)


@router.get("/sync", summary="Everything received after a seq (or a time), acked or not")
async def sync(
    account: CurrentAccount,
    services: ServicesDep,
    since_seq: int | None = Query(None, ge=0, le=MAX_POSITION),
    since: str | None = Query(None, max_length=64),
    limit: int = Query(SYNC_DEFAULT_LIMIT, ge=1, le=SYNC_MAX_LIMIT),
) -> Response:
    if since is None and since_seq is None:
        # Seed 003 lists `since` as required; the agentim SDK always sends `since_seq`.
        raise Invalid(
            "since or since_seq is required: since (an ISO 8601 time) or since_seq (the last"
            " seq you saw; 0 for everything)"
        )
    since_us = us_from_iso(since) if since is not None and since_seq is None else None
    result = await services.messaging.sync(
        account, since_seq=since_seq, since_us=since_us, limit=limit
    )
    return json_response(
        {
            "messages": [delivery_view(i) for i in result.items],
            "next_seq": result.next_seq,
            "has_more": result.has_more,
        }
    )


@router.get("/threads", summary="The caller's threads, most recent first")
async def threads(
    account: CurrentAccount, services: ServicesDep, limit: int = Query(50, ge=1, le=200)
) -> Response:
    summaries = await services.messaging.threads(account, limit=limit)
    return json_response(
        {
            "threads": [
                {
                    "thread_id": t.thread_id,
                    "scene": "group" if is_uuid_shaped(t.thread_id) else "dm",
                    "peer_id": t.peer_id,
                    "last_message": message_view(t.last_message) if t.last_message else None,
                    "last_message_at": iso_from_us(t.last_message_at_us),
                }
                for t in summaries
            ]
        }
    )
