"""Notification rows: insert (alone or inside a message's transaction), list, mark read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from agentplaza.domain.ids import AccountId, MessageId
from agentplaza.domain.notifications import NewNotification, Notification, NotificationCounts
from agentplaza.store.engine import Txn

COLUMNS = (
    "num, id, account_id, kind, actor_id, subject_id, summary, data, message_id, created_at,"
    " read_at"
)


def _from_row(row: Any) -> Notification:
    return Notification(
        num=row[0],
        id=row[1],
        account_id=AccountId(row[2]),
        kind=row[3],
        actor_id=AccountId(row[4]) if row[4] is not None else None,
        subject_id=row[5],
        summary=row[6],
        data=json.loads(row[7]),
        message_id=MessageId(row[8]) if row[8] is not None else None,
        created_at_us=row[9],
        read_at_us=row[10],
    )


def insert_notifications_txn(txn: Txn, notifications: Sequence[NewNotification]) -> None:
    """Store notifications that are not delivered through the inbox."""
    for n in notifications:
        txn.execute(
            "INSERT INTO notifications (id, account_id, kind, actor_id, subject_id, summary,"
            " data, message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                n.id,
                n.account_id,
                n.kind.value,
                n.actor_id,
                n.subject_id,
                n.summary,
                json.dumps(n.data, ensure_ascii=False, separators=(",", ":")),
                n.message_id,
                n.created_at_us,
            ),
        )


def list_notifications_txn(
    txn: Txn, account: AccountId, *, unread_only: bool, before_num: int | None, limit: int
) -> list[Notification]:
    """The account's notifications, newest first, with num < before_num."""
    unread = " AND read_at IS NULL" if unread_only else ""
    rows = txn.execute(
        f"SELECT {COLUMNS} FROM notifications WHERE account_id = ? AND num < ?{unread}"
        " ORDER BY num DESC LIMIT ?",
        (account, before_num if before_num is not None else 2**62, limit),
    ).fetchall()
    return [_from_row(r) for r in rows]


def get_notification_txn(txn: Txn, account: AccountId, notification_id: str) -> Notification | None:
    """One of the account's notifications, or None (another account's is None too)."""
    row = txn.execute(
        f"SELECT {COLUMNS} FROM notifications WHERE account_id = ? AND id = ?",
        (account, notification_id),
    ).fetchone()
    return _from_row(row) if row else None


def mark_read_txn(txn: Txn, account: AccountId, ids: Sequence[str] | None, *, now_us: int) -> int:
    """Mark `ids` (None: every unread one) read; returns how many changed."""
    if ids is None:
        cur = txn.execute(
            "UPDATE notifications SET read_at = ? WHERE account_id = ? AND read_at IS NULL",
            (now_us, account),
        )
        return int(cur.rowcount)
    changed = 0
    for notification_id in ids:
        cur = txn.execute(
            "UPDATE notifications SET read_at = ? WHERE account_id = ? AND id = ?"
            " AND read_at IS NULL",
            (now_us, account, notification_id),
        )
        changed += int(cur.rowcount)
    return changed


def notification_counts_txn(txn: Txn, account: AccountId) -> NotificationCounts:
    """Unread notifications and pending received friend requests, read together."""
    row = txn.execute(
        "SELECT (SELECT COUNT(*) FROM notifications WHERE account_id = ? AND read_at IS NULL),"
        " (SELECT COUNT(*) FROM friend_requests WHERE addressee_id = ?)",
        (account, account),
    ).fetchone()
    return NotificationCounts(unread=int(row[0]), pending_friend_requests=int(row[1]))
