"""Studio chat rooms (0013): rooms, their agents (with the tokens each spent there), messages
numbered per room, and the floor's state and lease.

Message seqs come from `studio_rooms.last_seq`, bumped in the message's transaction (the
UPDATE locks the room row on PostgreSQL), so a room's seqs are gapless and commit in order.
The floor lease (`claim_floor_txn`) lets one node at a time run a room's agents.
"""

from __future__ import annotations

import json
from typing import Any

from agentplaza.domain.chat_rooms import ChatRoom, ChatRoomAgent, ChatRoomMessage, NewChatMessage
from agentplaza.domain.floor import FloorPolicy, FloorRules, FloorState, SenderType
from agentplaza.store.engine import Txn

ROOM_COLUMNS = (
    "id, owner_id, name, description, policy, max_consecutive_agent_turns, agent_token_budget,"
    " moderator_agent_id, floor_state, floor_seq, last_seq, created_at, updated_at,"
    " floor_lease_until"
)
MESSAGE_COLUMNS = (
    "id, room_id, seq, sender_type, sender_id, sender_name, content, tokens, created_at"
)


def _room_from(row: Any) -> ChatRoom:
    return ChatRoom(
        id=row[0],
        owner_id=row[1],
        name=row[2],
        description=row[3],
        rules=FloorRules(
            policy=FloorPolicy(row[4]),
            max_consecutive_agent_turns=int(row[5]),
            agent_token_budget=int(row[6]),
            moderator_agent_id=row[7],
        ),
        floor=FloorState.from_json(json.loads(row[8] or "{}")),
        floor_seq=int(row[9]),
        last_seq=int(row[10]),
        created_at_us=int(row[11]),
        updated_at_us=int(row[12]),
        floor_lease_until_us=None if row[13] is None else int(row[13]),
    )


def _message_from(row: Any) -> ChatRoomMessage:
    return ChatRoomMessage(
        id=row[0],
        room_id=row[1],
        seq=int(row[2]),
        sender_type=SenderType(row[3]),
        sender_id=row[4],
        sender_name=row[5],
        content=row[6],
        tokens=int(row[7]),
        created_at_us=int(row[8]),
    )


def create_room_txn(
    txn: Txn,
    room_id: str,
    owner_id: str,
    name: str,
    description: str,
    rules: FloorRules,
    agent_ids: list[str],
    *,
    now_us: int,
) -> ChatRoom:
    """The room and its first agents in one transaction."""
    txn.execute(
        "INSERT INTO studio_rooms (id, owner_id, name, description, policy,"
        " max_consecutive_agent_turns, agent_token_budget, moderator_agent_id, floor_state,"
        " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?, ?)",
        (
            room_id,
            owner_id,
            name,
            description,
            rules.policy.value,
            rules.max_consecutive_agent_turns,
            rules.agent_token_budget,
            rules.moderator_agent_id,
            now_us,
            now_us,
        ),
    )
    for i, agent_id in enumerate(dict.fromkeys(agent_ids)):
        # +i keeps the given order: agents are listed (and take FREE turns) by added_at.
        add_room_agent_txn(txn, room_id, agent_id, now_us=now_us + i)
    room = get_room_txn(txn, room_id)
    assert room is not None
    return room


def get_room_txn(txn: Txn, room_id: str) -> ChatRoom | None:
    """The room, or None if there is none (callers check ownership)."""
    row = txn.execute(
        f"SELECT {ROOM_COLUMNS} FROM studio_rooms WHERE id = ?", (room_id,)
    ).fetchone()
    return _room_from(row) if row else None


def list_rooms_txn(
    txn: Txn, owner_id: str, *, offset: int, limit: int
) -> tuple[list[ChatRoom], int]:
    """A page of the owner's rooms, newest first, and how many there are."""
    total = txn.execute(
        "SELECT COUNT(*) FROM studio_rooms WHERE owner_id = ?", (owner_id,)
    ).fetchone()[0]
    rows = txn.execute(
        f"SELECT {ROOM_COLUMNS} FROM studio_rooms WHERE owner_id = ?"
        " ORDER BY num DESC LIMIT ? OFFSET ?",
        (owner_id, limit, offset),
    ).fetchall()
    return [_room_from(r) for r in rows], int(total)


def update_room_txn(
    txn: Txn, room_id: str, name: str, description: str, rules: FloorRules, *, now_us: int
) -> ChatRoom | None:
    """Replace the room's name, description and floor rules; the updated room, or None if it
    is gone."""
    txn.execute(
        "UPDATE studio_rooms SET name = ?, description = ?, policy = ?,"
        " max_consecutive_agent_turns = ?, agent_token_budget = ?, moderator_agent_id = ?,"
        " updated_at = ? WHERE id = ?",
        (
            name,
            description,
            rules.policy.value,
            rules.max_consecutive_agent_turns,
            rules.agent_token_budget,
            rules.moderator_agent_id,
            now_us,
            room_id,
        ),
    )
    return get_room_txn(txn, room_id)


def delete_room_txn(txn: Txn, room_id: str) -> bool:
    """The room, its agents and its messages; False if there was no such room."""
    gone = txn.execute("DELETE FROM studio_rooms WHERE id = ?", (room_id,)).rowcount
    txn.execute("DELETE FROM studio_room_agents WHERE room_id = ?", (room_id,))
    txn.execute("DELETE FROM studio_room_messages WHERE room_id = ?", (room_id,))
    return gone > 0


