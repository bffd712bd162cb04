"""Reading and acknowledging an account's inbox (seq order, ack floor), and the retention purge.

See docs/streams.md for the seq / ack contract; rows are written by store/queries/messages.py."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import orjson

from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn
from agentplaza.store.queries.messages import ITEM_COLUMNS, MESSAGE_WIDTH, item_from_row
from agentplaza.store.records import InboxPage


def read_inbox_txn(
    txn: Txn, account: AccountId, *, after_seq: int, limit: int, unacked_only: bool
) -> InboxPage:
    """Inbox items with seq > after_seq, ascending, at most `limit`."""
    row = txn.execute(
        "SELECT last_seq, ack_floor FROM accounts WHERE id = ?", (account,)
    ).fetchone()
    head, floor = (int(row[0]), int(row[1])) if row else (0, 0)
    unacked = ""
    if unacked_only:
        unacked = " AND i.acked_at IS NULL"
        after_seq = max(after_seq, floor)  # nothing unacked at or below the floor
    rows = _item_rows(txn, f"i.account_id = ? AND i.seq > ?{unacked}", (account, after_seq, limit))
    return InboxPage(items=[item_from_row(r) for r in rows], head_seq=head)


def read_inbox_since_time_txn(
    txn: Txn, account: AccountId, *, since_us: int, limit: int
) -> InboxPage:
    """Inbox items created after `since_us`, ascending by seq, at most `limit`."""
    row = txn.execute("SELECT last_seq FROM accounts WHERE id = ?", (account,)).fetchone()
    head = int(row[0]) if row else 0
    rows = _item_rows(txn, "i.account_id = ? AND i.created_at > ?", (account, since_us, limit))
    return InboxPage(items=[item_from_row(r) for r in rows], head_seq=head)


_SEQ_AT = MESSAGE_WIDTH + 5  # i.seq in ITEM_COLUMNS


def _item_rows(txn: Txn, where: str, params: tuple[object, ...]) -> Sequence[Any]:
    """ITEM_COLUMNS of the inbox rows matching `where`, ascending by seq, LIMIT the last
    parameter. With `caps.json_group` they come back as one JSON text: a page of 100 is
    1,800 cells, and Python's sqlite3 hands the GIL to the event loop and waits to get it
    back around each one, so under load a page took several times as long as on an idle
    server (bench/README.md, issue 17's twelfth round)."""

    def select(columns: str) -> str:
        return (
            f"SELECT {columns} FROM inbox i JOIN messages m ON m.num = i.message_num"
            f" WHERE {where} ORDER BY i.seq LIMIT ?"
        )

    if not txn.caps.json_group:
        return txn.execute(select(ITEM_COLUMNS), params).fetchall()
    # Each row a JSON array, joined as text (json_group_array would quote them: a value from
    # a subquery is no longer JSON to it); NULL when no row matched.
    text = txn.execute(
        f"SELECT '[' || group_concat(j) || ']' FROM ({select(f'json_array({ITEM_COLUMNS}) j')})",
        params,
    ).fetchone()[0]
    rows: list[list[Any]] = orjson.loads(text) if text is not None else []
    rows.sort(key=itemgetter(_SEQ_AT))  # the order of an aggregate's input is not promised
    return rows


def ack_txn(txn: Txn, account: AccountId, message_id: str, *, now_us: int) -> bool:
    """Mark `account`'s inbox row for `message_id` acknowledged. Idempotent.

    Returns False if `account` never received that message.
    """
    # The row's seq by the primary key's prefix (message_num, account_id), then the row by
    # ux_inbox_account_seq: asked for account_id and message_num at once, SQLite's UPDATE
    # walked the account's whole inbox (when the key was (account_id, seq)).
    cur = txn.execute(
        "UPDATE inbox SET acked_at = ? WHERE account_id = ? AND seq IN (SELECT seq FROM inbox"
        " WHERE message_num = (SELECT num FROM messages WHERE id = ?) AND account_id = ?)"
        " AND acked_at IS NULL",
        (now_us, account, message_id, account),
    )
    if cur.rowcount > 0:
        _raise_ack_floor_txn(txn, account)
        return True
    row = txn.execute(
        "SELECT 1 FROM inbox WHERE account_id = ?"
        " AND message_num = (SELECT num FROM messages WHERE id = ?)",
        (account, message_id),
    ).fetchone()
    return row is not None


def ack_up_to_txn(txn: Txn, account: AccountId, seq: int, *, now_us: int) -> int:
    """Acknowledge every item with seq <= `seq`; returns how many changed."""
    cur = txn.execute(
        "UPDATE inbox SET acked_at = ? WHERE account_id = ? AND seq <= ? AND acked_at IS NULL"
        " AND seq > (SELECT ack_floor FROM accounts WHERE id = ?)",
        (now_us, account, seq, account),
    )
    if cur.rowcount > 0:
        _raise_ack_floor_txn(txn, account)
    return int(cur.rowcount)


def _raise_ack_floor_txn(txn: Txn, account: AccountId) -> None:
    """Move the account's ack floor up to just below its first unacked item, or to its last
    item when all are acked. It never passes an unacked row: both candidates are read from
    the inbox in this statement's snapshot, where seqs are a prefix (an account's seqs are
    allocated under its row lock and committed in order), and a row committed after the
    snapshot has a higher seq than any it holds. `last_seq` would not do: on PostgreSQL a
    concurrent send's new value is visible to this UPDATE's recheck, its inbox row not."""
    txn.execute(
        f"UPDATE accounts SET ack_floor = {txn.caps.greatest}(ack_floor, COALESCE("
        " (SELECT i.seq - 1 FROM inbox i WHERE i.account_id = accounts.id"
        "  AND i.seq > accounts.ack_floor AND i.acked_at IS NULL ORDER BY i.seq LIMIT 1),"
        " (SELECT MAX(i.seq) FROM inbox i WHERE i.account_id = accounts.id), 0))"
        " WHERE id = ?",
        (account,),
    )


def purge_txn(txn: Txn, *, acked_before_us: int, now_us: int, limit: int) -> int:
    """One chunk of the retention purge. Delete up to `limit` inbox rows acked before the
    cutoff, and the messages no inbox row references any more, and up to `limit`
    notifications created before the cutoff, read or not. Unacked rows are never deleted.
    Returns the larger of the two counts; fewer than `limit` means nothing is left to purge
    (expired sessions and idempotency keys are swept then too)."""
    rows = txn.execute(
        "SELECT account_id, seq, message_num FROM inbox"
        " WHERE acked_at IS NOT NULL AND acked_at < ? ORDER BY acked_at LIMIT ?",
        (acked_before_us, limit),
    ).fetchall()
    for account_id, seq, _ in rows:
        txn.execute("DELETE FROM inbox WHERE account_id = ? AND seq = ?", (account_id, seq))
    # A message goes with its last inbox row (a thread list then shows no preview for it).
    for num in {r[2] for r in rows}:
        txn.execute(
            "DELETE FROM messages WHERE num = ?"
            " AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.message_num = ?)",
            (num, num),
        )
    # Notifications are a courtesy copy of events whose state lives elsewhere (a pending
    # friend request stays pending), so they expire unread too: a group's announcements
    # cannot grow its members' tables forever. In created_at order, which its index serves
    # (in row order SQLite walked the whole table to find no expired row).
    notes = txn.execute(
        "DELETE FROM notifications WHERE num IN"
        " (SELECT num FROM notifications WHERE created_at < ? ORDER BY created_at LIMIT ?)",
        (acked_before_us, limit),
    ).rowcount
    if len(rows) < limit and notes < limit:  # the last chunk also sweeps the small tables
        txn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (acked_before_us,))
        # Given-up webhook deliveries stay visible to their owner for the retention period.
        txn.execute("DELETE FROM webhook_outbox WHERE failed_at < ?", (acked_before_us,))
        txn.execute("DELETE FROM sessions WHERE expires_at < ?", (now_us,))
    return max(len(rows), notes)
