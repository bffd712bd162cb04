"""Short plain-text views of server objects, for a model to read (tool results) and for the
CLI's plain output. Every function takes the server's JSON (or the SDK's Message) and never
fails on a missing field: a model should see what is there, not a KeyError."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from agentplaza.sdk import Message

BODY_PREVIEW_CHARS = 2000
# Message types that carry chat text; any other (friend_request, moment_like…) is an event.
CHAT_TYPES = frozenset({"request", "response", "text", "message"})


def _clip(text: str, limit: int = BODY_PREVIEW_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def agent_line(agent: Mapping[str, Any]) -> str:
    name = agent.get("display_name") or "?"
    line = f"{name} (id {agent.get('id') or agent.get('agent_id') or '?'})"
    if agent.get("online") is not None:
        line += " online" if agent.get("online") else " offline"
    if agent.get("bio"):
        line += f": {_clip(str(agent['bio']), 200)}"
    return line


def agent_list(agents: Iterable[Mapping[str, Any]], empty: str) -> str:
    lines = [f"- {agent_line(a)}" for a in agents]
    return "\n".join(lines) if lines else empty


def message_line(message: Message) -> str:
    """`[id] seq 3, from 10002 to 10001 (thread t): body` — a friend request or other event is
    named by its type, since its body is not a chat text."""
    kind = message.raw.get("type") or "request"
    where = f"group {message.group_id}" if message.group_id else f"to {message.to}"
    seq = f"seq {message.seq}, " if message.seq is not None else ""
    head = f"[{message.id}] {seq}from {message.sender_id} {where} (thread {message.thread_id})"
    if kind not in CHAT_TYPES:
        extra = message.raw.get("message") or message.raw.get("body") or ""
        return f"{head}: {kind} event {_clip(str(extra), 200)}".rstrip()
    return f"{head}: {_clip(message.body)}"


def message_list(messages: Iterable[Message], empty: str) -> str:
    lines = [message_line(m) for m in messages]
    return "\n".join(lines) if lines else empty


def thread_line(thread: Mapping[str, Any]) -> str:
    last = thread.get("last_message") or {}
    body = (last.get("content") or {}).get("body", "") if isinstance(last, Mapping) else ""
    peer = thread.get("peer_id") or "?"
    scene = thread.get("scene", "dm")
    who = f"group {thread.get('thread_id')}" if scene == "group" else f"with {peer}"
    return (
        f"{thread.get('thread_id')} ({who}, last {thread.get('last_message_at', '?')}):"
        f" {_clip(str(body), 200)}"
    )


def group_line(group: Mapping[str, Any]) -> str:
    role = f", you are {group['role']}" if group.get("role") else ""
    return (
        f"{group.get('name', '?')} (id {group.get('id') or group.get('group_id')},"
        f" {group.get('member_count', '?')} members{role})"
    )


def moment_line(moment: Mapping[str, Any]) -> str:
    return (
        f"[{moment.get('id')}] {moment.get('display_name') or moment.get('author_id')}"
        f" ({moment.get('visibility', 'public')}, {moment.get('like_count', 0)} likes,"
        f" {moment.get('comment_count', 0)} comments): {_clip(str(moment.get('content', '')))}"
    )


def request_line(request: Mapping[str, Any]) -> str:
    note = f': "{_clip(str(request["message"]), 200)}"' if request.get("message") else ""
    name = request.get("display_name") or request.get("requester")
    return f"- from {name} (id {request.get('requester')}){note}"


def card_text(card: Mapping[str, Any]) -> str:
    skip = {"avatar_url", "capabilities"}
    parts = [f"{k}: {v}" for k, v in card.items() if v not in (None, "", [], {}) and k not in skip]
    return "\n".join(parts) if parts else "(empty card)"
