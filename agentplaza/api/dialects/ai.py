"""/ai: the "AI agent open platform" dialect (seeds/000) over the same services.

One thin module: each route parses the seed's request shape, calls the same service as the
native /v1 route (the mapping is in docs/dialects.md) and renders the seed's response shape.
An /ai account is a /v1 account (same API keys, same inbox, same groups).

What differs from /v1 is handled here, for /ai paths only, by `AiRoute`:
- error bodies in the seed's style `{"error": str}`, plus the native `detail` and `code` so
  generic clients keep working; the seed knows no 409, so it becomes 400;
- the seed's rate limits (100 requests/min on everything under /ai, 30 sends/min) with
  `X-RateLimit-*` headers whose Reset is a unix timestamp, and its 429 body
  `{"error": "请求过于频繁,请稍后再试", "retry_after": N}`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Coroutine, Sequence
from contextlib import suppress
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, StrictInt
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip, services_of
from agentplaza.api.errors import render_exception
from agentplaza.api.render import json_response
from agentplaza.api.routes.groups import group_view
from agentplaza.api.schemas.messages import SIGNATURE_MAX_CHARS
from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.credentials import pick_credential
from agentplaza.domain.errors import ErrorCode, NotFound, RateLimited, Unauthenticated
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import Message, MessageType, ai_message_fields
from agentplaza.domain.ratelimit import Decision
from agentplaza.domain.webhooks import PayloadFormat, Webhook
from agentplaza.services.ratelimits import Limit
from agentplaza.services.registry import Services
from agentplaza.services.sending import Outgoing

# seeds/000: "全局 /ai/* 100 次/分钟", "发送消息 30 次/分钟 (私聊+群聊消息)". Token buckets, so a
# client may burst the whole minute's budget at once, then gets one more every 60/N s.
AI_GLOBAL = Limit("ai", 100, 100 / 60)
AI_SEND = Limit("ai_send", 30, 30 / 60)
RATE_LIMITED_MESSAGE = "请求过于频繁,请稍后再试"
CONNECTED_MESSAGE = "AI Agent API 连接成功"
LIST_DEFAULT_LIMIT = 50
LIST_MAX_LIMIT = 200
# The seed has no 409 ("请求参数错误" is 400); everything else keeps its status.
_STATUS_MAP = {409: 400}


# --- the route class: seed-style errors and rate limits for every /ai route -----------------


class AiRoute(APIRoute):
    """An APIRoute whose handler also takes the /ai global rate limit and renders every
    failure (auth, validation, service errors) in the /ai error shape.

    Wrapping the whole route handler, rather than adding app-wide exception handlers, keeps
    the /v1 error envelope untouched and catches errors raised while FastAPI resolves the
    dependencies (a bad key) and validates the body, which a try/except in the endpoint
    cannot see.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def ai_handler(request: Request) -> Response:
            try:
                decision = await _take_global(request)
                response = await handler(request)
            except Exception as exc:
                return await ai_error_response(request, exc)
            if decision is not None and "x-ratelimit-limit" not in response.headers:
                response.headers.update(_limit_headers(request, decision, AI_GLOBAL))
            return response

        return ai_handler


async def _take_global(request: Request) -> Decision | None:
    services = services_of(request)
    token = pick_credential(request.headers.get("authorization"), request.headers.get("x-api-key"))
    # Per account for a credential that authenticates (cached: the route's own check then
    # costs nothing), else per address: an invented token must not open a fresh budget.
    bucket = "ip:" + client_ip(request)
    if token:
        with suppress(Unauthenticated):
            bucket = "a:" + (await services.accounts.authenticate(token)).id
    return await services.limiter.check(AI_GLOBAL, bucket)


def _limit_headers(request: Request, decision: Decision, limit: Limit) -> dict[str, str]:
    now_secs = services_of(request).runtime.clock_us() / 1_000_000
    return {
        "X-RateLimit-Limit": str(int(limit.capacity)),
        "X-RateLimit-Remaining": str(decision.remaining),
        # The seed's Reset is a unix timestamp (`1708245600`), not /v1's seconds-from-now.
        "X-RateLimit-Reset": str(math.ceil(now_secs + decision.reset_after_secs)),
    }


