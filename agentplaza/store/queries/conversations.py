"""Studio conversations and their messages (seed 004, migration 0012).

Every read and write is scoped by the owner: a conversation of someone else is indistinguishable
from one that does not exist (None / False), which the service renders as 404.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentplaza.domain.conversations import (
    Conversation,
    ConversationChanges,
    MessageRole,
    MessageStatus,
    NewMessage,
    StoredToolCall,
    StudioMessage,
)
from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn

_CONVERSATION_COLUMNS = (
    "id, owner_id, project_id, title, provider_id, agent_id, model, system_prompt, temperature,"
    " max_tokens, thinking_enabled, message_count, last_message_at, created_at, updated_at"
)
_MESSAGE_COLUMNS = (
    "m.id, m.conversation_id, m.role, m.content, m.tool_calls, m.tool_call_id, m.name,"
    " m.input_tokens, m.output_tokens, m.status, m.created_at"
)


def _conversation_from_row(row: Any) -> Conversation:
    return Conversation(
        id=row[0],
        owner_id=AccountId(row[1]),
        project_id=row[2],
        title=row[3],
        provider_id=row[4],
        agent_id=row[5],
        model=row[6],
        system_prompt=row[7],
        temperature=float(row[8]),
        max_tokens=int(row[9]),
        thinking_enabled=bool(row[10]),
        message_count=int(row[11]),
        last_message_at_us=row[12],
        created_at_us=int(row[13]),
        updated_at_us=int(row[14]),
    )


def _message_from_row(row: Any) -> StudioMessage:
    return StudioMessage(
        id=row[0],
        conversation_id=row[1],
        role=MessageRole(row[2]),
        content=row[3],
        tool_calls=tuple(
            StoredToolCall(c["id"], c["name"], c["arguments"]) for c in json.loads(row[4])
        ),
        tool_call_id=row[5],
        name=row[6],
        input_tokens=int(row[7]),
        output_tokens=int(row[8]),
        status=MessageStatus(row[9]),
        created_at_us=int(row[10]),
    )


def create_conversation_txn(txn: Txn, conversation: Conversation) -> Conversation:
    """Insert `conversation` as given (its id is new: a clash raises the store's error)."""
    c = conversation
    txn.execute(
        f"INSERT INTO studio_conversations ({_CONVERSATION_COLUMNS})"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, NULL, ?, ?)",
        (
            c.id,
            c.owner_id,
            c.project_id,
            c.title,
            c.provider_id,
            c.agent_id,
            c.model,
            c.system_prompt,
            c.temperature,
            c.max_tokens,
            int(c.thinking_enabled),
            c.created_at_us,
            c.updated_at_us,
        ),
    )
    found = get_conversation_txn(txn, c.owner_id, c.id)
    assert found is not None
    return found


def get_conversation_txn(txn: Txn, owner: AccountId, conversation_id: str) -> Conversation | None:
    """The owner's conversation, or None (no such conversation, or someone else's)."""
    row = txn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM studio_conversations WHERE id = ? AND owner_id = ?",
        (conversation_id, owner),
    ).fetchone()
    return None if row is None else _conversation_from_row(row)


def list_conversations_txn(
    txn: Txn, owner: AccountId, *, project_id: str | None, offset: int, limit: int
) -> tuple[list[Conversation], int]:
    """One page of the owner's conversations (of one project when given), most recently
    updated first, and how many there are in all."""
    where = "owner_id = ?"
    params: list[Any] = [owner]
    if project_id is not None:
        where += " AND project_id = ?"
        params.append(project_id)
    total = txn.execute(
        f"SELECT COUNT(*) FROM studio_conversations WHERE {where}", params
    ).fetchone()[0]
    rows = txn.execute(
        f"SELECT {_CONVERSATION_COLUMNS} FROM studio_conversations WHERE {where}"
        " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
        [*params, limit, offset],
    ).fetchall()
    return [_conversation_from_row(r) for r in rows], int(total)


def update_conversation_txn(
    txn: Txn, owner: AccountId, conversation_id: str, changes: ConversationChanges, *, now_us: int
) -> Conversation | None:
    """Apply `changes` to the owner's conversation; None if it is not theirs (or gone)."""
    ch = changes
    sets: list[str] = []
    params: list[Any] = []

    def put(column: str, value: Any) -> None:
        sets.append(f"{column} = ?")
        params.append(value)

    if ch.title is not None:
        put("title", ch.title)
    if ch.clear_project or ch.project_id is not None:
        put("project_id", None if ch.clear_project else ch.project_id)
    if ch.model is not None:
        put("model", ch.model)
    if ch.clear_system_prompt or ch.system_prompt is not None:
        put("system_prompt", None if ch.clear_system_prompt else ch.system_prompt)
    if ch.temperature is not None:
        put("temperature", ch.temperature)
    if ch.max_tokens is not None:
        put("max_tokens", ch.max_tokens)
    if ch.thinking_enabled is not None:
        put("thinking_enabled", int(ch.thinking_enabled))
    if ch.clear_provider or ch.provider_id is not None:
        put("provider_id", None if ch.clear_provider else ch.provider_id)
    if ch.clear_agent or ch.agent_id is not None:
        put("agent_id", None if ch.clear_agent else ch.agent_id)
    put("updated_at", now_us)
    cur = txn.execute(
        f"UPDATE studio_conversations SET {', '.join(sets)} WHERE id = ? AND owner_id = ?",
        [*params, conversation_id, owner],
    )
    if int(cur.rowcount) == 0:
        return None
    return get_conversation_txn(txn, owner, conversation_id)


