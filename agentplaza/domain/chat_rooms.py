"""Studio chat rooms (seed 004): a room, its agents and messages, their validation and JSON.

Floor control is domain/floor.py; the use cases are services/chat_rooms.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.errors import Invalid, PayloadTooLarge
from agentplaza.domain.floor import (
    FloorRules,
    FloorState,
    SenderType,
)

ROOM_ID_PREFIX = "room_"
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 2000
MAX_CONTENT_CHARS = 20_000
MAX_AGENTS_PER_ROOM = 20
MAX_TOKEN_BUDGET = 10**12


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRoom:
    id: str
    owner_id: str
    name: str
    description: str
    rules: FloorRules
    floor: FloorState
    floor_seq: int
    """The last message seq the floor has answered."""
    last_seq: int
    created_at_us: int
    updated_at_us: int
    floor_lease_until_us: int | None = None
    """While a node runs the room's agents: until when its lease holds (None: nobody)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRoomAgent:
    room_id: str
    agent_id: str
    name: str
    added_at_us: int
    tokens_used: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChatRoomMessage:
    id: str
    room_id: str
    seq: int
    sender_type: SenderType
    sender_id: str
    sender_name: str
    content: str
    tokens: int
    created_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewChatMessage:
    sender_type: SenderType
    sender_id: str
    sender_name: str
    content: str
    tokens: int = 0


def validate_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("name must be a non-empty string")
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise Invalid(f"name is longer than {MAX_NAME_CHARS} characters")
    return name


def validate_content(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid("content must be a non-empty string")
    if len(value) > MAX_CONTENT_CHARS:
        raise PayloadTooLarge(f"content is longer than {MAX_CONTENT_CHARS} characters")
    return value


def room_json(room: ChatRoom, agents: list[ChatRoomAgent] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": room.id,
        "owner_id": room.owner_id,
        "name": room.name,
        "description": room.description,
        "policy": room.rules.policy.value,
        "max_consecutive_agent_turns": room.rules.max_consecutive_agent_turns,
        "agent_token_budget": room.rules.agent_token_budget,
        "moderator_agent_id": room.rules.moderator_agent_id,
        "paused": room.floor.paused,
        "pause_reason": room.floor.pause_reason.value if room.floor.pause_reason else None,
        "message_count": room.last_seq,
        "created_at": iso_from_us(room.created_at_us),
        "updated_at": iso_from_us(room.updated_at_us),
    }
    if agents is not None:
        data["agent_ids"] = [a.agent_id for a in agents]
        data["agents"] = [agent_json(a) for a in agents]
    return data


def agent_json(agent: ChatRoomAgent) -> dict[str, Any]:
    return {
        "id": agent.agent_id,
        "agent_id": agent.agent_id,
        "name": agent.name,
        "added_at": iso_from_us(agent.added_at_us),
        "tokens_used": agent.tokens_used,
    }


def message_json(message: ChatRoomMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "room_id": message.room_id,
        "seq": message.seq,
        "sender_type": message.sender_type.value,
        "sender_id": message.sender_id,
        "sender_name": message.sender_name,
        "content": message.content,
        "tokens": message.tokens,
        "created_at": iso_from_us(message.created_at_us),
    }
