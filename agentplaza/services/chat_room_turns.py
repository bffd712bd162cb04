"""One agent's turn in a studio chat room: the room as the model sees it (transcript,
preamble), the `process_step` events of a turn, and `hosted_speaker` (services/turns.py with
the agent's provider client and tools).
"""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any, Protocol

from agentplaza.domain.accounts import Account
from agentplaza.domain.chat_rooms import ChatRoom, ChatRoomAgent, ChatRoomMessage
from agentplaza.domain.floor import FloorPolicy, SenderType
from agentplaza.domain.hosted import HostedAgent
from agentplaza.domain.ids import AccountId
from agentplaza.domain.turns import TurnEvent, TurnText, TurnToolCall, TurnToolResult
from agentplaza.llm.base import ChatMessage, ModelClient, ModelRequest, Role
from agentplaza.services.tools import ToolContext
from agentplaza.services.turns import Turns

Speak = Callable[[HostedAgent, ModelRequest], AsyncGenerator[TurnEvent]]
"""One turn of `agent` answering `request`."""


def step(agent_id: str, event: TurnEvent) -> dict[str, Any]:
    if isinstance(event, TurnText):
        return {"agent_id": agent_id, "type": "text", "content": event.text}
    if isinstance(event, TurnToolCall):
        return {
            "agent_id": agent_id,
            "type": "tool_call",
            "call_id": event.call_id,
            "name": event.name,
            "arguments": event.arguments,
        }
    assert isinstance(event, TurnToolResult)
    return {
        "agent_id": agent_id,
        "type": "tool_result",
        "call_id": event.call_id,
        "name": event.name,
        "result": event.result,
        "is_error": event.is_error,
    }


def transcript(history: list[ChatRoomMessage], agent_id: str) -> list[ChatMessage]:
    """The room as `agent_id` sees it: its own messages as the assistant's, everyone else's
    as user messages prefixed `[name]: ` (consecutive ones merged: providers want turns to
    alternate). Starts and ends with a user message."""
    turns: list[tuple[Role, str]] = []
    for message in history:
        if message.sender_type is SenderType.AGENT and message.sender_id == agent_id:
            role, text = Role.ASSISTANT, message.content
        else:
            role, text = Role.USER, f"[{message.sender_name}]: {message.content}"
        if turns and turns[-1][0] is role:
            turns[-1] = (role, turns[-1][1] + "\n\n" + text)
        else:
            turns.append((role, text))
    while turns and turns[0][0] is Role.ASSISTANT:
        turns.pop(0)
    if not turns or turns[-1][0] is Role.ASSISTANT:
        turns.append((Role.USER, "[room]: it is your turn to speak."))
    return [ChatMessage(role=role, content=text) for role, text in turns]


def strip_own_name(content: str, name: str) -> str:
    """Models imitate the transcript's `[name]: ` prefixes; the room shows names itself."""
    return re.sub(r"^\s*\[" + re.escape(name) + r"\]:\s*", "", content, count=1)


_RULES = {
    FloorPolicy.FREE: "every agent may answer a human message, in turn",
    FloorPolicy.ROUND_ROBIN: "agents take turns: one agent answers each human message",
    FloorPolicy.MENTION: "an agent answers only when @mentioned",
    FloorPolicy.MODERATOR: "a moderator agent decides who speaks next",
}


def preamble(room: ChatRoom, member: ChatRoomAgent, agents: list[ChatRoomAgent]) -> str:
    others = ", ".join(f"@{a.name}" for a in agents if a.agent_id != member.agent_id) or "none"
    lines = [
        f'You are {member.name} in the chat room "{room.name}".',
        *([f"Room description: {room.description}"] if room.description else []),
        f"Other agents here: {others}. Humans take part too.",
        f"Floor rule: {_RULES[room.rules.policy]}. Others' messages are shown as [name]: text;"
        " write your own message only, without a name prefix. @mention an agent to ask it"
        " to answer you.",
    ]
    if (
        room.rules.policy is FloorPolicy.MODERATOR
        and room.rules.moderator_agent_id == member.agent_id
    ):
        lines.append(
            "You are the moderator: end each message with a line `next: <agent name>` naming"
            " who speaks next, or `next: none` to hand the floor back to the humans."
        )
    return "\n".join(lines)


class ClientSource(Protocol):
    async def client_for(self, owner_id: AccountId, provider_id: str) -> ModelClient: ...


class AccountOf(Protocol):
    async def account_of(self, agent: HostedAgent) -> Account: ...

    def tool_context(self, agent: HostedAgent, account: Account) -> ToolContext: ...


def hosted_speaker(providers: ClientSource, turns: Turns, hosted: AccountOf) -> Speak:
    """A turn of a hosted agent: its provider's client, its tools, services/turns.py."""

    async def speak(agent: HostedAgent, request: ModelRequest) -> AsyncGenerator[TurnEvent]:
        client = await providers.client_for(agent.owner_id, agent.provider_id)
        context = hosted.tool_context(agent, await hosted.account_of(agent))
        async with aclosing(turns.run(client, request, tools=context)) as events:
            async for event in events:
                yield event

    return speak
