"""PostgreSQL: several messages to one group in one statement (store/postgres_group_batching.py
gathers them).

Concurrent sends to one group serialize in PostgreSQL whatever the node does: each locks the
group's row and every member's `accounts` row (its next seq) until it commits, so five
senders to a group of 50 spent most of their time waiting on each other's row locks and
WAL flushes (`Lock:transactionid`, `Lock:tuple`, `IO:WALSync` in pg_stat_activity). The
gatherer sends one statement per group at a time; what arrives meanwhile goes in the next
one: one call of a PL/pgSQL function over a JSON array of the messages, which writes, for
each message whose sender's facts are still those it was decided on (the single path's
guard, `GROUP_FACTS_SAME_FN`, once per message), what the single statement writes
(postgres_group.py): the members' rows are locked and their seqs advanced once for the
batch, one commit, one WAL flush.

The batch carries distinct senders (each writes its own thread row once) and no message with
@mentions (their notifications take the transaction path). A member's seqs follow the
batch's order. A message whose facts changed, or whose idempotency key is already stored
(a replay), is not written (no row for it in the result): the single path takes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, Message, MessageType
from agentplaza.store.engine import Txn
from agentplaza.store.queries.messages import (
    MESSAGE_INSERT_COLUMNS,
    message_values,
    new_inbox_items,
)
from agentplaza.store.queries.postgres_fast import function_name
from agentplaza.store.queries.postgres_group import GROUP_FACTS_SAME_FN
from agentplaza.store.records import Appended


@dataclass(frozen=True, slots=True)
class BatchedGroupMessage:
    """A group message decided on its sender's remembered facts (`guard`: their parameters
    for GROUP_FACTS_SAME_FN, postgres_group._facts_params), written only if they still hold."""

    message: Message
    deliveries: tuple[DeliveryContext, ...]  # in recipient id order
    guard: list[Any]
    idempotency_key: str | None = None


_MESSAGE_COLUMNS = [c.strip() for c in MESSAGE_INSERT_COLUMNS.split(",")]
# Each message is one JSON array: the guard's 4 parameters, the message's columns, its
# idempotency key, whether it is a conversation message (not an event: the sender's thread
# row), then its deliveries, each [account id, scene, sender relation, trust level, intent].
_GUARD = 4
_KEY_AT = _GUARD + len(_MESSAGE_COLUMNS)
_THREAD_AT = _KEY_AT + 1
_DELIVERIES_AT = _THREAD_AT + 1


def _function_body() -> str:
    column = {name: f"(b.v ->> {_GUARD + n})" for n, name in enumerate(_MESSAGE_COLUMNS)}
    casts = {"created_at": "::bigint"}
    values = ", ".join(column[name] + casts.get(name, "") for name in _MESSAGE_COLUMNS)
    key = f"(b.v ->> {_KEY_AT})"
    return (
        "BEGIN RETURN QUERY"
        " WITH b AS (SELECT v, ord FROM jsonb_array_elements(p_batch) WITH ORDINALITY"
        " AS x (v, ord)),"
        # The guard first (it takes the group's lock); a stored key is a replay.
        f" g AS (SELECT b.v, b.ord, {column['id']} AS id, {column['sender_id']} AS sender_id,"
        f" {column['thread_id']} AS thread_id, {column['created_at']}::bigint AS created_at,"
        f" {key} AS idempotency_key FROM b"
        f" WHERE {GROUP_FACTS_SAME_FN}(b.v ->> 0, b.v ->> 1, (b.v ->> 2)::boolean, b.v ->> 3)"
        f" AND ({key} IS NULL OR NOT EXISTS (SELECT 1 FROM idempotency_keys k"
        f" WHERE k.sender_id = {column['sender_id']} AND k.key = {key}))),"
        f" m AS (INSERT INTO messages ({MESSAGE_INSERT_COLUMNS})"
        f" SELECT {values} FROM g b ORDER BY b.ord RETURNING num, id),"
        " w AS (SELECT g.*, m.num FROM g JOIN m ON m.id = g.id),"
        " d AS (SELECT w.ord, w.num, w.id, w.created_at, x ->> 0 AS account_id,"
        " x ->> 1 AS scene, x ->> 2 AS sender_relation, x ->> 3 AS trust_level,"
        f" x ->> 4 AS intent FROM w, jsonb_array_elements(w.v -> {_DELIVERIES_AT}) AS x),"
        # Each member's seqs, advanced once for the batch: rows locked in id order as in
        # messages._allocate_seqs_txn; a member's seqs in the batch's order.
        " c AS (SELECT d.account_id, count(*) AS n FROM d GROUP BY d.account_id),"
        " s AS (UPDATE accounts a SET last_seq = a.last_seq + c.n FROM (SELECT id FROM accounts"
        " WHERE id IN (SELECT c.account_id FROM c) ORDER BY id FOR UPDATE) locked, c"
        " WHERE a.id = locked.id AND c.account_id = a.id RETURNING a.id, a.last_seq - c.n"
        " AS before),"
        " i AS (INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
        " sender_relation, trust_level, intent, created_at) SELECT d.account_id,"
        " s.before + row_number() OVER (PARTITION BY d.account_id ORDER BY d.ord), d.num, d.id,"
        " d.scene, d.sender_relation, d.trust_level, d.intent, d.created_at"
        " FROM d JOIN s ON s.id = d.account_id"
        " RETURNING account_id, seq, message_id, created_at),"
        # The webhook outbox rows (docs/webhooks.md) of the members with an active webhook.
        " o AS (INSERT INTO webhook_outbox (account_id, message_id, seq, created_at, attempts,"
        " next_attempt_at) SELECT i.account_id, i.message_id, i.seq, i.created_at, 0,"
        " i.created_at FROM i JOIN webhooks wh ON wh.account_id = i.account_id"
        " AND wh.active = 1),"
        # Each sender's thread row (distinct senders: each row written once).
        " t AS (INSERT INTO thread_members (account_id, thread_id, peer_id, last_message_num,"
        " last_message_at) SELECT w.sender_id, w.thread_id, NULL, w.num, w.created_at FROM w"
        f" WHERE (w.v ->> {_THREAD_AT})::boolean ORDER BY w.sender_id"
        " ON CONFLICT (account_id, thread_id) DO UPDATE"
        " SET last_message_num = excluded.last_message_num,"
        " last_message_at = excluded.last_message_at),"
        " k AS (INSERT INTO idempotency_keys (sender_id, key, message_id, created_at)"
        " SELECT w.sender_id, w.idempotency_key, w.id, w.created_at FROM w"
        " WHERE w.idempotency_key IS NOT NULL),"
        " u AS (UPDATE groups SET last_message_num = last.num, last_message_at = last.created_at"
        " FROM (SELECT w.num, w.created_at FROM w ORDER BY w.ord DESC LIMIT 1) last"
        " WHERE groups.id = p_group)"
        " SELECT w.id, i.account_id, i.seq FROM w LEFT JOIN i ON i.message_id = w.id;"
        " END"
    )


_BODY = _function_body()
GROUP_BATCH_FN = function_name("agentplaza_group_batch_", _BODY)
GROUP_BATCH_DDL = (
    f"CREATE OR REPLACE FUNCTION {GROUP_BATCH_FN}(p_group text, p_batch jsonb)"
    " RETURNS TABLE (o_message_id text, o_account_id text, o_seq bigint)"
    # A generic plan: as for the DM batch (postgres_dm_batch.py), custom plans are re-made
    # at every call.
    " LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan"
    f" AS $fn$ {_BODY} $fn$"
)
"""Created by PostgresStore.start (derived from GROUP_FACTS_SAME_FN, not a migration)."""
_CALL_SQL = f"SELECT * FROM {GROUP_BATCH_FN}(?::text, ?::jsonb)"


def batch_json(batch: Sequence[BatchedGroupMessage]) -> str:
    """The function's argument: one JSON array per message (see `_GUARD` and after)."""
    rows = [
        [
            *entry.guard,
            *message_values(entry.message),
            entry.idempotency_key,
            entry.message.type is not MessageType.EVENT,
            [
                [d.recipient_id, d.scene.value, d.sender_relation, d.trust_level, d.intent]
                for d in entry.deliveries
            ],
        ]
        for entry in batch
    ]
    return orjson.dumps(rows).decode()


def append_group_batch_pg(
    txn: Txn, group_id: str, batch: Sequence[BatchedGroupMessage]
) -> list[Appended | None]:
    """Write each message of `batch` (all to `group_id`, distinct senders) whose facts still
    hold and whose key (if any) is new; None for the others (nothing written). Run in
    autocommit mode: the call is one atomic statement."""
    rows = txn.execute(_CALL_SQL, (group_id, batch_json(batch))).fetchall()
    written: dict[str, dict[AccountId, int]] = {}
    for message_id, account_id, seq in rows:
        seqs_of_message = written.setdefault(message_id, {})
        if account_id is not None:
            seqs_of_message[AccountId(account_id)] = int(seq)
    appended: list[Appended | None] = []
    for entry in batch:
        seqs = written.get(entry.message.id)
        if seqs is None:
            appended.append(None)
            continue
        items = new_inbox_items(entry.message, entry.deliveries, seqs)
        appended.append(Appended(message=entry.message, items=items))
    return appended
