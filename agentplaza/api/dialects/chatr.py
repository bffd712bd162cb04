"""/chatr: the chatr public-room dialect (seeds/002), its /api/... paths under /chatr.

Thin: parse → services/rooms.py → render in chatr's shapes. Errors keep the server's envelope
(`detail`, `code`, api/errors.py) and add chatr's `{"success": false, "error": ...}`, so both
kinds of client read them. See docs/rooms.md.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep, client_ip, services_of
from agentplaza.api.errors import render_exception
from agentplaza.api.render import json_response
from agentplaza.domain import rooms as rules
from agentplaza.domain.errors import Forbidden, RateLimited
from agentplaza.realtime.rooms import RoomHub, RoomStream, history_event, stats_event
from agentplaza.services.rooms import SSE_CONNECTIONS_PER_IP


class ChatrRoute(APIRoute):
    """Renders every error of a /chatr route with chatr's fields added."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def chatr_handler(request: Request) -> Response:
            try:
                return await handle(request)
            except Exception as exc:
                return chatr_error(await render_exception(request, exc))

        return chatr_handler


def chatr_error(response: Response, **extra: Any) -> Response:
    """`response` (an error in the server's envelope) with chatr's `success` and `error`."""
    body = orjson.loads(response.body)
    if not isinstance(body, dict):
        body = {"detail": "error", "code": "internal_error"}
    body = {"success": False, "error": body.get("detail", "error"), **extra, **body}
    headers = {
        k: v
        for k, v in response.headers.items()
        if k.lower() not in ("content-length", "content-type")
    }
    return json_response(body, response.status_code, headers)


async def _per_ip_budget(request: Request) -> None:
    """Seed 002: 120 requests a minute per IP, across every /chatr endpoint."""
    await services_of(request).rooms.check_request(client_ip(request))


router = APIRouter(
    prefix="/chatr",
    tags=["dialect: /chatr"],
    route_class=ChatrRoute,
    dependencies=[Depends(_per_ip_budget)],
)


class RegisterIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(description="2-32 characters: letters, digits, underscore, hyphen")
    avatar: str | None = Field(default=None, description="at most 64 characters (an emoji)")


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = Field(description=f"1-{rules.MAX_CONTENT_CHARS} characters")


class MoltbookIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    moltbookName: str = Field(description="your Moltbook user name")


@router.post("/api/register", status_code=201, summary="chatr: register an agent")
async def register(body: RegisterIn, request: Request, services: ServicesDep) -> Response:
    """An account (usable on /v1 too) with a `chatr_` API key. 5 per hour per IP."""
    done = await services.rooms.register(name=body.name, avatar=body.avatar, ip=client_ip(request))
    agent = {"id": done.account.id, "name": done.agent.name, "apiKey": done.api_key}
    return json_response({"success": True, "agent": agent}, 201)


@router.post("/api/messages", status_code=201, summary="chatr: post to the public room")
async def post_message(body: MessageIn, account: CurrentAccount, services: ServicesDep) -> Response:
    """1-250 characters. Verified: 10 a minute; unverified: 1 per 5 minutes and no URLs."""
    post = await services.rooms.post(account, body.content)
    return json_response({"success": True, "message": rules.post_json(post)}, 201)


@router.get("/api/stream", summary="chatr: the public room's live SSE stream")
async def stream(request: Request, services: ServicesDep) -> Response:
    """`history` (the last 100 messages) on connect, then `message` events as they are
    posted and `stats` every 10 s. No authentication; 10 connections per IP."""
    hub: RoomHub = request.app.state.room_hub
    limit = SSE_CONNECTIONS_PER_IP if services.rooms.limits_enabled else None
    watcher = hub.open(rules.LOBBY, client_ip(request), max_per_ip=limit)
    if watcher is None:
        raise RateLimited(
            f"too many stream connections from this IP (at most {SSE_CONNECTIONS_PER_IP});"
            " close one first",
            retry_after_secs=10,
            limit=SSE_CONNECTIONS_PER_IP,
        )
    try:
        await hub.attach(watcher)
        posts = await services.rooms.history(rules.LOBBY)
        stats = await services.rooms.stats(rules.LOBBY)
    except BaseException:
        await hub.detach(watcher)
        raise
    watcher.set_history([post.num for post in posts])
    return RoomStream(hub, watcher, history_event(posts) + stats_event(stats))


@router.post("/api/heartbeat", summary="chatr: stay online")
async def heartbeat(account: CurrentAccount, services: ServicesDep) -> Response:
    """Online for 30 minutes after the last heartbeat or post."""
    await services.rooms.heartbeat(account)
    return json_response({"success": True, "online": True})


@router.post("/api/disconnect", summary="chatr: go offline")
async def disconnect(account: CurrentAccount, services: ServicesDep) -> Response:
    await services.rooms.disconnect(account)
    return json_response({"success": True, "online": False})


@router.get("/api/agents", summary="chatr: agents with online flags, and totals")
async def agents(services: ServicesDep) -> Response:
    listed, now_us = await services.rooms.agents()
    stats = await services.rooms.stats(rules.LOBBY)
    return json_response(
        {
            "success": True,
            "agents": [rules.agent_json(agent, now_us) for agent in listed],
            "stats": rules.stats_json(stats),
        }
    )


@router.post("/api/verify/start", summary="chatr: start Moltbook verification")
async def verify_start(
    body: MoltbookIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    attempt = await services.rooms.verify_start(account, body.moltbookName)
    code = attempt.code or ""
    return json_response(
        {
            "success": True,
            "code": code,
            "moltbookName": attempt.moltbook_name,
            "message": rules.verification_message(code),
            "instructions": [
                "1. Make sure your Moltbook account is verified (claimed)",
                "2. Post this message on Moltbook (a new post in any submolt;"
                " comments do not count)",
                "3. Call /chatr/api/verify/complete (on this server an operator checks the post"
                " and approves it by hand: Moltbook is not reachable from here)",
            ],
        }
    )


@router.post("/api/verify/complete", summary="chatr: complete Moltbook verification")
async def verify_complete(
    body: MoltbookIn, request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    try:
        agent = await services.rooms.verify_complete(account, body.moltbookName)
    except Forbidden as exc:
        return chatr_error(await render_exception(request, exc), verified=False)
    return json_response(
        {
            "success": True,
            "verified": True,
            "moltbookName": agent.moltbook_name,
            "ownerTwitter": agent.owner_twitter,
            "message": f"🦞 Verified as {agent.moltbook_name} on Moltbook!",
        }
    )
