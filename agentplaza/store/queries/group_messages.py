"""A group's messages: the send (lock the group, read its members, decide, fan out) and the
history. Unknown, disbanded and (for non-members) private groups raise NotFound
`group_not_found` alike."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import orjson

from agentplaza.domain.groups import (
    GroupDecision,
    GroupRole,
    GroupSendFacts,
    MemberFacts,
    require_member,
)
from agentplaza.domain.ids import AccountId, MessageId
from agentplaza.domain.messages import Message
from agentplaza.store.engine import Txn
from agentplaza.store.queries.groups import get_group_txn, not_found
from agentplaza.store.queries.messages import (
    MESSAGE_COLUMNS,
    insert_message_txn,
    message_from_row,
    replay_txn,
)
from agentplaza.store.queries.notifications import insert_notifications_txn
from agentplaza.store.records import Appended

GroupDecide = Callable[[GroupSendFacts], GroupDecision]


def read_group_messages_txn(
    txn: Txn, group_id: str, viewer: AccountId, *, before_num: int | None, limit: int
) -> list[tuple[int, Message]]:
    """The group's messages, newest first, with row numbers; members only."""
    found = get_group_txn(txn, group_id, viewer)
    if found is None:
        raise not_found()
    group, member = found
    require_member(member.role if member else None, is_public=group.is_public)
    rows = txn.execute(
        f"SELECT m.num, {MESSAGE_COLUMNS} FROM messages m WHERE m.thread_id = ? AND m.num < ?"
        " AND m.recipient_id IS NULL ORDER BY m.num DESC LIMIT ?",
        (group_id, before_num if before_num is not None else 2**62, limit),
    ).fetchall()
    return [(r[0], message_from_row(r[1:])) for r in rows]


_SEND_FACTS_COLUMNS = (
    "gm.account_id, gm.role, gm.muted_until, f.friend_id IS NOT NULL, t.relation,"
    " b.blocked_id IS NOT NULL"
)
_SEND_FACTS_FROM = (
    " FROM group_members gm"
    " LEFT JOIN friendships f ON f.account_id = gm.account_id AND f.friend_id = ?"
    " LEFT JOIN trust_overrides t ON t.account_id = gm.account_id AND t.other_id = ?"
    " LEFT JOIN blocks b ON b.account_id = gm.account_id AND b.blocked_id = ?"
    " WHERE gm.group_id = ?"
    " AND (SELECT a.deleted_at IS NULL FROM accounts a WHERE a.id = gm.account_id)"
)
SEND_FACTS_SQL = f"SELECT {_SEND_FACTS_COLUMNS}{_SEND_FACTS_FROM}"
"""The facts of a group send: parameters sender ×3, then the group. PostgreSQL's
`postgres_group.GROUP_FACTS_SAME_FN` is built from this text (keep the parameter order).
Live members only, by a subquery per member rather than a join with `accounts`: on tables
PostgreSQL has not analyzed (autovacuum off, as on the test machine) its generic plan
joined every member with a scan of all accounts (members × accounts comparisons). The
subquery is one probe of accounts' id index per member whatever the statistics: this query,
50 members, 300 accounts, 8.4 M → 0.8 M instructions (callgrind, issue 17)."""
SEND_FACTS_JSON_SQL = (
    f"SELECT json_group_array(json_array({_SEND_FACTS_COLUMNS})){_SEND_FACTS_FROM}"
)
"""SEND_FACTS_SQL's rows as one JSON text (`caps.json_group`): a 50-member group's 300 cells,
read one by one, cost ~43 µs in a standalone loop, the text ~20 (bench/README.md, issue 17's
twelfth round)."""


