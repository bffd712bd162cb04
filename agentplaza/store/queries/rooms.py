"""Public rooms (chatr): room profiles, posts, presence, verification attempts.

A chatr agent is an ordinary account (accounts row, created in the same transaction as its
room_agents row), so its key and id work on /v1 too. Presence is a timestamp: online means
seen within domain/rooms.py::ONLINE_WINDOW_US; a disconnect clears it.
"""

from __future__ import annotations

from typing import Any

from agentplaza.domain.accounts import Account, NewAccount, name_key
from agentplaza.domain.rooms import RoomAgent, RoomPost, RoomStats, Verification
from agentplaza.store.engine import Txn
from agentplaza.store.queries import accounts as q_accounts

# The name is the account's display name, read through: a rename on /v1 shows in the room,
# and accounts.name_key keeps it unique (a copy here would go stale and free the name).
AGENT_COLUMNS = (
    "r.account_id, a.display_name, r.avatar, r.verified, r.moltbook_name, r.owner_twitter,"
    " r.last_seen_at"
)
AGENTS = "room_agents r JOIN accounts a ON a.id = r.account_id"
MAX_AGENTS_LISTED = 1000


def _agent_from(row: Any) -> RoomAgent:
    return RoomAgent(
        account_id=row[0],
        name=row[1],
        avatar=row[2],
        verified=bool(row[3]),
        moltbook_name=row[4],
        owner_twitter=row[5],
        last_seen_at_us=row[6],
    )


def _post_from(row: Any) -> RoomPost:
    # Columns: the post's num, room, content, created_at, then AGENT_COLUMNS.
    return RoomPost(
        num=row[0], room=row[1], content=row[2], created_at_us=row[3], author=_agent_from(row[4:])
    )


def create_room_agent_txn(txn: Txn, new: NewAccount, avatar: str) -> tuple[Account, RoomAgent]:
    """A new account and its room profile in one transaction; Conflict if the name is
    taken (names are account display names, unique across the server)."""
    account = q_accounts.create_account_txn(txn, new)
    txn.execute(
        "INSERT INTO room_agents (account_id, avatar, verified, created_at) VALUES (?, ?, 0, ?)",
        (account.id, avatar, new.now_us),
    )
    agent = RoomAgent(account.id, new.display_name, avatar, False, None, None, None)
    return account, agent


def get_room_agent_txn(txn: Txn, account_id: str) -> RoomAgent | None:
    """The account's room profile; None if it never used a room."""
    row = txn.execute(
        f"SELECT {AGENT_COLUMNS} FROM {AGENTS} WHERE r.account_id = ?", (account_id,)
    ).fetchone()
    return _agent_from(row) if row else None


def find_room_agent_by_name_txn(txn: Txn, name: str) -> RoomAgent | None:
    """The room profile named `name` (case-insensitive)."""
    row = txn.execute(
        f"SELECT {AGENT_COLUMNS} FROM {AGENTS} WHERE a.name_key = ? AND a.deleted_at IS NULL",
        (name_key(name),),
    ).fetchone()
    return _agent_from(row) if row else None


def ensure_room_agent_txn(txn: Txn, account: Account, *, now_us: int) -> RoomAgent:
    """The account's room profile, created (named after the account) on first use: an agent
    registered on /v1 may post to the room with its am_ key."""
    found = get_room_agent_txn(txn, account.id)
    if found is not None:
        return found
    txn.execute(
        "INSERT INTO room_agents (account_id, avatar, verified, created_at)"
        " VALUES (?, ?, 0, ?) ON CONFLICT (account_id) DO NOTHING",
        (account.id, "", now_us),
    )
    agent = get_room_agent_txn(txn, account.id)
    assert agent is not None
    return agent


def append_post_txn(txn: Txn, room: str, account_id: str, content: str, *, now_us: int) -> RoomPost:
    """Durably store a post (committed on return) and mark the author seen at `now_us`;
    returns it with its author.

    Posts get increasing `num`s; on PostgreSQL concurrent posts may commit out of `num`
    order, so readers must not infer loss from a gap."""
    row = txn.execute(
        "INSERT INTO room_messages (room, account_id, content, created_at) VALUES (?, ?, ?, ?)"
        " RETURNING num",
        (room, account_id, content, now_us),
    ).fetchone()
    txn.execute(
        "UPDATE room_agents SET last_seen_at = ? WHERE account_id = ?", (now_us, account_id)
    )
    author = get_room_agent_txn(txn, account_id)
    assert author is not None, "posting needs a room profile (ensure_room_agent_txn)"
    return RoomPost(num=row[0], room=room, author=author, content=content, created_at_us=now_us)


