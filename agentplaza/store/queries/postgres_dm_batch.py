"""PostgreSQL: several direct messages in one statement (store/postgres_batching.py gathers
them).

A DM's guarded statement (postgres_fast.py) costs PostgreSQL 325–350 µs of CPU, most of it
fixed per statement (executor start-up over the tables and indexes it writes, the commit):
the same writes for N DMs at once cost it 145–180 µs per DM at 5 and 122–150 at 10, and the
node's CPU per DM falls with the round trips (`bench/pg_dm_batch.py`, bench/README.md). The batch
is one call of a PL/pgSQL function over a JSON array of the DMs, which writes, for each DM
whose facts are still those it was decided on, what the single statement writes. A DM whose
facts changed is not written (no row for it in the result) and takes the single path.

The function runs its statement with a generic plan (`plan_cache_mode` on the function):
under the default mode PostgreSQL re-planned it at every call (the batch's size is in a
parameter, so each custom plan looked cheaper), 2–3× its CPU.

The batch carries no recipient with an active webhook (the single path writes its outbox
row), and distinct recipients, threads and idempotency keys (the gatherer's rule): each
recipient's seq is its `last_seq + 1`, each thread row and key is written once. A DM whose
key is already stored is a replay: not written here, the single path answers it. Rows are
locked in the order the single path locks them (accounts by id, then thread rows by
account), so concurrent batches and single sends queue on a row instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Message
from agentplaza.store.engine import Txn
from agentplaza.store.queries.direct_facts import DIRECT_FACTS_SQL, direct_facts_params
from agentplaza.store.queries.messages import MESSAGE_INSERT_COLUMNS, message_values, replay_txn
from agentplaza.store.queries.postgres_fast import function_name, insert_direct_guarded
from agentplaza.store.records import Appended


@dataclass(frozen=True, slots=True)
class BatchedDirect:
    """A DM decided on remembered facts (`facts`: its DIRECT_FACTS_SQL row), to be written
    only if they still hold."""

    message: Message
    context: DeliveryContext
    facts: tuple[Any, ...]
    idempotency_key: str | None = None


_MESSAGE_FIELDS = len(MESSAGE_INSERT_COLUMNS.split(","))  # what message_values returns
_CONTEXT_FIELDS = 4  # scene, sender_relation, trust_level, intent
_KEY_AT = _MESSAGE_FIELDS + _CONTEXT_FIELDS  # then the idempotency key, then the facts


def _facts_of_each(sender: str, recipient: str) -> str:
    """DIRECT_FACTS_SQL with its parameters replaced by the batch's columns."""
    names = direct_facts_params(AccountId(sender), AccountId(recipient))
    parts = DIRECT_FACTS_SQL.split("?")
    assert len(parts) == len(names) + 1, "DIRECT_FACTS_SQL and its parameters disagree"
    return parts[0] + "".join(name + part for name, part in zip(names, parts[1:], strict=True))


def _function_body(fact_columns: int, *, keys: bool) -> str:
    """`keys`: the variant for batches where some DM has an idempotency key (it writes the
    keys; without them that CTE would still cost its executor set-up, postgres_fast.py)."""
    message_columns = [c.strip() for c in MESSAGE_INSERT_COLUMNS.split(",")]
    # Each DM is one JSON array: the message's columns, its context, its key, its facts.
    casts = {"created_at": "::bigint"}
    b_columns = ", ".join(
        f"(v ->> {n}){casts.get(name, '')} AS {name}" for n, name in enumerate(message_columns)
    )
    b_columns += ", " + ", ".join(
        f"v ->> {_MESSAGE_FIELDS + n} AS {name}"
        for n, name in enumerate(("scene", "sender_relation", "trust_level", "intent"))
    )
    b_columns += f", v ->> {_KEY_AT} AS idempotency_key, "
    b_columns += ", ".join(f"v ->> {_KEY_AT + 1 + n} AS f{n}" for n in range(fact_columns))
    names = ", ".join(f"c{n}" for n in range(fact_columns))
    same = " AND ".join(f"f.c{n}::text IS NOT DISTINCT FROM b.f{n}" for n in range(fact_columns))
    facts = _facts_of_each("b.sender_id", "b.recipient_id")
    # A key already stored means a replay: not written here, the single path answers it.
    fresh_key = (
        " AND (b.idempotency_key IS NULL OR NOT EXISTS (SELECT 1 FROM idempotency_keys k"
        " WHERE k.sender_id = b.sender_id AND k.key = b.idempotency_key))"
        if keys
        else ""
    )
    write_keys = (
        ", k AS (INSERT INTO idempotency_keys (sender_id, key, message_id, created_at)"
        " SELECT g.sender_id, g.idempotency_key, g.id, g.created_at FROM g"
        " WHERE g.idempotency_key IS NOT NULL AND g.id IN (SELECT m.id FROM m))"
        if keys
        else ""
    )
    return (
        "BEGIN RETURN QUERY"
        f" WITH b AS (SELECT {b_columns}, ord FROM jsonb_array_elements(p_batch)"
        " WITH ORDINALITY AS x (v, ord)),"
        f" g AS (SELECT b.* FROM b, LATERAL ({facts}) AS f ({names}) WHERE {same}{fresh_key}),"
        f" m AS (INSERT INTO messages ({MESSAGE_INSERT_COLUMNS})"
        f" SELECT {', '.join('g.' + c for c in message_columns)} FROM g ORDER BY g.ord"
        " RETURNING num, id, sender_id, recipient_id, thread_id, created_at),"
        # Each recipient's next seq, rows locked in id order (messages._allocate_seqs_txn).
        " s AS (UPDATE accounts a SET last_seq = a.last_seq + 1 FROM (SELECT id FROM accounts"
        " WHERE id IN (SELECT m.recipient_id FROM m) ORDER BY id FOR UPDATE) locked"
        " WHERE a.id = locked.id RETURNING a.id, a.last_seq),"
        " i AS (INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
        " sender_relation, trust_level, intent, created_at)"
        " SELECT m.recipient_id, s.last_seq, m.num, m.id, g.scene, g.sender_relation,"
        " g.trust_level, g.intent, m.created_at FROM m JOIN s ON s.id = m.recipient_id"
        " JOIN g ON g.id = m.id RETURNING message_id, seq),"
        # Both thread rows of each DM, in account order (messages.touch_threads_txn).
        " t AS (INSERT INTO thread_members (account_id, thread_id, peer_id, last_message_num,"
        " last_message_at) SELECT v.account_id, m.thread_id, v.peer_id, m.num, m.created_at"
        " FROM m, LATERAL (VALUES (m.sender_id, m.recipient_id), (m.recipient_id, m.sender_id))"
        " AS v (account_id, peer_id) ORDER BY v.account_id, m.thread_id"
        " ON CONFLICT (account_id, thread_id) DO UPDATE"
        " SET last_message_num = excluded.last_message_num,"
        f" last_message_at = excluded.last_message_at){write_keys}"
        " SELECT i.message_id, i.seq FROM i;"
        " END"
    )


