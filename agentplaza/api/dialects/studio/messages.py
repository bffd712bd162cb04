"""/studio/api/messages: a conversation's messages, and sending one, answered whole or as SSE
(docs/studio.md, "Conversations and messages")."""

from __future__ import annotations

from contextlib import aclosing
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, StrictBool, StringConstraints
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import (
    PAGE_SIZE_DEFAULT,
    PAGE_SIZE_MAX,
    StudioRoute,
    error,
    ok,
    page,
)
from agentplaza.api.dialects.studio.streaming import EventWriter, SseStream, turn_event
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.conversations import MessageStatus, StudioMessage
from agentplaza.domain.turns import TurnDone, TurnError

router = APIRouter(
    prefix="/studio/api/messages", tags=["dialect: /studio"], route_class=StudioRoute
)

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
# The body's own ceiling; the service applies `studio_max_content_chars` (413 above it).
Content = Annotated[str, StringConstraints(max_length=1_000_000)]
# A provider that failed: the gateway's status, the stored answer says what happened.
BAD_GATEWAY = 502


class SendIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    conversation_id: Id
    content: Content
    tools_enabled: StrictBool = True


def message_json(m: StudioMessage) -> dict[str, Any]:
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "role": m.role.value,
        "content": m.content,
        "tool_calls": [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
        ],
        "tool_call_id": m.tool_call_id,
        "name": m.name,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "token_count": m.input_tokens + m.output_tokens,
        "status": m.status.value,
        "created_at": iso_from_us(m.created_at_us),
    }


@router.get("/{conversation_id}", summary="List a conversation's messages (a page, oldest first)")
async def list_messages(
    conversation_id: Id,
    account: CurrentAccount,
    services: ServicesDep,
    page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_DEFAULT,
) -> Response:
    found = await services.conversations.messages(
        account, conversation_id, page=page_no, page_size=page_size
    )
    return page(
        [message_json(m) for m in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.post("/", summary="Send a message; the answer, not streamed", dependencies=[WRITES])
async def send_message(body: SendIn, account: CurrentAccount, services: ServicesDep) -> Response:
    """data: the stored answer, with the stored user message as `user_message`. A provider
    failure is 502 in the error shape (the answer is stored with status `error`)."""
    answer, user = await services.conversations.send(
        account, body.conversation_id, body.content, tools_enabled=body.tools_enabled
    )
    if answer.status is MessageStatus.ERROR:
        return error(BAD_GATEWAY, answer.content or "the model provider failed")
    return ok({**message_json(answer), "user_message": message_json(user)})


@router.post("/stream", summary="Send a message; the answer as SSE", dependencies=[WRITES])
async def stream_message(body: SendIn, account: CurrentAccount, services: ServicesDep) -> Response:
    """Validation, authorization and limits answer in the error shape before the stream
    starts; then `text`, `tool_call`, `tool_result` events and one `done` or `error`."""
    turn = await services.conversations.begin(
        account, body.conversation_id, body.content, tools_enabled=body.tools_enabled
    )

    async def produce(writer: EventWriter) -> None:
        async with aclosing(turn.events()) as events:
            async for event in events:
                final = isinstance(event, TurnDone | TurnError)
                message_id = turn.assistant.id if final and turn.assistant else None
                await writer.event(*turn_event(event, message_id=message_id))

    return SseStream(
        produce,
        heartbeat_secs=services.runtime.settings.ws_heartbeat_interval_secs,
        on_end=turn.release,
    )


@router.delete("/{message_id}", summary="Delete a message", dependencies=[WRITES])
async def delete_message(
    message_id: Id, account: CurrentAccount, services: ServicesDep
) -> Response:
    await services.conversations.delete_message(account, message_id)
    return ok({"id": message_id, "deleted": True})
