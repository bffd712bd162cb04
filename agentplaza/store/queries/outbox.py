"""The webhook outbox rows a message's transaction writes (docs/webhooks.md).

Its own module so store/queries/messages.py (the writer) and store/queries/webhooks.py (the
worker's queries, which read messages) do not import each other.
"""

from __future__ import annotations

from agentplaza.store.engine import Txn

OUTBOX_FROM_INBOX_SQL = (
    "INSERT INTO webhook_outbox (account_id, message_id, seq, created_at, attempts,"
    " next_attempt_at) SELECT i.account_id, i.message_id, i.seq, i.created_at, 0, i.created_at"
    " FROM inbox i JOIN webhooks w ON w.account_id = i.account_id AND w.active = 1"
    " WHERE i.message_num = ?"
)
"""One outbox row per inbox row of message `num` whose owner has an active webhook: one
statement whatever the fan-out (the inbox rows by their primary key's prefix, `message_num`,
then one primary-key probe of `webhooks` each)."""


RECIPIENT_HAS_WEBHOOK_SQL = "EXISTS (SELECT 1 FROM webhooks WHERE account_id = ? AND active = 1)"
"""A column (0/1) telling whether account `?` has an active webhook: OUTBOX_FROM_INBOX_SQL's
join for one recipient. A DM reads it with its facts, in the same write transaction, and
skips the outbox statement when it is 0 (most recipients have no webhook)."""


def insert_outbox_for_message_txn(txn: Txn, message_num: int) -> None:
    """Call after the message's inbox rows are written, in the same transaction."""
    txn.execute(OUTBOX_FROM_INBOX_SQL, (message_num,))