@dataclass(frozen=True, slots=True)
class DirectBatchFunction:
    """A batch function for DIRECT_FACTS_SQL rows of its width: its DDL (run by
    PostgresStore.start) and the statement that calls it."""

    name: str
    ddl: str
    call_sql: str


@dataclass(frozen=True, slots=True)
class DirectBatchFunctions:
    plain: DirectBatchFunction
    keyed: DirectBatchFunction  # for a batch where some DM has an idempotency key


def _function(body: str) -> DirectBatchFunction:
    name = function_name("agentplaza_dm_batch_", body)
    ddl = (
        f"CREATE OR REPLACE FUNCTION {name}(p_batch jsonb)"
        " RETURNS TABLE (o_message_id text, o_seq bigint) LANGUAGE plpgsql VOLATILE"
        f" SET plan_cache_mode = force_generic_plan AS $fn$ {body} $fn$"
    )
    return DirectBatchFunction(name, ddl, f"SELECT * FROM {name}(?::jsonb)")


def direct_batch_functions(fact_columns: int) -> DirectBatchFunctions:
    """The functions for DIRECT_FACTS_SQL rows of `fact_columns` columns."""
    return DirectBatchFunctions(
        plain=_function(_function_body(fact_columns, keys=False)),
        keyed=_function(_function_body(fact_columns, keys=True)),
    )


def _fact_json(value: Any) -> Any:
    """A fact as the guard compares it: PostgreSQL's text of the column (`true`, `1`, …)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def batch_json(batch: Sequence[BatchedDirect]) -> str:
    """The function's argument: one JSON array per DM (see _function_body)."""
    rows = [
        [
            *message_values(entry.message),
            entry.context.scene.value,
            entry.context.sender_relation,
            entry.context.trust_level,
            entry.context.intent,
            entry.idempotency_key,
            *(_fact_json(value) for value in entry.facts),
        ]
        for entry in batch
    ]
    return orjson.dumps(rows).decode()


def append_direct_batch_pg(
    txn: Txn, batch: Sequence[BatchedDirect], *, functions: DirectBatchFunctions
) -> list[Appended | None]:
    """Write each DM of `batch` whose facts still hold and whose key (if any) is new; None
    for the others (nothing written). Run in autocommit mode: the call is one atomic
    statement. A batch of one is the single path's statement (cheaper alone)."""
    if len(batch) == 1:
        [one] = batch
        message = one.message
        assert message.recipient_id is not None
        if one.idempotency_key is not None and replay_txn(
            txn, message.sender_id, one.idempotency_key
        ):
            return [None]  # the single path answers the replay
        params = direct_facts_params(message.sender_id, message.recipient_id)
        return [
            insert_direct_guarded(txn, message, one.context, params, one.facts, one.idempotency_key)
        ]
    keyed = any(entry.idempotency_key is not None for entry in batch)
    function = functions.keyed if keyed else functions.plain
    written = dict(txn.execute(function.call_sql, (batch_json(batch),)).fetchall())
    appended: list[Appended | None] = []
    for entry in batch:
        seq = written.get(entry.message.id)
        if seq is None:
            appended.append(None)
            continue
        item = InboxItem(message=entry.message, context=entry.context, seq=int(seq), acked=False)
        appended.append(Appended(message=entry.message, items=(item,)))
    return appended
