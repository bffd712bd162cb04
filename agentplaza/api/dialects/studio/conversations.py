"""/studio/api/conversations: seed 004's conversation CRUD (docs/studio.md, "Conversations and
messages"). Another person's conversation is 404, like one that does not exist."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX, StudioRoute
from agentplaza.api.dialects.studio.envelope import ok as ok_response
from agentplaza.api.dialects.studio.envelope import page as page_response
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.conversations import DEFAULT_TITLE, Conversation, ConversationChanges
from agentplaza.services.conversations import NewConversation

router = APIRouter(
    prefix="/studio/api/conversations", tags=["dialect: /studio"], route_class=StudioRoute
)

Id = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Title = Annotated[str, StringConstraints(max_length=200)]
Model = Annotated[str, StringConstraints(max_length=200)]
Prompt = Annotated[str, StringConstraints(max_length=32_000)]
Temperature = Annotated[float, Field(ge=0.0, le=2.0, allow_inf_nan=False)]
# An upper bound for the body only: the service stores at most `studio_max_tokens_cap`.
MaxTokens = Annotated[int, Field(ge=1, le=10_000_000, strict=True)]
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]


class ConversationIn(BaseModel):
    """Seed 004's create body, plus `provider_id` / `agent_id` (ours)."""

    model_config = ConfigDict(extra="ignore")
    project_id: Id | None = None
    title: Title = DEFAULT_TITLE
    model: Model = ""
    system_prompt: Prompt | None = None
    temperature: Temperature = 1.0
    max_tokens: MaxTokens = 65536
    thinking_enabled: StrictBool = False
    provider_id: Id | None = None
    agent_id: Id | None = None


class ConversationUpdate(BaseModel):
    """Any of the create fields; an explicit null clears project_id, system_prompt,
    provider_id or agent_id."""

    model_config = ConfigDict(extra="ignore")
    project_id: Id | None = None
    title: Title | None = None
    model: Model | None = None
    system_prompt: Prompt | None = None
    temperature: Temperature | None = None
    max_tokens: MaxTokens | None = None
    thinking_enabled: StrictBool | None = None
    provider_id: Id | None = None
    agent_id: Id | None = None


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "project_id": c.project_id,
        "title": c.title,
        "model": c.model,
        "system_prompt": c.system_prompt,
        "temperature": c.temperature,
        "max_tokens": c.max_tokens,
        "thinking_enabled": c.thinking_enabled,
        "provider_id": c.provider_id,
        "agent_id": c.agent_id,
        "message_count": c.message_count,
        "last_message_at": None
        if c.last_message_at_us is None
        else iso_from_us(c.last_message_at_us),
        "created_at": iso_from_us(c.created_at_us),
        "updated_at": iso_from_us(c.updated_at_us),
    }


@router.get("/", summary="List conversations (a page, most recently active first)")
async def list_conversations(
    account: CurrentAccount,
    services: ServicesDep,
    page: PageNo = 1,
    page_size: PageSize = PAGE_SIZE_DEFAULT,
    project_id: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    found = await services.conversations.list(
        account, project_id=project_id, page=page, page_size=page_size
    )
    return page_response(
        [conversation_json(c) for c in found.items],
        total=found.total,
        page=found.page,
        page_size=found.page_size,
    )


@router.post("/", summary="Create a conversation", dependencies=[WRITES])
async def create_conversation(
    body: ConversationIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    created = await services.conversations.create(
        account,
        NewConversation(
            project_id=body.project_id,
            title=body.title,
            model=body.model,
            system_prompt=body.system_prompt,
            temperature=body.temperature,
            max_tokens=body.max_tokens,
            thinking_enabled=body.thinking_enabled,
            provider_id=body.provider_id,
            agent_id=body.agent_id,
        ),
    )
    return ok_response(conversation_json(created))


@router.get("/{conversation_id}", summary="Get a conversation")
async def get_conversation(
    conversation_id: Id, account: CurrentAccount, services: ServicesDep
) -> Response:
    return ok_response(
        conversation_json(await services.conversations.get(account, conversation_id))
    )


@router.put("/{conversation_id}", summary="Update a conversation", dependencies=[WRITES])
async def update_conversation(
    conversation_id: Id, body: ConversationUpdate, account: CurrentAccount, services: ServicesDep
) -> Response:
    given = body.model_fields_set
    changes = ConversationChanges(
        title=body.title,
        project_id=body.project_id,
        clear_project="project_id" in given and body.project_id is None,
        model=body.model,
        system_prompt=body.system_prompt,
        clear_system_prompt="system_prompt" in given and body.system_prompt is None,
        temperature=body.temperature,
        max_tokens=body.max_tokens,
        thinking_enabled=body.thinking_enabled,
        provider_id=body.provider_id,
        clear_provider="provider_id" in given and body.provider_id is None,
        agent_id=body.agent_id,
        clear_agent="agent_id" in given and body.agent_id is None,
    )
    updated = await services.conversations.update(account, conversation_id, changes)
    return ok_response(conversation_json(updated))


@router.delete(
    "/{conversation_id}", summary="Delete a conversation and its messages", dependencies=[WRITES]
)
async def delete_conversation(
    conversation_id: Id, account: CurrentAccount, services: ServicesDep
) -> Response:
    await services.conversations.delete(account, conversation_id)
    return ok_response({"id": conversation_id, "deleted": True})