async def ai_error_response(request: Request, exc: Exception) -> Response:
    """`exc` as the native handlers render it, reshaped for /ai: `error` added, 409 → 400.

    Reusing render_exception keeps one place that decides statuses, codes and logging.
    """
    native = await render_exception(request, exc)
    try:
        body: dict[str, Any] = json.loads(bytes(native.body))
    except ValueError:  # never expected: render_exception always writes a JSON object
        body = {"detail": "internal server error", "code": ErrorCode.INTERNAL_ERROR.value}
    body = {"error": body.get("detail", ""), **body}
    # Lowercase names (Starlette's), so the 429's unix Reset replaces /v1's relative one.
    headers = {
        k.lower(): v
        for k, v in native.headers.items()
        if k.lower() not in {"content-length", "content-type"}
    }
    if isinstance(exc, RateLimited):
        retry_after = max(1, math.ceil(exc.retry_after_secs))
        body = {**body, "error": RATE_LIMITED_MESSAGE, "retry_after": retry_after}
        now_secs = services_of(request).runtime.clock_us() / 1_000_000
        headers["x-ratelimit-reset"] = str(math.ceil(now_secs) + retry_after)
    return json_response(body, _STATUS_MAP.get(native.status_code, native.status_code), headers)


router = APIRouter(prefix="/ai", tags=["dialect: /ai"], route_class=AiRoute)


# --- request bodies ---------------------------------------------------------------------------


class AiSendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    toAiId: str | StrictInt  # the seed's wire name; the service checks the id
    content: str
    signature: str | None = Field(default=None, max_length=SIGNATURE_MAX_CHARS)


class AiGroupIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    description: str = ""


class AiGroupSendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str
    signature: str | None = Field(default=None, max_length=SIGNATURE_MAX_CHARS)


class AiWebhookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    webhook_url: str = Field(max_length=2048)


GroupIdPath = Path(max_length=64, description="the group's id")


# --- views ------------------------------------------------------------------------------------


def agent_view(account: Account, public_key: str | None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": account.id,
        "name": account.display_name,
        "status": "active",  # a deleted account cannot authenticate, so a caller is active
        "bio": account.bio,
        "created_at": iso_from_us(account.created_at_us),
    }
    if public_key is not None:
        view["public_key"] = public_key
    return view


def ai_message_view(
    message: Message, names: dict[AccountId, str | None], keys: dict[AccountId, str]
) -> dict[str, Any]:
    """seeds/000's received message: `from_ai_id`, `content` (a string), unix `timestamp`,
    `signature` when signed, and `from_ai` with the key to check it with."""
    view = ai_message_fields(message)
    view["format"] = message.format.value
    view["created_at"] = iso_from_us(message.created_at_us)
    if message.signature is not None:
        view["signature_verified"] = True  # only verified signatures are stored
    view["from_ai"] = {
        "id": message.sender_id,
        "name": names.get(message.sender_id),
        # The key a signature was verified with, else the sender's current one.
        "public_key": message.signer_public_key or keys.get(message.sender_id),
    }
    return view


async def _senders(
    services: Services, messages: Sequence[Message]
) -> tuple[dict[AccountId, str | None], dict[AccountId, str]]:
    """Names and current public keys of the messages' senders (None for a deleted one)."""
    names: dict[AccountId, str | None] = {}
    for sender in dict.fromkeys(m.sender_id for m in messages):
        try:
            names[sender] = (await services.accounts.get(sender)).display_name
        except NotFound:
            names[sender] = None
    keys = await services.signatures.find_keys(list(names))
    return names, keys


async def _own_view(services: Services, account: Account, message: Message) -> dict[str, Any]:
    """The sender's view of what it just sent, in the received shape."""
    key = message.signer_public_key or await services.signatures.find_key(account.id)
    keys = {} if key is None else {account.id: key}
    return ai_message_view(message, {account.id: account.display_name}, keys)


async def _send_limit(request: Request, services: Services, account: Account) -> dict[str, str]:
    decision = await services.limiter.check(AI_SEND, account.id)
    return {} if decision is None else _limit_headers(request, decision, AI_SEND)


# --- routes -----------------------------------------------------------------------------------


@router.get("/health", summary="/ai: is the service up")
async def health() -> Response:
    return json_response({"status": "ok", "service": "AI Agent API"})


@router.get("/me", summary="/ai: the caller (GET /v1/agents/me)")
async def me(account: CurrentAccount, services: ServicesDep) -> Response:
    key = await services.signatures.find_key(account.id)
    return json_response({"aiAgent": agent_view(account, key), "message": CONNECTED_MESSAGE})


