"""/studio/api/chat-rooms: seed 004's chat rooms (docs/studio.md, "Chat rooms and their
WebSocket"). Another person's room is 404, like one that does not exist.

POST …/messages answers as SSE: `event: <type>` and `data: <json>` with the WebSocket's
event types and data, from the stored human message until the room's floor goes quiet.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    StudioRoute,
    ok,
    page,
)
from agentplaza.api.dialects.studio.streaming import EventWriter, SseStream
from agentplaza.domain import chat_rooms as rules
from agentplaza.domain.floor import MAX_CONSECUTIVE_AGENT_TURNS_LIMIT, FloorPolicy
from agentplaza.realtime.studio_rooms import StudioRoomHub
from agentplaza.services.chat_room_events import IDLE
from agentplaza.services.chat_rooms import RoomSettings

router = APIRouter(
    prefix="/studio/api/chat-rooms", tags=["dialect: /studio"], route_class=StudioRoute
)

Id = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=rules.MAX_NAME_CHARS)]
Description = Annotated[str, StringConstraints(max_length=rules.MAX_DESCRIPTION_CHARS)]
Turns = Annotated[int, Field(ge=1, le=MAX_CONSECUTIVE_AGENT_TURNS_LIMIT, strict=True)]
Budget = Annotated[int, Field(ge=0, le=rules.MAX_TOKEN_BUDGET, strict=True)]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]


class RoomIn(BaseModel):
    """Seed 004's create body (name, description, agent_ids) plus the floor's settings."""

    model_config = ConfigDict(extra="ignore")
    name: Name
    description: Description | None = None
    agent_ids: Annotated[list[Id], Field(max_length=rules.MAX_AGENTS_PER_ROOM)] = []
    policy: FloorPolicy = FloorPolicy.FREE
    max_consecutive_agent_turns: Turns | None = None
    agent_token_budget: Budget | None = None
    moderator_agent_id: Id | None = None


class RoomUpdate(BaseModel):
    """Any of the create fields but agent_ids; `moderator_agent_id: null` clears it."""

    model_config = ConfigDict(extra="ignore")
    name: Name | None = None
    description: Description | None = None
    policy: FloorPolicy | None = None
    max_consecutive_agent_turns: Turns | None = None
    agent_token_budget: Budget | None = None
    moderator_agent_id: Id | None = None


class AgentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    agent_id: Id


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: Annotated[str, StringConstraints(max_length=rules.MAX_CONTENT_CHARS)]


@router.get("/", summary="List your chat rooms (a page, newest first)")
async def list_rooms(
    account: CurrentAccount,
    services: ServicesDep,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    page_size: PageSize = PAGE_SIZE_DEFAULT,
) -> Response:
    rooms, total = await services.chat_rooms.page(account, page=page_no, page_size=page_size)
    return page([rules.room_json(r) for r in rooms], total=total, page=page_no, page_size=page_size)


@router.post("/", summary="Create a chat room", dependencies=[WRITES])
async def create_room(body: RoomIn, account: CurrentAccount, services: ServicesDep) -> Response:
    room, agents = await services.chat_rooms.create(
        account,
        RoomSettings(
            name=rules.validate_name(body.name),
            description=body.description,
            policy=body.policy,
            max_consecutive_agent_turns=body.max_consecutive_agent_turns,
            agent_token_budget=body.agent_token_budget,
            moderator_agent_id=body.moderator_agent_id,
        ),
        list(body.agent_ids),
    )
    return ok(rules.room_json(room, agents), status=201)


@router.get("/{room_id}", summary="A chat room with its agents")
async def get_room(room_id: Id, account: CurrentAccount, services: ServicesDep) -> Response:
    room = await services.chat_rooms.get(account, room_id)
    agents = await services.chat_rooms.agents(account, room.id)
    return ok(rules.room_json(room, agents))


@router.put("/{room_id}", summary="Update a chat room", dependencies=[WRITES])
async def update_room(
    room_id: Id, body: RoomUpdate, account: CurrentAccount, services: ServicesDep
) -> Response:
    room = await services.chat_rooms.update(
        account,
        room_id,
        RoomSettings(
            name=None if body.name is None else rules.validate_name(body.name),
            description=body.description,
            policy=body.policy,
            max_consecutive_agent_turns=body.max_consecutive_agent_turns,
            agent_token_budget=body.agent_token_budget,
            moderator_agent_id=body.moderator_agent_id,
            clear_moderator="moderator_agent_id" in body.model_fields_set
            and body.moderator_agent_id is None,
        ),
    )
    agents = await services.chat_rooms.agents(account, room.id)
    return ok(rules.room_json(room, agents))


@router.delete("/{room_id}", summary="Delete a chat room", dependencies=[WRITES])
async def delete_room(room_id: Id, account: CurrentAccount, services: ServicesDep) -> Response:
    await services.chat_rooms.delete(account, room_id)
    return ok(None)


@router.get("/{room_id}/agents", summary="The room's agents")
async def list_agents(room_id: Id, account: CurrentAccount, services: ServicesDep) -> Response:
    agents = await services.chat_rooms.agents(account, room_id)
    return ok([rules.agent_json(a) for a in agents])


@router.post("/{room_id}/agents", summary="Add one of your agents", dependencies=[WRITES])
async def add_agent(
    room_id: Id, body: AgentIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    agents = await services.chat_rooms.add_agent(account, room_id, body.agent_id)
    return ok([rules.agent_json(a) for a in agents])


@router.delete("/{room_id}/agents/{agent_id}", summary="Remove an agent", dependencies=[WRITES])
async def remove_agent(
    room_id: Id, agent_id: Id, account: CurrentAccount, services: ServicesDep
) -> Response:
    await services.chat_rooms.remove_agent(account, room_id, agent_id)
    return ok(None)


@router.get("/{room_id}/messages", summary="Message history (page 1 = newest)")
async def history(
    room_id: Id,
    account: CurrentAccount,
    services: ServicesDep,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    page_size: PageSize = PAGE_SIZE_MAX // 2,
) -> Response:
    messages, total = await services.chat_rooms.history(
        account, room_id, page=page_no, page_size=page_size
    )
    return page(
        [rules.message_json(m) for m in messages], total=total, page=page_no, page_size=page_size
    )


@router.post(
    "/{room_id}/messages",
    summary="Send a message; the room's answers stream back as SSE",
    dependencies=[WRITES],
    responses={200: {"content": {"text/event-stream": {}}, "description": "event stream"}},
)
async def send(
    room_id: Id,
    body: MessageIn,
    request: Request,
    account: CurrentAccount,
    services: ServicesDep,
) -> Response:
    room = await services.chat_rooms.get(account, room_id)
    hub: StudioRoomHub = request.app.state.studio_room_hub
    listener = await hub.attach(room.id)  # before posting: no answer is missed
    try:
        message = await services.chat_rooms.post(account, room.id, body.content)
    except BaseException:
        await hub.detach(listener)
        raise

    async def produce(writer: EventWriter) -> None:
        try:
            while (item := await listener.next()) is not None:
                kind, frame = item
                data: Any = json.loads(frame)["data"]
                if kind == IDLE:
                    if int(data.get("floor_seq", 0)) >= message.seq:
                        return  # the floor went quiet after this message: its answers are out
                    continue
                await writer.event(kind, data)
        finally:
            await hub.detach(listener)

    return SseStream(produce, heartbeat_secs=services.runtime.settings.ws_heartbeat_interval_secs)
