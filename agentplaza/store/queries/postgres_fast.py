"""PostgreSQL's faster way to write a one-recipient message: one statement, not four.

Same effect as `messages.insert_message_txn` (the contract tests run both), written as one
data-modifying CTE, because on PostgreSQL every statement is a network round trip and a
thread wake-up: a DM went from 7 round trips to 4 (BEGIN, facts, this, COMMIT).
Messages with several recipients take the portable path, which locks the recipients' seq
counters in id order (a single UPDATE over many rows gives no such order).
"""

from __future__ import annotations

from collections.abc import Sequence

from agentplaza.domain.messages import DeliveryContext, InboxItem, Message
from agentplaza.store.base import Appended
from agentplaza.store.engine import Txn
from agentplaza.store.queries.messages import (
    insert_message_txn,
    remember_idempotency_key_txn,
)

INSERT_DIRECT = (
    "WITH m AS ("
    " INSERT INTO messages (id, sender_id, recipient_id, thread_id, reply_to, type, format, body,"
    " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING num),"
    " s AS (UPDATE accounts SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq),"
    " i AS (INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
    " sender_relation, trust_level, intent, created_at)"
    " SELECT ?::text, s.last_seq, m.num, ?::text, ?::text, ?::text, ?::text, ?::text,"
    " ?::bigint FROM m, s RETURNING seq),"
    " t AS (INSERT INTO thread_members (account_id, thread_id, peer_id, last_message_num,"
    " last_message_at) SELECT v.account_id, ?::text, v.peer_id, m.num, ?::bigint"
    " FROM m, (VALUES (?::text, ?::text), (?::text, ?::text)) AS v (account_id, peer_id)"
    " ON CONFLICT (account_id, thread_id) DO UPDATE"
    " SET last_message_num = excluded.last_message_num,"
    " last_message_at = excluded.last_message_at)"
    " SELECT i.seq FROM i"
)


def insert_message_txn_pg(
    txn: Txn,
    message: Message,
    deliveries: Sequence[DeliveryContext],
    idempotency_key: str | None,
) -> Appended:
    if len(deliveries) != 1 or message.recipient_id is None:
        return insert_message_txn(txn, message, deliveries, idempotency_key)
    [ctx] = deliveries
    # Thread rows in account order, as the portable path writes them (no A→B / B→A deadlock).
    first, second = sorted((message.sender_id, message.recipient_id))
    peer = {message.sender_id: message.recipient_id, message.recipient_id: message.sender_id}
    row = txn.execute(
        INSERT_DIRECT,
        (
            message.id,
            message.sender_id,
            message.recipient_id,
            message.thread_id,
            message.reply_to,
            message.type.value,
            message.format.value,
            message.body,
            message.created_at_us,
            ctx.recipient_id,
            ctx.recipient_id,
            message.id,
            ctx.scene.value,
            ctx.sender_relation,
            ctx.trust_level,
            ctx.intent,
            message.created_at_us,
            message.thread_id,
            message.created_at_us,
            first,
            peer[first],
            second,
            peer[second],
        ),
    ).fetchone()
    if row is None:  # the recipient's row vanished under the facts read: nothing was written
        raise RuntimeError(f"recipient {ctx.recipient_id} has no account row")
    if idempotency_key is not None:
        remember_idempotency_key_txn(txn, message, idempotency_key)
    item = InboxItem(message=message, context=ctx, seq=int(row[0]), acked=False)
    return Appended(message=message, items=(item,))
