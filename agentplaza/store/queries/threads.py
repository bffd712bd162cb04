"""Reading threads: each account's thread list (thread_members) and a thread's history.

Rows are written with the message (store/queries/messages.py::touch_threads_txn).
"""

from __future__ import annotations

from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import Message
from agentplaza.store.engine import Txn
from agentplaza.store.queries.messages import MESSAGE_COLUMNS, message_from_row
from agentplaza.store.records import ThreadSummary


def find_thread_peer_txn(txn: Txn, account: AccountId, thread_id: ThreadId) -> AccountId | None:
    """The other participant of `account`'s DM thread `thread_id`, or None."""
    row = txn.execute(
        "SELECT peer_id FROM thread_members WHERE account_id = ? AND thread_id = ?",
        (account, thread_id),
    ).fetchone()
    return AccountId(row[0]) if row and row[0] is not None else None


def list_threads_txn(txn: Txn, account: AccountId, *, limit: int) -> list[ThreadSummary]:
    """The account's threads, most recent message first."""
    rows = txn.execute(
        f"SELECT t.thread_id, t.peer_id, t.last_message_at, {MESSAGE_COLUMNS}"
        " FROM thread_members t LEFT JOIN messages m ON m.num = t.last_message_num"
        " WHERE t.account_id = ? ORDER BY t.last_message_at DESC, t.last_message_num DESC LIMIT ?",
        (account, limit),
    ).fetchall()
    return [
        ThreadSummary(
            thread_id=ThreadId(r[0]),
            peer_id=AccountId(r[1]) if r[1] is not None else None,
            last_message_at_us=r[2],
            last_message=message_from_row(r[3:]) if r[3] is not None else None,
        )
        for r in rows
    ]


def read_thread_txn(
    txn: Txn, account: AccountId, thread_id: ThreadId, *, before_num: int | None, limit: int
) -> list[tuple[int, Message]] | None:
    """Messages of a thread `account` takes part in, newest first, with their row numbers.

    None if `account` is not a participant (indistinguishable from "no such thread").
    """
    member = txn.execute(
        "SELECT 1 FROM thread_members WHERE account_id = ? AND thread_id = ?", (account, thread_id)
    ).fetchone()
    if member is None:
        return None
    rows = txn.execute(
        f"SELECT m.num, {MESSAGE_COLUMNS} FROM messages m WHERE m.thread_id = ? AND m.num < ?"
        " ORDER BY m.num DESC LIMIT ?",
        (thread_id, before_num if before_num is not None else 2**62, limit),
    ).fetchall()
    return [(r[0], message_from_row(r[1:])) for r in rows]
