"""WebSocket /studio/ws/chat-room/{room_id}: seed 004's room socket (docs/studio.md).

Seed 004 passes only participant parameters; we also require a credential, in this order:
`?token=<session token or API key>`, an `Authorization: Bearer` header, or the subprotocols
`bearer, <token>` (browsers cannot set headers on a WebSocket; the server then answers with
the `bearer` subprotocol). The participant must be the caller itself (`participant_type=user`,
`participant_id` = the caller's id, or omitted) or a hosted agent the caller owns
(`participant_type=agent`), and the room must be the caller's.

The socket is accepted first and then closed with an application code, so that clients see
why: 4001 no or bad credential, 4003 a participant the caller may not act as, 4004 no such
room (or not the caller's), 4000 bad parameters.

Frames are JSON `{"type": <event>, "data": {...}}`, the same data as the SSE send's events.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import suppress

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from agentplaza.api.auth import services_of
from agentplaza.domain import chat_rooms as rules
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import AgentplazaError, NotFound
from agentplaza.realtime.studio_rooms import Listener, StudioRoomHub
from agentplaza.services.chat_room_events import IDLE, encode_event

log = logging.getLogger(__name__)

router = APIRouter(prefix="/studio", tags=["dialect: /studio"])

CLOSE_BAD_REQUEST = 4000
CLOSE_UNAUTHENTICATED = 4001
CLOSE_FORBIDDEN = 4003
CLOSE_NOT_FOUND = 4004
HISTORY_ON_CONNECT = 50
MAX_FRAME_CHARS = rules.MAX_CONTENT_CHARS + 1024


def _credential(ws: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to answer with)."""
    token = ws.query_params.get("token")
    if token:
        return token, None
    auth = ws.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and auth[7:].strip():
        return auth[7:].strip(), None
    protocols = [p.strip() for p in ws.headers.get("sec-websocket-protocol", "").split(",")]
    if len(protocols) >= 2 and protocols[0].lower() == "bearer" and protocols[1]:
        return protocols[1], "bearer"
    return None, None


@router.websocket("/ws/chat-room/{room_id}")
async def chat_room_socket(ws: WebSocket, room_id: str) -> None:
    services = services_of(ws)  # type: ignore[arg-type]
    token, subprotocol = _credential(ws)
    await ws.accept(subprotocol=subprotocol)
    kind = ws.query_params.get("participant_type", "user")
    participant_id = ws.query_params.get("participant_id", "")
    if token is None:
        await ws.close(CLOSE_UNAUTHENTICATED, "a token is required: ?token=<session token>")
        return
    try:
        caller = await services.accounts.authenticate(token)
    except AgentplazaError:
        await ws.close(CLOSE_UNAUTHENTICATED, "invalid or expired token")
        return
    if kind not in ("user", "agent") or len(participant_id) > 64:
        await ws.close(CLOSE_BAD_REQUEST, "participant_type must be user or agent")
        return
    name = caller.display_name
    if kind == "user":
        if participant_id not in ("", caller.id):
            await ws.close(CLOSE_FORBIDDEN, "participant_id must be your own id")
            return
        participant_id = caller.id
    else:
        try:
            agent = await services.hosted.owned(caller, participant_id)
        except AgentplazaError:
            await ws.close(CLOSE_FORBIDDEN, "participant_id is not an agent you own")
            return
        participant_id = str(agent.account_id)
        name = (await services.hosted.account_of(agent)).display_name
    try:
        room = await services.chat_rooms.get(caller, room_id)
    except NotFound:
        await ws.close(CLOSE_NOT_FOUND, "no such chat room")
        return
    hub: StudioRoomHub = ws.app.state.studio_room_hub
    listener = await hub.attach(room.id)
    pump: asyncio.Task[None] | None = None
    try:
        await ws.send_text(_frame("connected", {"room_id": room.id, "type": kind}))
        messages, _ = await services.chat_rooms.history(
            caller, room.id, page=1, page_size=HISTORY_ON_CONNECT
        )
        await ws.send_text(
            _frame("history", {"messages": [rules.message_json(m) for m in messages]})
        )
        agents = await services.chat_rooms.agents(caller, room.id)
        await ws.send_text(_frame("agents", {"agents": [rules.agent_json(a) for a in agents]}))
        # Only messages after the history: the listener queued events since attach.
        last_seq = messages[-1].seq if messages else 0
        pump = asyncio.get_running_loop().create_task(_pump(ws, listener, last_seq))
        await services.chat_rooms.events.publish(
            room.id, "system", {"content": f"{name} joined", "type": "user_join"}
        )
        await _receive(ws, caller, room.id, kind, participant_id, name)
    except WebSocketDisconnect:
        pass
    finally:
        if pump is not None:
            pump.cancel()
            with suppress(asyncio.CancelledError):
                await pump
        await hub.detach(listener)
        with suppress(Exception):
            await services.chat_rooms.events.publish(
                room.id, "system", {"content": f"{name} left", "type": "user_leave"}
            )


async def _pump(ws: WebSocket, listener: Listener, after_seq: int) -> None:
    """Relay the room's events to the socket; a `message` already in the history is skipped.
    A listener closed for falling behind closes the socket (1011)."""
    try:
        while (item := await listener.next()) is not None:
            kind, frame = item
            if kind == IDLE:
                continue
            if kind == "message":
                seq = json.loads(frame)["data"].get("seq", 0)
                if isinstance(seq, int) and seq <= after_seq:
                    continue
            await ws.send_text(frame.decode())
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    with suppress(Exception):
        await ws.close(1011, "fell behind; reconnect for the history")


async def _receive(
    ws: WebSocket, caller: Account, room_id: str, kind: str, participant_id: str, name: str
) -> None:
    services = services_of(ws)  # type: ignore[arg-type]
    while True:
        raw = await ws.receive_text()
        if len(raw) > MAX_FRAME_CHARS:
            await ws.send_text(_frame("error", {"content": "frame too large"}))
            continue
        try:
            frame = json.loads(raw)
        except ValueError:
            await ws.send_text(_frame("error", {"content": "frames must be JSON objects"}))
            continue
        action = frame.get("action") if isinstance(frame, dict) else None
        if action != "send_message":
            await ws.send_text(
                _frame(
                    "error", {"content": f"unknown action {str(action)[:40]!r}: use send_message"}
                )
            )
            continue
        try:
            # The HTTP send's budget (`writes`): every message may set the agents talking.
            await services.limiter.check(services.limiter.writes, caller.id)
            if kind == "user":
                await services.chat_rooms.post(caller, room_id, frame.get("content"))
            else:
                await services.chat_rooms.post_as_agent(
                    caller, room_id, participant_id, name, frame.get("content")
                )
        except AgentplazaError as exc:
            await ws.send_text(_frame("error", {"content": exc.detail}))


def _frame(kind: str, data: dict[str, object]) -> str:
    return encode_event(kind, dict(data)).decode()