def append_group_message_txn(
    txn: Txn, message: Message, *, decide: GroupDecide, idempotency_key: str | None
) -> Appended:
    """Store a group message (thread_id = group id) and one inbox row per delivery.

    In one transaction: lock the group, read its members with each one's relation to the
    sender, call `decide` (pure; raises to refuse: not a member, muted), write the message,
    the inbox rows (each member's next gapless seq) and the notifications it returns. The
    members are read after the lock, so the fan-out reaches exactly the members at commit
    time. Returns after COMMIT; a replayed idempotency key returns the first message."""
    if idempotency_key is not None:
        replayed = replay_txn(txn, message.sender_id, idempotency_key)
        if replayed is not None:
            return replayed
    # With one writer at a time (SQLite) no webhook can be registered between this read and
    # COMMIT, so a group none of whose members has one skips the outbox statement (~50 µs of
    # a 50-member send, issue 17); with concurrent writers the outbox join always runs.
    facts, any_webhook = _lock_group_txn(txn, message, webhooks=not txn.caps.row_locks)
    deliveries, notifications = decide(facts)
    appended = insert_message_txn(txn, message, deliveries, idempotency_key, outbox=any_webhook)
    insert_notifications_txn(txn, notifications)
    txn.execute(
        "UPDATE groups SET last_message_num = (SELECT num FROM messages WHERE id = ?) WHERE id = ?",
        (MessageId(message.id), message.thread_id),
    )
    return appended


def lock_group_for_send_txn(txn: Txn, message: Message) -> GroupSendFacts:
    """Lock the live group (404 if gone), then read what the send is decided on. Two
    statements: the facts' snapshot is taken once the lock is held, so it sees every
    membership change committed before this send."""
    return _lock_group_txn(txn, message, webhooks=False)[0]


_LOCK_GROUP_SQL = (
    "UPDATE groups SET last_message_at = ? WHERE id = ? AND deleted_at IS NULL RETURNING is_public"
)
LOCK_GROUP_WEBHOOKS_SQL = (
    f"{_LOCK_GROUP_SQL}, EXISTS (SELECT 1 FROM group_members gm JOIN webhooks w"
    " ON w.account_id = gm.account_id AND w.active = 1 WHERE gm.group_id = groups.id)"
)
"""The lock, also telling whether any member has an active webhook (OUTBOX_FROM_INBOX_SQL's
join for the group's members)."""


def _lock_group_txn(txn: Txn, message: Message, *, webhooks: bool) -> tuple[GroupSendFacts, bool]:
    """lock_group_for_send_txn, and (`webhooks`) whether any member has an active webhook
    (always True when not asked)."""
    group_id = message.thread_id
    locked = txn.execute(
        LOCK_GROUP_WEBHOOKS_SQL if webhooks else _LOCK_GROUP_SQL,
        (message.created_at_us, group_id),
    ).fetchone()
    if locked is None:
        raise not_found()
    sender = message.sender_id
    params = (sender, sender, sender, group_id)
    if txn.caps.json_group:
        text = txn.execute(SEND_FACTS_JSON_SQL, params).fetchone()[0]
        members = _members(text, lambda: orjson.loads(text))
    else:
        rows = tuple(txn.execute(SEND_FACTS_SQL, params).fetchall())
        members = _members(rows, lambda: rows)
    facts = GroupSendFacts(
        group_id=group_id, is_public=bool(locked[0]), sender_id=sender, members=members
    )
    return facts, bool(locked[1]) if webhooks else True


_MEMBERS_MEMO: dict[Hashable, tuple[MemberFacts, ...]] = {}
MEMBERS_MEMO_MAX = 20_000
"""Members (over all the fact sets) the memo holds, ~250 bytes each; past it, it starts over."""
_memo_members = 0


def _members(read: Hashable, parse: Callable[[], Sequence[Any]]) -> tuple[MemberFacts, ...]:
    """The MemberFacts of SEND_FACTS_SQL's rows, memoized by what was `read` (the rows, or
    their JSON text), parsed into rows only when it was not seen before.

    The key is everything just read in this transaction, so a hit is exactly what building
    them would give (nothing is cached across a change: a changed fact is a different key).
    It saves building 50 frozen dataclasses per 50-member send when the group is unchanged."""
    global _memo_members
    members = _MEMBERS_MEMO.get(read)
    if members is None:
        rows = parse()
        members = tuple(
            MemberFacts(
                account_id=AccountId(r[0]),
                role=GroupRole(r[1]),
                muted_until_us=r[2],
                is_friend=bool(r[3]),
                override=r[4],
                blocks_sender=bool(r[5]),
            )
            for r in rows
        )
        if _memo_members + len(rows) > MEMBERS_MEMO_MAX:
            _MEMBERS_MEMO.clear()
            _memo_members = 0
        _MEMBERS_MEMO[read] = members
        _memo_members += len(rows)
    return members