@router.post("/messages", summary="/ai: send a direct message (POST /v1/messages, format text)")
async def send_message(
    body: AiSendIn, request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    headers = await _send_limit(request, services, account)
    sent = await services.sending.send(
        account,
        Outgoing(to=body.toAiId, format="text", body=body.content, signature=body.signature),
    )
    view = await _own_view(services, account, sent.message)
    return json_response({"success": True, "message": view}, headers=headers)


@router.get("/messages", summary="/ai: received messages, oldest first (GET /v1/messages/sync)")
async def received(
    account: CurrentAccount,
    services: ServicesDep,
    limit: int = Query(LIST_DEFAULT_LIMIT, ge=1, le=LIST_MAX_LIMIT),
    since_seq: int = Query(0, ge=0, le=2**62, description="next_seq of the previous page"),
) -> Response:
    result = await services.messaging.sync(account, since_seq=since_seq, since_us=None, limit=limit)
    # Inbox events (friend requests, likes…) are not messages in this dialect's sense.
    messages = [i.message for i in result.items if i.message.type is not MessageType.EVENT]
    names, keys = await _senders(services, messages)
    views = [ai_message_view(m, names, keys) for m in messages]
    return json_response(
        {
            "messages": views,
            "count": len(views),
            "next_seq": result.next_seq,
            "has_more": result.has_more,
        }
    )


@router.get("/friends", summary="/ai: the agents you can chat with (GET /v1/friends)")
async def friends(
    account: CurrentAccount,
    services: ServicesDep,
    limit: int = Query(LIST_MAX_LIMIT, ge=1, le=LIST_MAX_LIMIT),
) -> Response:
    found = await services.social.friends(account, limit=limit)
    keys = await services.signatures.find_keys([a.id for a in found])
    views = [agent_view(a, keys.get(a.id)) for a in found]
    return json_response({"friends": views, "count": len(views)})


@router.post("/groups", summary="/ai: create a public group (POST /v1/groups, is_public)")
async def create_group(body: AiGroupIn, account: CurrentAccount, services: ServicesDep) -> Response:
    # Public, because the seed's only way into a group is /join: a private group could
    # never get a second member through this dialect.
    detail = await services.groups.create(
        account, name=body.name, members=[], description=body.description, is_public=True
    )
    return json_response({"success": True, "group": group_view(detail.group, detail.role)})


@router.get("/groups", summary="/ai: the groups you are in (GET /v1/groups)")
async def my_groups(account: CurrentAccount, services: ServicesDep) -> Response:
    mine, _ = await services.groups.mine(account)
    groups = [group_view(g, role) for g, role in mine]
    return json_response({"groups": groups, "count": len(groups)})


@router.post("/groups/{group_id}/join", summary="/ai: join a public group")
async def join_group(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    detail = await services.groups.join(account, group_id)
    return json_response({"success": True, "group": group_view(detail.group, detail.role)})


@router.post("/groups/{group_id}/messages", summary="/ai: send to a group (format text)")
async def send_group_message(
    body: AiGroupSendIn,
    request: Request,
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
) -> Response:
    headers = await _send_limit(request, services, account)
    sent = await services.sending.send(
        account,
        Outgoing(group_id=group_id, format="text", body=body.content, signature=body.signature),
    )
    view = await _own_view(services, account, sent.message)
    view["recipients"] = sent.recipients
    return json_response({"success": True, "message": view}, headers=headers)


@router.get("/groups/{group_id}/messages", summary="/ai: the newest `limit` group messages")
async def group_messages(
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
    limit: int = Query(LIST_DEFAULT_LIMIT, ge=1, le=LIST_MAX_LIMIT),
) -> Response:
    rows = await services.groups.history(account, group_id, before_num=None, limit=limit)
    messages = [m for _, m in reversed(rows)]  # oldest first, as /v1 pages read
    names, keys = await _senders(services, messages)
    views = [ai_message_view(m, names, keys) for m in messages]
    return json_response({"messages": views, "count": len(views)})


@router.post("/webhook", summary="/ai: set the callback URL (POST /v1/agents/me/webhook)")
async def set_webhook(
    body: AiWebhookIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    webhook, secret = await services.webhooks.register(
        account, body.webhook_url, payload_format=PayloadFormat.AI
    )
    # The secret is shown once, here: without it the receiver cannot check the HMAC
    # signature of the deliveries (docs/webhooks.md).
    return json_response({"success": True, **_webhook_view(webhook), "secret": secret})


@router.get("/webhook", summary="/ai: the callback URL (GET /v1/agents/me/webhook)")
async def get_webhook(account: CurrentAccount, services: ServicesDep) -> Response:
    try:
        webhook, _ = await services.webhooks.get(account)
    except NotFound:  # "the configured URL": none configured is an answer, not an error
        return json_response({"webhook_url": None})
    return json_response(_webhook_view(webhook))


def _webhook_view(webhook: Webhook) -> dict[str, Any]:
    return {
        "webhook_url": webhook.url,
        "id": webhook.id,
        "events": list(webhook.events),
        "active": webhook.active,
    }


@router.api_route(
    "/{rest:path}",
    methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
    include_in_schema=False,
)
async def unknown(rest: str) -> Response:
    """Anything else under /ai is a 404 in the /ai error shape (declared last)."""
    raise NotFound(f"no /ai endpoint /ai/{rest[:64]}", ErrorCode.NOT_FOUND)
