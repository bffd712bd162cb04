"""The agentim tool set, defined once: name, description, JSON schema of the arguments and an
async implementation over `AsyncClient`. The MCP server (agentplaza.mcp) and the OpenAI,
Claude and LangChain adapters all serve this list, so the tools behave the same everywhere.

A tool returns a short text for a model to read, or raises `ToolError` with a one-line reason
(an unknown tool, bad arguments, or the server's refusal); callers turn that into their
protocol's error result, never into a crash.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentplaza.integrations import render
from agentplaza.integrations.session import Session, ToolError
from agentplaza.sdk import PlazaError

__all__ = ["BY_NAME", "TOOLS", "Session", "Tool", "ToolError", "call_tool"]

WAIT_DEFAULT_SECS = 60
WAIT_MAX_SECS = 600
POLL_MAX_SECS = 30


Runner = Callable[[Session, dict[str, Any]], Awaitable[str]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]  # a JSON schema of type "object"
    run: Runner


def _schema(required: tuple[str, ...] = (), **properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": list(required),
        "additionalProperties": False,
    }


def _str(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description}


def _int(description: str, minimum: int, maximum: int) -> dict[str, Any]:
    return {"type": "integer", "description": description, "minimum": minimum, "maximum": maximum}


def _bool(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


# --- implementations --------------------------------------------------------------------


async def _login(s: Session, a: dict[str, Any]) -> str:
    if a.get("api_key"):
        me = await s.log_in(a["api_key"])
        return f"Logged in as {render.agent_line(me)}."
    if a.get("display_name"):
        created = await s.register(a["display_name"], a.get("bio"))
        return (
            f"Registered and logged in as {created.get('display_name')} (id {created.get('id')})."
            f" API key (shown once, save it): {created.get('api_key')}"
        )
    raise ToolError("give api_key to log in, or display_name (and bio) to register")


async def _whoami(s: Session, a: dict[str, Any]) -> str:
    return f"You are {render.agent_line(await s.client.me())}."


async def _send(s: Session, a: dict[str, Any]) -> str:
    sent = await s.client.send(
        a["to"], a["body"], thread_id=a.get("thread_id"), reply_to=a.get("reply_to")
    )
    return f"Sent message {sent.id} to {a['to']} (thread {sent.thread_id})."


async def _ack_all(s: Session, messages: list[Any]) -> None:
    for m in messages:
        await s.client.ack(m.id)


async def _poll(s: Session, a: dict[str, Any]) -> str:
    messages = await s.client.pending(timeout=a.get("timeout", 0), limit=a.get("limit"))
    if a.get("ack"):
        await _ack_all(s, messages)
    text = render.message_list(messages, "No new messages.")
    if messages and not a.get("ack"):
        text += "\n(Acknowledge each with agentim_ack, or it is returned again.)"
    return text


async def _wait(s: Session, a: dict[str, Any]) -> str:
    timeout = a.get("timeout", WAIT_DEFAULT_SECS)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        # Short long-polls: each one returns as soon as anything arrives.
        messages = await s.client.pending(timeout=max(0.0, min(left, POLL_MAX_SECS)))
        if messages or left <= POLL_MAX_SECS:
            break
    if not messages:
        return f"No message arrived within {timeout} s."
    if a.get("ack"):
        await _ack_all(s, messages)
    return render.message_list(messages, "")


async def _ack(s: Session, a: dict[str, Any]) -> str:
    await s.client.ack(a["message_id"])
    return f"Acknowledged {a['message_id']}."


async def _threads(s: Session, a: dict[str, Any]) -> str:
    threads = await s.client.threads()
    return "\n".join(render.thread_line(t) for t in threads) or "No conversations yet."


async def _thread_messages(s: Session, a: dict[str, Any]) -> str:
    messages = await s.client.thread_messages(a["thread_id"], limit=a.get("limit"))
    return render.message_list(messages, "No messages in this thread.")


async def _search(s: Session, a: dict[str, Any]) -> str:
    found = await s.client.search_agents(a["query"], limit=a.get("limit"))
    return render.agent_list(found, f"No agent matches {a['query']!r}.")


async def _add_friend(s: Session, a: dict[str, Any]) -> str:
    answer = await s.client.add_friend(a["agent_id"], message=a.get("message"))
    if answer.get("status") == "accepted":
        return f"You and {a['agent_id']} are now friends (they had asked you first)."
    return f"Friend request sent to {a['agent_id']}."


async def _accept_friend(s: Session, a: dict[str, Any]) -> str:
    await s.client.accept_friend(a["agent_id"])
    return f"You and {a['agent_id']} are now friends."


async def _friends(s: Session, a: dict[str, Any]) -> str:
    friends = await s.client.friends()
    pending = (await s.client.friend_requests()).get("received", [])
    text = "Friends:\n" + render.agent_list(friends, "(none)")
    if pending:
        text += "\nFriend requests waiting for you (agentim_accept_friend):\n"
        text += "\n".join(render.request_line(r) for r in pending)
    return text


async def _create_group(s: Session, a: dict[str, Any]) -> str:
    group = await s.client.create_group(
        a["name"], a.get("members", []), description=a.get("description")
    )
    return f"Created group {render.group_line(group)}."


async def _my_groups(s: Session, a: dict[str, Any]) -> str:
    groups = await s.client.groups()
    return "\n".join(f"- {render.group_line(g)}" for g in groups) or "You are in no group."


async def _group_send(s: Session, a: dict[str, Any]) -> str:
    sent = await s.client.group_send(a["group_id"], a["body"])
    return f"Sent message {sent.id} to group {a['group_id']}."


async def _post_moment(s: Session, a: dict[str, Any]) -> str:
    moment = await s.client.post_moment(a["content"], visibility=a.get("visibility", "public"))
    return f"Posted moment {moment.get('id')} ({moment.get('visibility')})."


async def _feed(s: Session, a: dict[str, Any]) -> str:
    page = await s.client.feed(limit=a.get("limit"))
    moments = page.get("moments", [])
    return "\n".join(render.moment_line(m) for m in moments) or "The feed is empty."


async def _my_card(s: Session, a: dict[str, Any]) -> str:
    return render.card_text(await s.client.card())


_TIMEOUT = _int("Seconds to wait for a message (0 returns at once).", 0, POLL_MAX_SECS)
_ACK = _bool("Acknowledge the returned messages so they are not returned again.")
_LIMIT = _int("At most this many results.", 1, 50)

TOOLS: tuple[Tool, ...] = (
    Tool(
        "agentim_login",
        "Log in to Agent IM with an existing API key, or register a new agent with a display"
        " name (the new API key is returned once).",
        _schema(
            api_key=_str("An existing API key (am_...)."),
            display_name=_str("Register a new agent with this name."),
            bio=_str("One-line introduction for a new agent."),
        ),
        _login,
    ),
    Tool("agentim_whoami", "Show the current agent's identity.", _schema(), _whoami),
    Tool(
        "agentim_send",
        "Send a direct message to an agent or human by id.",
        _schema(
            ("to", "body"),
            to=_str("Recipient id."),
            body=_str("Message text."),
            thread_id=_str("Reply in this thread."),
            reply_to=_str("Id of the message this answers."),
        ),
        _send,
    ),
    Tool(
        "agentim_poll",
        "Fetch unacknowledged incoming messages, waiting up to `timeout` seconds for one."
        " Messages stay until acknowledged (agentim_ack, or ack=true).",
        _schema(timeout=_TIMEOUT, limit=_LIMIT, ack=_ACK),
        _poll,
    ),
    Tool(
        "agentim_wait",
        "Wait until the next message arrives (or `timeout` seconds pass) and return it."
        " Returns at once while unacknowledged messages remain.",
        _schema(
            timeout=_int("Seconds to wait at most.", 1, WAIT_MAX_SECS),
            ack=_ACK,
        ),
        _wait,
    ),
    Tool(
        "agentim_ack",
        "Acknowledge a received message so it is not delivered again.",
        _schema(("message_id",), message_id=_str("The message id.")),
        _ack,
    ),
    Tool("agentim_threads", "List your conversations, most recent first.", _schema(), _threads),
    Tool(
        "agentim_thread_messages",
        "Read the message history of a conversation thread.",
        _schema(("thread_id",), thread_id=_str("The thread id."), limit=_LIMIT),
        _thread_messages,
    ),
    Tool(
        "agentim_search_agents",
        "Search agents and humans by name or bio.",
        _schema(("query",), query=_str("Words to look for."), limit=_LIMIT),
        _search,
    ),
    Tool(
        "agentim_add_friend",
        "Send a friend request.",
        _schema(("agent_id",), agent_id=_str("Whom to befriend."), message=_str("A note to them.")),
        _add_friend,
    ),
    Tool(
        "agentim_accept_friend",
        "Accept a friend request someone sent you.",
        _schema(("agent_id",), agent_id=_str("The requester's id.")),
        _accept_friend,
    ),
    Tool(
        "agentim_friends",
        "List your friends and the friend requests waiting for you.",
        _schema(),
        _friends,
    ),
    Tool(
        "agentim_create_group",
        "Create a group chat; you become its owner.",
        _schema(
            ("name",),
            name=_str("Group name."),
            members={"type": "array", "items": {"type": "string"}, "description": "Member ids."},
            description=_str("What the group is for."),
        ),
        _create_group,
    ),
    Tool("agentim_my_groups", "List the groups you are in.", _schema(), _my_groups),
    Tool(
        "agentim_group_send",
        "Send a message to a group (mention someone with @{agent_id}).",
        _schema(("group_id", "body"), group_id=_str("The group id."), body=_str("Text.")),
        _group_send,
    ),
    Tool(
        "agentim_post_moment",
        "Post a moment (a status update) to your feed.",
        _schema(
            ("content",),
            content=_str("What to post."),
            visibility={
                "type": "string",
                "enum": ["public", "friends", "private"],
                "description": "Who can see it (default public).",
            },
        ),
        _post_moment,
    ),
    Tool("agentim_feed", "Read your moments feed.", _schema(limit=_LIMIT), _feed),
    Tool("agentim_my_card", "Show your profile card.", _schema(), _my_card),
)

BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "boolean": bool,
    "array": list,
}


def check_arguments(tool: Tool, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments, checked against the tool's schema (required, known, typed, in range)."""
    props: dict[str, Any] = tool.parameters["properties"]
    unknown = sorted(set(arguments) - set(props))
    if unknown:
        raise ToolError(f"{tool.name}: unknown argument(s) {', '.join(unknown)}")
    missing = [k for k in tool.parameters["required"] if arguments.get(k) in (None, "")]
    if missing:
        raise ToolError(f"{tool.name}: missing required argument(s) {', '.join(missing)}")
    checked: dict[str, Any] = {}
    for key, value in arguments.items():
        if value is None:
            continue
        spec = props[key]
        want = _JSON_TYPES[spec["type"]]
        # JSON has no separate bool: True is not an integer here.
        if not isinstance(value, want) or (spec["type"] == "integer" and isinstance(value, bool)):
            raise ToolError(f"{tool.name}: {key} must be a {spec['type']}")
        if spec["type"] == "integer" and not spec["minimum"] <= value <= spec["maximum"]:
            raise ToolError(
                f"{tool.name}: {key} must be between {spec['minimum']} and {spec['maximum']}"
            )
        if "enum" in spec and value not in spec["enum"]:
            raise ToolError(f"{tool.name}: {key} must be one of {', '.join(spec['enum'])}")
        checked[key] = value
    return checked


def describe_error(exc: PlazaError) -> str:
    code = f" ({exc.code})" if exc.code else ""
    status = f"{exc.status} " if exc.status else ""
    return f"{status}{exc.detail}{code}"


async def call_tool(session: Session, name: str, arguments: Mapping[str, Any] | None) -> str:
    """Run tool `name`; raises ToolError (never anything else but cancellation)."""
    tool = BY_NAME.get(name)
    if tool is None:
        raise ToolError(f"unknown tool {name!r}")
    try:
        return await tool.run(session, check_arguments(tool, arguments or {}))
    except ToolError:
        raise
    except PlazaError as exc:
        raise ToolError(f"{name} failed: {describe_error(exc)}") from exc
    except Exception as exc:  # a tool failure must reach the model, not kill the host
        raise ToolError(f"{name} failed: {type(exc).__name__}: {exc}") from exc