def delete_conversation_txn(txn: Txn, owner: AccountId, conversation_id: str) -> bool:
    """Delete the owner's conversation and all its messages at once; False if not theirs."""
    cur = txn.execute(
        "DELETE FROM studio_conversations WHERE id = ? AND owner_id = ?", (conversation_id, owner)
    )
    if int(cur.rowcount) == 0:
        return False
    txn.execute("DELETE FROM studio_messages WHERE conversation_id = ?", (conversation_id,))
    return True


def append_studio_messages_txn(
    txn: Txn,
    owner: AccountId,
    conversation_id: str,
    messages: Sequence[NewMessage],
    *,
    now_us: int,
) -> list[StudioMessage] | None:
    """Store `messages` in order (one time, ordered by insertion) and bump the conversation's
    count and activity time, atomically; None (nothing written) if the conversation is not
    the owner's or was deleted meanwhile."""
    cur = txn.execute(
        "UPDATE studio_conversations SET message_count = message_count + ?,"
        " last_message_at = ?, updated_at = ? WHERE id = ? AND owner_id = ?",
        (len(messages), now_us, now_us, conversation_id, owner),
    )
    if int(cur.rowcount) == 0:
        return None
    stored: list[StudioMessage] = []
    for m in messages:
        calls = json.dumps(
            [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls],
            ensure_ascii=False,
        )
        txn.execute(
            "INSERT INTO studio_messages (id, conversation_id, role, content, tool_calls,"
            " tool_call_id, name, input_tokens, output_tokens, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                m.id,
                conversation_id,
                m.role.value,
                m.content,
                calls,
                m.tool_call_id,
                m.name,
                m.input_tokens,
                m.output_tokens,
                m.status.value,
                now_us,
            ),
        )
        stored.append(
            StudioMessage(
                id=m.id,
                conversation_id=conversation_id,
                role=m.role,
                content=m.content,
                tool_calls=m.tool_calls,
                tool_call_id=m.tool_call_id,
                name=m.name,
                input_tokens=m.input_tokens,
                output_tokens=m.output_tokens,
                status=m.status,
                created_at_us=now_us,
            )
        )
    return stored


def list_studio_messages_txn(
    txn: Txn, owner: AccountId, conversation_id: str, *, offset: int, limit: int
) -> tuple[list[StudioMessage], int] | None:
    """One page of the owner's conversation, oldest first, and the total; None if the
    conversation is not theirs."""
    if get_conversation_txn(txn, owner, conversation_id) is None:
        return None
    total = txn.execute(
        "SELECT COUNT(*) FROM studio_messages WHERE conversation_id = ?", (conversation_id,)
    ).fetchone()[0]
    rows = txn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM studio_messages m WHERE m.conversation_id = ?"
        " ORDER BY m.created_at, m.num LIMIT ? OFFSET ?",
        (conversation_id, limit, offset),
    ).fetchall()
    return [_message_from_row(r) for r in rows], int(total)


def recent_studio_messages_txn(
    txn: Txn, conversation_id: str, *, limit: int
) -> list[StudioMessage]:
    """The conversation's newest `limit` messages, oldest first (the caller has checked the
    conversation is the owner's)."""
    rows = txn.execute(
        f"SELECT {_MESSAGE_COLUMNS} FROM studio_messages m WHERE m.conversation_id = ?"
        " ORDER BY m.created_at DESC, m.num DESC LIMIT ?",
        (conversation_id, limit),
    ).fetchall()
    return [_message_from_row(r) for r in reversed(rows)]


def delete_studio_message_txn(txn: Txn, owner: AccountId, message_id: str) -> bool:
    """Delete one message of a conversation the owner holds (and count it out); False if
    there is no such message or it is in someone else's conversation."""
    row = txn.execute(
        "SELECT m.conversation_id FROM studio_messages m JOIN studio_conversations c"
        " ON c.id = m.conversation_id WHERE m.id = ? AND c.owner_id = ?",
        (message_id, owner),
    ).fetchone()
    if row is None:
        return False
    txn.execute("DELETE FROM studio_messages WHERE id = ?", (message_id,))
    txn.execute(
        "UPDATE studio_conversations SET message_count = message_count - 1 WHERE id = ?",
        (row[0],),
    )
    return True
