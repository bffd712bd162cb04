"""FloorRunner: runs a studio chat room's agents, one turn at a time, under domain/floor.py.

Only one node runs a room's floor at a time: the runner holds the room's floor lease
(`claim_chat_room_floor`, renewed before every agent turn) and on this node one task per room
(`kick` while running only asks it to look again). The floor answers messages in seq order
from `floor_seq`, the last message it answered, so a human message accepted by a node that
could not take the lease is answered by the node holding it: after releasing, a runner looks
once more for messages that came in meanwhile.

Guarantees: agents speak only as domain/floor.py admits; every turn's tokens are counted
against the agent's room budget and its daily budget (services/hosted_agents.py) even when
the turn fails; when the floor goes quiet an internal `floor_idle` event is published.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import aclosing, suppress
from enum import Enum
from typing import Any, Protocol

from agentplaza.domain.chat_rooms import ChatRoom, ChatRoomAgent, ChatRoomMessage, NewChatMessage
from agentplaza.domain.errors import AgentplazaError, NotFound
from agentplaza.domain.floor import (
    Admission,
    FloorMessage,
    FloorState,
    RoomAgentRef,
    SenderType,
    admit,
    after_agent_message,
    next_speakers,
    pause_message,
)
from agentplaza.domain.hosted import HostedAgent
from agentplaza.domain.ids import AccountId, new_sortable_id
from agentplaza.domain.turns import (
    TurnDone,
    TurnError,
)
from agentplaza.llm.base import ModelRequest, ProviderError
from agentplaza.services.chat_room_events import IDLE, LAST_SEQ, RoomEvents
from agentplaza.services.chat_room_turns import Speak, preamble, step, strip_own_name, transcript
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)

MAX_MESSAGES_PER_READ = 200
LEASE_POLL_SECS = 1.0


class _Outcome(Enum):
    DONE = "done"
    PENDING = "pending"
    BLOCKED = "blocked"


class RunnerAgents(Protocol):
    """What the runner needs of hosted agents (services/hosted_agents.py)."""

    async def get(self, agent_id: AccountId) -> HostedAgent | None: ...

    async def check_budget(self, agent: HostedAgent) -> None: ...

    async def record_usage(
        self, agent: HostedAgent, *, model: str, input_tokens: int, output_tokens: int
    ) -> None: ...


class FloorRunner:
    def __init__(
        self, runtime: Runtime, events: RoomEvents, *, agents: RunnerAgents, speak: Speak, node: str
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._events = events
        self._agents = agents
        self._speak = speak
        self._node = node
        self._running: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    def kick(self, room_id: str) -> None:
        """Answer the room's unanswered messages soon, in a task of this node (at most one
        per room: while it runs, a kick only makes it look again before it ends)."""
        if room_id in self._running:
            self._again.add(room_id)
            return
        self._running[room_id] = asyncio.get_running_loop().create_task(self._run(room_id))

    async def stop(self) -> None:
        for task in tuple(self._running.values()):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _run(self, room_id: str) -> None:
        try:
            while True:
                self._again.discard(room_id)
                outcome = await self._run_once(room_id)
                if outcome is _Outcome.BLOCKED:
                    outcome = await self._wait_for_lease(room_id)
                if outcome is _Outcome.DONE and room_id not in self._again:
                    # No await between the check of `_again` and this: a kick either found
                    # the task running and was seen, or finds it gone and starts a new one.
                    self._forget(room_id)
                    return
        except NotFound:
            log.info("chat room %s was deleted while its agents spoke", room_id)
        except Exception:
            log.exception("chat room %s: the floor failed", room_id)
            self._forget(room_id)  # the next message runs the floor again
            # Best effort: say so, and end the sends waiting for answers that will not come.
            with suppress(Exception):
                await self._events.publish(
                    room_id, "error", {"content": "the room's agents failed; send again"}
                )
                await self._events.publish(room_id, IDLE, {"floor_seq": LAST_SEQ})
        finally:
            self._forget(room_id)

    def _forget(self, room_id: str) -> None:
        """This task no longer runs the room (a newer task may already)."""
        if self._running.get(room_id) is asyncio.current_task():
            del self._running[room_id]

    async def _wait_for_lease(self, room_id: str) -> _Outcome:
        """Another node holds the floor: it answers our message, unless it died. Poll until
        the message is answered (DONE) or the lease can be ours (PENDING)."""
        deadline = self._rt.monotonic() + self._rt.settings.studio_room_floor_lease_secs + 5
        while self._rt.monotonic() < deadline:
            await asyncio.sleep(LEASE_POLL_SECS)
            room = await self._store.get_chat_room(room_id)
            if room is None or room.floor_seq >= room.last_seq:
                return _Outcome.DONE
            lease = room.floor_lease_until_us
            if lease is None or lease < self._rt.clock_us():
                return _Outcome.PENDING
        return _Outcome.PENDING

    async def _run_once(self, room_id: str) -> _Outcome:
        """Answer what is unanswered while holding the lease: PENDING if messages came in
        after the lease was released, BLOCKED if another node holds it."""
        lease_us = int(self._rt.settings.studio_room_floor_lease_secs * 1_000_000)
        room = await self._store.claim_chat_room_floor(
            room_id, self._node, now_us=self._rt.clock_us(), lease_us=lease_us
        )
        if room is None:
            exists = await self._store.get_chat_room(room_id)
            return _Outcome.DONE if exists is None else _Outcome.BLOCKED
        floor_seq = room.floor_seq
        try:
            floor_seq = await self._answer(room, lease_us)
        finally:
            await self._store.release_chat_room_floor(room_id, self._node)
            await self._events.publish(room_id, IDLE, {"floor_seq": floor_seq})
        after = await self._store.get_chat_room(room_id)
        pending = after is not None and after.last_seq > after.floor_seq
        return _Outcome.PENDING if pending else _Outcome.DONE

    async def _answer(self, room: ChatRoom, lease_us: int) -> int:
        state, floor_seq = room.floor, room.floor_seq
        queue: deque[str] = deque()
        told_budget: set[str] = set()
        # Seqs of the messages this run wrote (already applied to `state`). `floor_seq` passes
        # them only in order, when it is read back: a human message stored between two of
        # ours must not be skipped.
        own: set[int] = set()
        while True:
            agents = await self._store.chat_room_agents(room.id)
            refs = [RoomAgentRef(a.agent_id, a.name) for a in agents]
            for message in await self._store.chat_room_messages_after(
                room.id, floor_seq, limit=MAX_MESSAGES_PER_READ
            ):
                floor_seq = message.seq
                if message.seq in own:
                    own.discard(message.seq)
                    continue
                state, follow = await self._fold(room, state, message, refs)
                queue.extend(s for s in follow if s not in queue)
            if not queue:
                await self._save(room, state, floor_seq)
                return floor_seq
            agent_id = queue.popleft()
            renewed = await self._store.claim_chat_room_floor(
                room.id, self._node, now_us=self._rt.clock_us(), lease_us=lease_us
            )
            if renewed is None:
                log.warning("chat room %s: floor lease lost; another node answers", room.id)
                return floor_seq
            room = renewed
            member = next((a for a in agents if a.agent_id == agent_id), None)
            if member is None:
                continue
            was_paused = state.paused
            state, verdict = admit(state, agent_id, member.tokens_used, room.rules)
            if verdict is Admission.PAUSED:
                queue.clear()
                if not was_paused and state.pause_reason is not None:
                    text = pause_message(state.pause_reason, room.rules)
                    own.add(await self._system(room, text, "paused", state))
                await self._save(room, state, floor_seq)
                continue
            if verdict is Admission.OVER_BUDGET:
                if agent_id not in told_budget:
                    told_budget.add(agent_id)
                    await self._events.publish(
                        room.id,
                        "system",
                        {
                            "content": f"{member.name} used its token budget in this room"
                            f" ({room.rules.agent_token_budget} tokens) and stays silent",
                            "type": "budget_exhausted",
                            "agent_id": agent_id,
                        },
                    )
                continue
            reply = await self._turn(room, member, agents)
            if reply is None:
                continue
            own.add(reply.seq)
            outcome = after_agent_message(state, reply.content)
            state = outcome.state
            if outcome.paused is not None:
                queue.clear()
                text = pause_message(outcome.paused, room.rules)
                own.add(await self._system(room, text, "paused", state))
            else:
                follow = next_speakers(state, _floor_message(reply), refs, room.rules).speakers
                queue.extend(s for s in follow if s not in queue)
            await self._save(room, state, floor_seq)

    async def _fold(
        self, room: ChatRoom, state: FloorState, message: ChatRoomMessage, refs: list[RoomAgentRef]
    ) -> tuple[FloorState, tuple[str, ...]]:
        """A message the floor has not seen yet: a human's (or, after a crash, an agent's)."""
        if message.sender_type is SenderType.AGENT:
            state = after_agent_message(state, message.content).state
        decision = next_speakers(state, _floor_message(message), refs, room.rules)
        if decision.resumed:
            await self._events.publish(
                room.id,
                "system",
                {"content": f"{message.sender_name} spoke: agents resumed", "type": "resumed"},
            )
        return decision.state, decision.speakers

    async def _save(self, room: ChatRoom, state: FloorState, floor_seq: int) -> None:
        await self._store.save_chat_room_floor(
            room.id, self._node, state, floor_seq, now_us=self._rt.clock_us()
        )

    async def _system(self, room: ChatRoom, text: str, kind: str, state: FloorState) -> int:
        """A system message (kept in the history, so a reader sees why agents stopped) and
        its `system` event."""
        stored = await self._store.append_chat_room_message(
            room.id,
            new_sortable_id("rm_", self._rt.clock_us() // 1000, self._rt.random_bytes(10)),
            NewChatMessage(
                sender_type=SenderType.SYSTEM, sender_id="", sender_name="system", content=text
            ),
            now_us=self._rt.clock_us(),
        )
        data: dict[str, Any] = {"content": text, "type": kind}
        if state.pause_reason is not None:
            data["reason"] = state.pause_reason.value
        await self._events.publish(room.id, "system", data)
        return stored.seq if stored is not None else room.last_seq

    async def _turn(
        self, room: ChatRoom, member: ChatRoomAgent, agents: list[ChatRoomAgent]
    ) -> ChatRoomMessage | None:
        """One agent's turn with its events; its stored message, or None if it failed."""
        publish = self._events.publish
        agent = await self._agents.get(AccountId(member.agent_id))
        if agent is None or not agent.enabled:
            return None
        try:
            await self._agents.check_budget(agent)
        except AgentplazaError as exc:
            await publish(
                room.id,
                "system",
                {"content": exc.detail, "type": "budget_exhausted", "agent_id": member.agent_id},
            )
            return None
        request = await self._request(room, agent, member, agents)
        await publish(room.id, "typing", {"agent_id": member.agent_id, "is_typing": True})
        done: TurnDone | None = None
        failure: str | None = None
        try:
            async with aclosing(self._speak(agent, request)) as events:
                async for event in events:
                    if isinstance(event, TurnDone):
                        done = event
                    elif isinstance(event, TurnError):
                        failure = event.message
                        # The calls that finished before the failure were paid for.
                        await self._count(room, agent, event.input_tokens, event.output_tokens)
                    else:
                        await publish(room.id, "process_step", step(member.agent_id, event))
        except AgentplazaError as exc:  # no client for the agent's provider, say
            failure = exc.detail
        except ProviderError as exc:  # its key cannot be opened on this node
            failure = exc.message
        finally:
            await publish(room.id, "typing", {"agent_id": member.agent_id, "is_typing": False})
        if done is None:
            await publish(
                room.id,
                "error",
                {"content": failure or "the agent gave no answer", "agent_id": member.agent_id},
            )
            return None
        tokens = done.input_tokens + done.output_tokens
        await self._agents.record_usage(
            agent,
            model=agent.model,
            input_tokens=done.input_tokens,
            output_tokens=done.output_tokens,
        )
        content = strip_own_name(done.content, member.name).strip() or "…"
        message = await self._events.append(
            room.id,
            NewChatMessage(
                sender_type=SenderType.AGENT,
                sender_id=member.agent_id,
                sender_name=member.name,
                content=content,
                tokens=tokens,
            ),
        )
        await publish(
            room.id,
            "done",
            {"message_id": message.id, "token_count": tokens, "agent_id": member.agent_id},
        )
        return message

    async def _count(
        self, room: ChatRoom, agent: HostedAgent, input_tokens: int, output_tokens: int
    ) -> None:
        """Tokens of a failed turn: against the agent's daily and room budgets."""
        if input_tokens + output_tokens <= 0:
            return
        await self._agents.record_usage(
            agent, model=agent.model, input_tokens=input_tokens, output_tokens=output_tokens
        )
        await self._store.add_chat_room_tokens(
            room.id, str(agent.account_id), input_tokens + output_tokens
        )

    async def _request(
        self, room: ChatRoom, agent: HostedAgent, member: ChatRoomAgent, agents: list[ChatRoomAgent]
    ) -> ModelRequest:
        history, _ = await self._store.chat_room_messages(
            room.id, offset=0, limit=self._rt.settings.studio_room_history_messages
        )
        system = "\n\n".join(p for p in (agent.system_prompt, preamble(room, member, agents)) if p)
        return ModelRequest(
            model=agent.model,
            messages=transcript(history, member.agent_id),
            system=system,
            temperature=agent.temperature,
            max_tokens=agent.max_tokens,
            thinking=agent.thinking,
        )


def _floor_message(message: ChatRoomMessage) -> FloorMessage:
    return FloorMessage(
        sender_type=message.sender_type, sender_id=message.sender_id, content=message.content
    )
