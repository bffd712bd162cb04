"""The facts a direct message is decided on (domain/permissions.py `check_direct_message`):
friendship, blocks, the recipient's privacy setting and trust override, in one SELECT."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store.engine import Txn
from agentplaza.store.queries.outbox import RECIPIENT_HAS_WEBHOOK_SQL


def _facts_columns(recipient: str) -> str:
    """The facts about the sender (`?`) and `recipient` (SQL: `?` or a column)."""
    r = recipient
    return (
        f" CASE WHEN EXISTS (SELECT 1 FROM friendships WHERE account_id = {r} AND friend_id = ?)"
        " THEN 1 ELSE 0 END,"
        f" CASE WHEN EXISTS (SELECT 1 FROM blocks WHERE account_id = {r} AND blocked_id = ?)"
        f" OR EXISTS (SELECT 1 FROM blocks WHERE account_id = ? AND blocked_id = {r})"
        " THEN 1 ELSE 0 END,"
        f" COALESCE((SELECT who_can_message FROM account_settings WHERE account_id = {r}),"
        " 'everyone'),"
        f" (SELECT relation FROM trust_overrides WHERE account_id = {r} AND other_id = ?)"
    )


DIRECT_FACTS_SQL = (
    f"SELECT{_facts_columns('?')}, {RECIPIENT_HAS_WEBHOOK_SQL}"
    " FROM accounts WHERE id = ? AND deleted_at IS NULL"
)
"""One row holding every fact `check_direct_message` decides on (`facts_from_row`) and, last,
whether the recipient has an active webhook (the send then skips the outbox statement on
SQLite, the outbox CTE on PostgreSQL); no row when the recipient does not exist. Keep it one
SELECT: the PostgreSQL fast path (postgres_fast.py) re-runs it inside its insert and writes
only if it still returns the same row, so a new fact is guarded there without further
changes. Booleans are 0/1 integers so the guard compares the same types on both engines;
every lookup is a primary-key probe (friendships, blocks, settings, overrides, webhooks)."""


def direct_facts_params(sender: AccountId, recipient: AccountId) -> tuple[Any, ...]:
    """The parameters of DIRECT_FACTS_SQL."""
    return (
        *(recipient, sender),  # friendship (both directions are stored: one suffices)
        *(recipient, sender, sender, recipient),  # a block either way
        recipient,  # the recipient's who_can_message
        *(recipient, sender),  # the recipient's trust override for the sender
        recipient,  # the recipient's webhook
        recipient,
    )


def facts_from_row(sender: AccountId, recipient: AccountId, row: Any) -> DirectFacts:
    return DirectFacts(
        sender_id=sender,
        recipient_id=recipient,
        are_friends=bool(row[0]),
        blocked=bool(row[1]),
        who_can_message=row[2],
        trust_override=row[3],
    )


FACTS_CHUNK = 500  # recipients per statement, far below SQLite's parameter limit


def direct_facts_many_txn(
    txn: Txn, sender: AccountId, recipients: Sequence[AccountId]
) -> dict[AccountId, DirectFacts]:
    """The facts of `sender` messaging each of `recipients` (as DIRECT_FACTS_SQL, without the
    webhook), a statement per FACTS_CHUNK; live accounts only (a missing key is no such account)."""
    found: dict[AccountId, DirectFacts] = {}
    for start in range(0, len(recipients), FACTS_CHUNK):
        chunk = recipients[start : start + FACTS_CHUNK]
        rows = txn.execute(
            f"SELECT accounts.id,{_facts_columns('accounts.id')} FROM accounts"
            f" WHERE id IN ({', '.join('?' * len(chunk))}) AND deleted_at IS NULL",
            [sender, sender, sender, sender, *chunk],
        ).fetchall()
        for row in rows:
            recipient = AccountId(row[0])
            found[recipient] = facts_from_row(sender, recipient, row[1:])
    return found
