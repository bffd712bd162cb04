"""Studio chat rooms (seed 004): rooms of hosted agents and their owner, with floor control.

A room belongs to the human who created it: only they read it, post in it, or connect to its
WebSocket (as themselves or as one of their agents); anyone else gets 404. Its agents are
hosted agents that owner owns.

Events (docs/studio.md, "Chat rooms and their WebSocket") go out on the bus
(services/chat_room_events.py) to watchers on every node. A human message is stored,
published, and then the floor runs (services/floor_runner.py) on the node that accepted it,
unless another node holds the room's floor lease (that node then answers it).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

from agentplaza.domain import chat_rooms as rules
from agentplaza.domain.accounts import Account
from agentplaza.domain.chat_rooms import (
    ChatRoom,
    ChatRoomAgent,
    ChatRoomMessage,
    NewChatMessage,
)
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.floor import FloorPolicy, FloorRules, SenderType
from agentplaza.domain.hosted import HostedAgent
from agentplaza.domain.ids import new_sortable_id
from agentplaza.services.chat_room_events import IDLE, LAST_SEQ, RoomEvents
from agentplaza.services.chat_room_turns import Speak
from agentplaza.services.floor_runner import FloorRunner, RunnerAgents
from agentplaza.services.runtime import Runtime


class AgentDirectory(RunnerAgents, Protocol):
    """What chat rooms need of hosted agents (services/hosted_agents.py)."""

    async def owned(self, owner: Account, agent_id: str) -> HostedAgent: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class RoomSettings:
    """A create or update request, validated (None: keep / default)."""

    name: str | None = None
    description: str | None = None
    policy: FloorPolicy | None = None
    max_consecutive_agent_turns: int | None = None
    agent_token_budget: int | None = None
    moderator_agent_id: str | None = None
    clear_moderator: bool = False


class ChatRooms:
    def __init__(
        self, runtime: Runtime, *, agents: AgentDirectory, speak: Speak, node: str
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._agents = agents
        self.events = RoomEvents(runtime)
        self.floor = FloorRunner(runtime, self.events, agents=agents, speak=speak, node=node)

    # --- rooms --------------------------------------------------------------------------------
    async def get(self, caller: Account, room_id: str) -> ChatRoom:
        """The caller's room; 404 for every other id (another's room is not told apart)."""
        room = None
        if room_id.startswith(rules.ROOM_ID_PREFIX) and len(room_id) <= 64:
            room = await self._store.get_chat_room(room_id)
        if room is None or room.owner_id != caller.id:
            raise NotFound(f"no chat room {room_id[:64]!r}")
        return room

    async def create(
        self, caller: Account, settings: RoomSettings, agent_ids: list[str]
    ) -> tuple[ChatRoom, list[ChatRoomAgent]]:
        if settings.name is None:
            raise Invalid("name is required")
        if len(agent_ids) > rules.MAX_AGENTS_PER_ROOM:
            raise Invalid(f"a room holds at most {rules.MAX_AGENTS_PER_ROOM} agents")
        ids = [str((await self._agents.owned(caller, a)).account_id) for a in agent_ids]
        floor = self._rules(FloorRules(), settings)
        self._check_moderator(floor, ids)
        now = self._rt.clock_us()
        room_id = new_sortable_id(rules.ROOM_ID_PREFIX, now // 1000, self._rt.random_bytes(10))
        room = await self._store.create_chat_room(
            room_id,
            caller.id,
            settings.name,
            settings.description or "",
            floor,
            ids,
            now_us=now,
        )
        return room, await self.agents(caller, room.id)

    async def page(
        self, caller: Account, *, page: int, page_size: int
    ) -> tuple[list[ChatRoom], int]:
        return await self._store.list_chat_rooms(
            caller.id, offset=(page - 1) * page_size, limit=page_size
        )

    async def update(self, caller: Account, room_id: str, settings: RoomSettings) -> ChatRoom:
        room = await self.get(caller, room_id)
        floor = self._rules(room.rules, settings)
        self._check_moderator(floor, [a.agent_id for a in await self.agents(caller, room.id)])
        updated = await self._store.update_chat_room(
            room.id,
            settings.name if settings.name is not None else room.name,
            settings.description if settings.description is not None else room.description,
            floor,
            now_us=self._rt.clock_us(),
        )
        if updated is None:
            raise NotFound(f"no chat room {room_id[:64]!r}")
        return updated

    async def delete(self, caller: Account, room_id: str) -> None:
        """Delete the room with its messages; its watchers are told (`system` room_deleted)
        and SSE sends still waiting for answers end."""
        room = await self.get(caller, room_id)
        await self._store.delete_chat_room(room.id)
        await self.events.publish(
            room.id, "system", {"content": f"{room.name} was deleted", "type": "room_deleted"}
        )
        await self.events.publish(room.id, IDLE, {"floor_seq": LAST_SEQ})

    @staticmethod
    def _rules(current: FloorRules, s: RoomSettings) -> FloorRules:
        moderator = (
            None if s.clear_moderator else (s.moderator_agent_id or current.moderator_agent_id)
        )
        return replace(
            current,
            policy=s.policy or current.policy,
            max_consecutive_agent_turns=s.max_consecutive_agent_turns
            or current.max_consecutive_agent_turns,
            agent_token_budget=current.agent_token_budget
            if s.agent_token_budget is None
            else s.agent_token_budget,
            moderator_agent_id=moderator,
        )

    @staticmethod
    def _check_moderator(floor: FloorRules, agent_ids: list[str]) -> None:
        if floor.policy is FloorPolicy.MODERATOR and floor.moderator_agent_id not in agent_ids:
            raise Invalid("the moderator policy needs moderator_agent_id: one of the room's agents")

    # --- agents -------------------------------------------------------------------------------
    async def agents(self, caller: Account, room_id: str) -> list[ChatRoomAgent]:
        room = await self.get(caller, room_id)
        return await self._store.chat_room_agents(room.id)

    async def add_agent(self, caller: Account, room_id: str, agent_id: str) -> list[ChatRoomAgent]:
        """Add one of the caller's hosted agents (404 for anyone else's); adding one that is
        in the room already changes nothing."""
        room = await self.get(caller, room_id)
        agent = await self._agents.owned(caller, agent_id)
        present = await self._store.chat_room_agents(room.id)
        if len(present) >= rules.MAX_AGENTS_PER_ROOM:
            raise Invalid(f"a room holds at most {rules.MAX_AGENTS_PER_ROOM} agents")
        await self._store.add_chat_room_agent(room.id, agent.account_id, now_us=self._rt.clock_us())
        return await self._store.chat_room_agents(room.id)

    async def remove_agent(self, caller: Account, room_id: str, agent_id: str) -> None:
        room = await self.get(caller, room_id)
        if not await self._store.remove_chat_room_agent(room.id, agent_id[:64]):
            raise NotFound(
                f"agent {agent_id[:64]!r} is not in this room", ErrorCode.AGENT_NOT_FOUND
            )

    # --- messages -----------------------------------------------------------------------------
    async def history(
        self, caller: Account, room_id: str, *, page: int, page_size: int
    ) -> tuple[list[ChatRoomMessage], int]:
        """Page 1 is the newest `page_size` messages; each page is oldest first."""
        room = await self.get(caller, room_id)
        return await self._store.chat_room_messages(
            room.id, offset=(page - 1) * page_size, limit=page_size
        )

    async def post(self, caller: Account, room_id: str, content: object) -> ChatRoomMessage:
        """Store the caller's message, tell every watcher, and have the floor answer it."""
        content = rules.validate_content(content)
        room = await self.get(caller, room_id)
        message = await self.events.append(
            room.id,
            NewChatMessage(
                sender_type=SenderType.USER,
                sender_id=caller.id,
                sender_name=caller.display_name,
                content=content,
            ),
        )
        self.floor.kick(room.id)
        return message

    async def post_as_agent(
        self, caller: Account, room_id: str, agent_id: str, name: str, content: object
    ) -> ChatRoomMessage:
        """A message the caller sends as one of its agents (an agent participant of the
        WebSocket): it counts as an agent turn (turn cap, loop detection) and may be answered
        by the agents it @mentions."""
        text = rules.validate_content(content)
        room = await self.get(caller, room_id)
        agent = await self._agents.owned(caller, agent_id)
        message = await self.events.append(
            room.id,
            NewChatMessage(
                sender_type=SenderType.AGENT,
                sender_id=str(agent.account_id),
                sender_name=name,
                content=text,
            ),
        )
        self.floor.kick(room.id)
        return message