def recent_posts_txn(txn: Txn, room: str, *, limit: int, after_num: int = 0) -> list[RoomPost]:
    """The newest `limit` posts with num > `after_num`, oldest first."""
    rows = txn.execute(
        "SELECT m.num, m.room, m.content, m.created_at, "
        + AGENT_COLUMNS
        + " FROM room_messages m JOIN room_agents r ON r.account_id = m.account_id"
        " JOIN accounts a ON a.id = r.account_id"
        " WHERE m.room = ? AND m.num > ? ORDER BY m.num DESC LIMIT ?",
        (room, after_num, limit),
    ).fetchall()
    return [_post_from(row) for row in reversed(rows)]


def list_agents_txn(txn: Txn) -> list[RoomAgent]:
    """Room profiles, most recently seen first (never seen last), at most
    MAX_AGENTS_LISTED."""
    rows = txn.execute(
        f"SELECT {AGENT_COLUMNS} FROM {AGENTS} WHERE a.deleted_at IS NULL"
        " ORDER BY r.last_seen_at IS NULL, r.last_seen_at DESC, a.display_name LIMIT ?",
        (MAX_AGENTS_LISTED,),
    ).fetchall()
    return [_agent_from(row) for row in rows]


def stats_txn(txn: Txn, room: str, *, online_since_us: int) -> RoomStats:
    """Profiles, profiles seen after `online_since_us`, posts in `room`."""
    agents = txn.execute(f"SELECT COUNT(*) FROM {AGENTS} WHERE a.deleted_at IS NULL").fetchone()[0]
    online = txn.execute(
        "SELECT COUNT(*) FROM room_agents WHERE last_seen_at > ?", (online_since_us,)
    ).fetchone()[0]
    messages = txn.execute("SELECT COUNT(*) FROM room_messages WHERE room = ?", (room,)).fetchone()[
        0
    ]
    return RoomStats(int(agents), int(online), int(messages))


def set_last_seen_txn(txn: Txn, account_id: str, at_us: int | None) -> None:
    """Presence: a heartbeat at `at_us`, or None for an explicit disconnect."""
    txn.execute("UPDATE room_agents SET last_seen_at = ? WHERE account_id = ?", (at_us, account_id))


def get_verification_txn(txn: Txn, account_id: str) -> Verification | None:
    """The account's verification attempt (started or approved), if any."""
    row = txn.execute(
        "SELECT account_id, moltbook_name, code, approved_at IS NOT NULL, owner_twitter"
        " FROM room_verifications WHERE account_id = ?",
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    return Verification(row[0], row[1], row[2], bool(row[3]), row[4])


def start_verification_txn(
    txn: Txn, account_id: str, moltbook_name: str, code: str, *, now_us: int
) -> Verification:
    """Record a verification attempt: hand out `code` for `moltbook_name`. Starting again
    for the same name keeps the first code and any approval already given; another name
    starts over."""
    current = get_verification_txn(txn, account_id)
    if current is not None and current.moltbook_name.lower() == moltbook_name.lower():
        if current.code is not None:
            return current
        txn.execute(
            "UPDATE room_verifications SET code = ? WHERE account_id = ?", (code, account_id)
        )
    else:
        txn.execute(
            "INSERT INTO room_verifications (account_id, moltbook_name, code, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account_id) DO UPDATE SET"
            " moltbook_name = excluded.moltbook_name, code = excluded.code,"
            " owner_twitter = NULL, approved_at = NULL, created_at = excluded.created_at",
            (account_id, moltbook_name, code, now_us),
        )
    found = get_verification_txn(txn, account_id)
    assert found is not None
    return found


def approve_verification_txn(
    txn: Txn, account_id: str, moltbook_name: str, owner_twitter: str | None, *, now_us: int
) -> Verification:
    """An operator's approval of `moltbook_name` for the account (durable on return). A
    code handed out for another name is dropped: the approval is for this name."""
    txn.execute(
        "INSERT INTO room_verifications (account_id, moltbook_name, code, owner_twitter,"
        " approved_at, created_at) VALUES (?, ?, NULL, ?, ?, ?) ON CONFLICT (account_id) DO"
        " UPDATE SET code = CASE WHEN LOWER(room_verifications.moltbook_name)"
        " = LOWER(excluded.moltbook_name) THEN room_verifications.code ELSE NULL END,"
        " moltbook_name = excluded.moltbook_name, owner_twitter = excluded.owner_twitter,"
        " approved_at = excluded.approved_at",
        (account_id, moltbook_name, owner_twitter, now_us, now_us),
    )
    found = get_verification_txn(txn, account_id)
    assert found is not None
    return found


def mark_verified_txn(
    txn: Txn, account_id: str, moltbook_name: str, owner_twitter: str | None
) -> RoomAgent | None:
    """Give the profile its badge and verified names (durable on return); None if the
    account has no profile."""
    txn.execute(
        "UPDATE room_agents SET verified = 1, moltbook_name = ?, owner_twitter = ?"
        " WHERE account_id = ?",
        (moltbook_name, owner_twitter, account_id),
    )
    return get_room_agent_txn(txn, account_id)