def room_agents_txn(txn: Txn, room_id: str) -> list[ChatRoomAgent]:
    """The room's agents in the order they were added (live accounts only)."""
    rows = txn.execute(
        "SELECT r.room_id, r.agent_id, a.display_name, r.added_at, r.tokens_used"
        " FROM studio_room_agents r JOIN accounts a ON a.id = r.agent_id"
        " WHERE r.room_id = ? AND a.deleted_at IS NULL ORDER BY r.added_at, r.agent_id",
        (room_id,),
    ).fetchall()
    return [
        ChatRoomAgent(
            room_id=r[0], agent_id=r[1], name=r[2], added_at_us=int(r[3]), tokens_used=int(r[4])
        )
        for r in rows
    ]


def add_room_agent_txn(txn: Txn, room_id: str, agent_id: str, *, now_us: int) -> bool:
    """Add the agent (False if it was in the room already)."""
    return (
        txn.execute(
            "INSERT INTO studio_room_agents (room_id, agent_id, added_at) VALUES (?, ?, ?)"
            " ON CONFLICT (room_id, agent_id) DO NOTHING",
            (room_id, agent_id, now_us),
        ).rowcount
        > 0
    )


def remove_room_agent_txn(txn: Txn, room_id: str, agent_id: str) -> bool:
    """Take the agent out of the room; False if it was not in it."""
    return (
        txn.execute(
            "DELETE FROM studio_room_agents WHERE room_id = ? AND agent_id = ?",
            (room_id, agent_id),
        ).rowcount
        > 0
    )


def append_room_message_txn(
    txn: Txn, room_id: str, message_id: str, new: NewChatMessage, *, now_us: int
) -> ChatRoomMessage | None:
    """Store a message under the room's next seq (committed on return); an agent's tokens are
    added to what it spent in the room. None if the room is gone."""
    row = txn.execute(
        "UPDATE studio_rooms SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
        (room_id,),
    ).fetchone()
    if row is None:
        return None
    seq = int(row[0])
    txn.execute(
        f"INSERT INTO studio_room_messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            message_id,
            room_id,
            seq,
            new.sender_type.value,
            new.sender_id,
            new.sender_name,
            new.content,
            new.tokens,
            now_us,
        ),
    )
    if new.sender_type is SenderType.AGENT and new.tokens:
        add_room_tokens_txn(txn, room_id, new.sender_id, new.tokens)
    return ChatRoomMessage(
        id=message_id,
        room_id=room_id,
        seq=seq,
        sender_type=new.sender_type,
        sender_id=new.sender_id,
        sender_name=new.sender_name,
        content=new.content,
        tokens=new.tokens,
        created_at_us=now_us,
    )


def add_room_tokens_txn(txn: Txn, room_id: str, agent_id: str, tokens: int) -> None:
    """Count tokens an agent spent in the room (also for a turn that failed half way)."""
    txn.execute(
        "UPDATE studio_room_agents SET tokens_used = tokens_used + ?"
        " WHERE room_id = ? AND agent_id = ?",
        (tokens, room_id, agent_id),
    )


def room_messages_txn(
    txn: Txn, room_id: str, *, offset: int, limit: int
) -> tuple[list[ChatRoomMessage], int]:
    """A page of messages counted from the newest (offset 0 = the newest `limit`), returned
    oldest first, and the room's message count."""
    total = txn.execute(
        "SELECT COUNT(*) FROM studio_room_messages WHERE room_id = ?", (room_id,)
    ).fetchone()[0]
    rows = txn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM studio_room_messages WHERE room_id = ?"
        " ORDER BY seq DESC LIMIT ? OFFSET ?",
        (room_id, limit, offset),
    ).fetchall()
    return [_message_from(r) for r in reversed(rows)], int(total)


def messages_after_txn(
    txn: Txn, room_id: str, after_seq: int, *, limit: int
) -> list[ChatRoomMessage]:
    """Messages with seq > `after_seq`, oldest first."""
    rows = txn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM studio_room_messages WHERE room_id = ? AND seq > ?"
        " ORDER BY seq LIMIT ?",
        (room_id, after_seq, limit),
    ).fetchall()
    return [_message_from(r) for r in rows]


def claim_floor_txn(
    txn: Txn, room_id: str, node: str, *, now_us: int, lease_us: int
) -> ChatRoom | None:
    """Take (or renew) the room's floor lease for `node` until now + lease_us; the room if
    this node holds it now, None if another node's lease is live (or no such room)."""
    claimed = txn.execute(
        "UPDATE studio_rooms SET floor_lease_owner = ?, floor_lease_until = ? WHERE id = ?"
        " AND (floor_lease_owner IS NULL OR floor_lease_owner = ? OR floor_lease_until < ?)",
        (node, now_us + lease_us, room_id, node, now_us),
    ).rowcount
    return get_room_txn(txn, room_id) if claimed else None


def save_floor_txn(
    txn: Txn, room_id: str, node: str, state: FloorState, floor_seq: int, *, now_us: int
) -> bool:
    """Store the floor's state and the last seq it answered, only while `node` holds the
    lease (False: it lost it, and must stop running the room's agents)."""
    return (
        txn.execute(
            "UPDATE studio_rooms SET floor_state = ?, floor_seq = ?, paused = ?,"
            " pause_reason = ?, updated_at = ? WHERE id = ? AND floor_lease_owner = ?",
            (
                json.dumps(state.to_json(), separators=(",", ":")),
                floor_seq,
                1 if state.paused else 0,
                state.pause_reason.value if state.pause_reason else None,
                now_us,
                room_id,
                node,
            ),
        ).rowcount
        > 0
    )


def release_floor_txn(txn: Txn, room_id: str, node: str) -> None:
    """Give the room's floor lease back, if `node` still holds it (else nothing changes)."""
    txn.execute(
        "UPDATE studio_rooms SET floor_lease_owner = NULL, floor_lease_until = NULL"
        " WHERE id = ? AND floor_lease_owner = ?",
        (room_id, node),
    )
