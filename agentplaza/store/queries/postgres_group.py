"""PostgreSQL's faster group message: one statement when the group's facts are known.

Same effect as `group_messages.append_group_message_txn` (the contract tests run both). The
group row is locked so that membership changes and fan-outs happen in one order, and the
facts a send is decided on must be read after that lock is granted (read before, a member
kicked by the transaction the lock waited for would still get the message).

The transaction path (`autocommit=False`) runs BEGIN, the lock, the facts, one
data-modifying CTE for every write, the mention notifications if any, and COMMIT: five round
trips, the group's lock held across three of them.

The remembered path (`autocommit=True`) runs one statement and no BEGIN/COMMIT. The store
remembers the facts of each (group, sender) from its last send; `decide` runs on them and
the statement calls `GROUP_FACTS_SAME_FN`, a PL/pgSQL function that takes the group's lock
and then compares the facts, read in a snapshot of their own taken after the lock, with the
remembered ones. The writes happen only if they are the same; otherwise nothing is written
and the send raises `NeedsTransaction`, and the store runs the transaction path. The lock is
held for the one statement only, never across a network round trip. A message with
@mentions takes the transaction path (its notifications are a statement of their own).
Measured in bench/README.md (PostgreSQL).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.groups import GroupDecision, GroupSendFacts
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, Message, MessageType
from agentplaza.store.engine import Txn
from agentplaza.store.queries.group_messages import SEND_FACTS_SQL, lock_group_for_send_txn
from agentplaza.store.queries.messages import (
    MESSAGE_INSERT_COLUMNS,
    message_values,
    new_inbox_items,
    replay_txn,
)
from agentplaza.store.queries.notifications import insert_notifications_txn
from agentplaza.store.queries.postgres_fast import function_name, remember
from agentplaza.store.records import Appended

KNOWN_GROUPS_MAX = 1_000
"""(group, sender) pairs whose facts a store remembers; past this the memory is cleared.
A member's facts take ~200 bytes, their guard parameter ~60: at most ~13 MB for groups of 50."""
KNOWN_MEMBERS_MAX = 1_000
"""Larger groups' facts are not remembered (each of their sends is a transaction)."""
KnownGroups = dict[tuple[str, str], tuple[GroupSendFacts, list[Any]]]
"""(group, sender) → the facts of its last send and their guard parameters (`_facts_params`),
built once per remembered facts, not per send: 40-58 µs of the node's CPU per send of a
group of 50 (issue 17)."""


class NeedsTransaction(Exception):
    """The remembered facts did not hold (or there were none): run the transaction path."""


def _facts_same_body() -> str:
    # The facts query itself (one source: group_messages.SEND_FACTS_SQL), as one text of
    # rows in account id order ("C": Python's sort order), each value a quoted literal
    # (NULL unquoted, so the text says exactly which facts it holds), compared with the
    # remembered ones (`_facts_params`). Was jsonb_agg compared with a jsonb parameter:
    # this call alone, group of 50, PostgreSQL's CPU 520-540 → 410-430 µs (issue 17).
    assert SEND_FACTS_SQL.count("?") == 4, "parameters: sender x3, then the group"
    facts = SEND_FACTS_SQL.replace("?", "p_sender", 3).replace("?", "p_group")
    cols = "c0, c1, c2, c3, c4, c5"
    return (
        "DECLARE pub integer; same boolean;"
        " BEGIN"
        " SELECT is_public INTO pub FROM groups WHERE id = p_group AND deleted_at IS NULL"
        " FOR NO KEY UPDATE;"  # the lock an UPDATE of the row takes, as the other path's
        " IF NOT FOUND OR (pub <> 0) IS DISTINCT FROM p_public THEN RETURN false; END IF;"
        # A new statement: in READ COMMITTED it sees what committed before the lock came.
        f" SELECT coalesce(string_agg(format('%L,%L,%L,%L,%L,%L', {cols}), ';'"
        f" ORDER BY c0 COLLATE \"C\"), '') = p_facts INTO same FROM ({facts}) AS f ({cols});"
        " RETURN same;"
        " END"
    )


_BODY = _facts_same_body()
GROUP_FACTS_SAME_FN = function_name("agentplaza_group_facts_same_", _BODY)
GROUP_FACTS_SAME_DDL = (
    f"CREATE OR REPLACE FUNCTION {GROUP_FACTS_SAME_FN}(p_group text, p_sender text,"
    " p_public boolean, p_facts text) RETURNS boolean LANGUAGE plpgsql VOLATILE"
    f" AS $fn$ {_BODY} $fn$"
)
"""Created by PostgresStore.start (not a migration: it is derived from SEND_FACTS_SQL)."""


@functools.cache
def group_write_sql(remembered: bool) -> str:
    """Every write of a group send in one data-modifying CTE; `remembered`: guarded by the
    facts function (first parameters), and it sets `last_message_at` the lock did not."""
    guard = (
        f"SELECT {GROUP_FACTS_SAME_FN}(?::text, ?::text, ?::boolean, ?::text)"
        if remembered
        else "SELECT true"
    )
    return (
        f"WITH g AS ({guard} AS same),"
        f" m AS (INSERT INTO messages ({MESSAGE_INSERT_COLUMNS}) SELECT ?::text, ?::text,"
        " ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::bigint, ?::text, ?::text"
        " FROM g WHERE g.same RETURNING num),"
        # The deliveries as one JSON text, not five arrays (see _facts_same_body). This whole
        # statement, group of 50, unguarded, autocommit: client CPU 238-260 → 141-159 µs per
        # send, PostgreSQL's 1,500-1,567 → 900 µs (issue 17, 2026-12-06).
        " d AS (SELECT x ->> 0 AS account_id, x ->> 1 AS scene, x ->> 2 AS sender_relation,"
        " x ->> 3 AS trust_level, x ->> 4 AS intent FROM jsonb_array_elements(?::jsonb) AS x),"
        # Each member's next seq, rows locked in id order as in messages._allocate_seqs_txn.
        " s AS (UPDATE accounts a SET last_seq = a.last_seq + 1 FROM (SELECT id FROM accounts"
        " WHERE id = ANY(ARRAY(SELECT d.account_id FROM d)) AND EXISTS (SELECT 1 FROM m)"
        " ORDER BY id FOR UPDATE) locked WHERE a.id = locked.id RETURNING a.id, a.last_seq),"
        " i AS (INSERT INTO inbox (account_id, seq, message_num, message_id, scene,"
        " sender_relation, trust_level, intent, created_at) SELECT d.account_id, s.last_seq,"
        " m.num, ?::text, d.scene, d.sender_relation, d.trust_level, d.intent, ?::bigint"
        " FROM d JOIN s ON s.id = d.account_id CROSS JOIN m RETURNING account_id, seq),"
        # The webhook outbox rows (docs/webhooks.md) of the members with an active webhook.
        " o AS (INSERT INTO webhook_outbox (account_id, message_id, seq, created_at, attempts,"
        " next_attempt_at) SELECT i.account_id, ?::text, i.seq, ?::bigint, 0, ?::bigint"
        " FROM i JOIN webhooks w ON w.account_id = i.account_id AND w.active = 1),"
        # The sender's thread row (events are not conversations: the flag is false for them).
        " t AS (INSERT INTO thread_members (account_id, thread_id, peer_id, last_message_num,"
        " last_message_at) SELECT ?::text, ?::text, NULL, m.num, ?::bigint FROM m"
        " WHERE ?::boolean ON CONFLICT (account_id, thread_id) DO UPDATE"
        " SET last_message_num = excluded.last_message_num,"
        " last_message_at = excluded.last_message_at),"
        " k AS (INSERT INTO idempotency_keys (sender_id, key, message_id, created_at)"
        " SELECT ?::text, ?::text, ?::text, ?::bigint FROM m WHERE ?::text IS NOT NULL),"
        " u AS (UPDATE groups SET last_message_num = m.num"
        f"{', last_message_at = ?::bigint' if remembered else ''}"
        " FROM m WHERE groups.id = ?::text)"
        " SELECT g.same, i.account_id, i.seq FROM g LEFT JOIN i ON true"
    )


def _facts_params(facts: GroupSendFacts) -> list[Any]:
    members = sorted(facts.members, key=lambda m: m.account_id)
    rows = [
        (m.account_id, m.role.value, m.muted_until_us, m.is_friend, m.override, m.blocks_sender)
        for m in members
    ]
    text = ";".join(",".join(map(_literal, row)) for row in rows)
    return [facts.group_id, facts.sender_id, facts.is_public, text]


def _literal(value: str | int | bool | None) -> str:
    """PostgreSQL's `format('%L', value)` (quote_literal, NULL unquoted) of a fact."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "'t'" if value else "'f'"
    text = str(value).replace("'", "''")
    if "\\" in text:
        return "E'" + text.replace("\\", "\\\\") + "'"
    return "'" + text + "'"


def append_group_message_pg(
    txn: Txn,
    message: Message,
    *,
    decide: Callable[[GroupSendFacts], GroupDecision],
    idempotency_key: str | None,
    known: KnownGroups | None = None,
    autocommit: bool = False,
) -> Appended:
    """Same effect as `group_messages.append_group_message_txn`. In a transaction, or with
    `autocommit` one guarded statement on the facts in `known` (NeedsTransaction when that
    does not apply); see the module doc."""
    if idempotency_key is not None:
        replayed = replay_txn(txn, message.sender_id, idempotency_key)
        if replayed is not None:
            return replayed
    pair = (message.thread_id, message.sender_id)
    if autocommit:
        entry = None if known is None else known.pop(pair, None)
        if entry is None:
            raise NeedsTransaction()
        remembered, guard = entry
        try:
            deliveries, notifications = decide(remembered)
        except AgentplazaError:  # perhaps refused on stale facts: decide on fresh ones
            raise NeedsTransaction() from None
        if notifications:
            raise NeedsTransaction()
        appended = _write(txn, message, deliveries, idempotency_key, guard)
        if appended is None:
            raise NeedsTransaction()
        remember(known, pair, entry, limit=KNOWN_GROUPS_MAX)
        return appended
    facts = lock_group_for_send_txn(txn, message)
    deliveries, notifications = decide(facts)
    appended = _write(txn, message, deliveries, idempotency_key, None)
    assert appended is not None, "the unguarded write always writes"
    insert_notifications_txn(txn, notifications)
    if known is not None and len(facts.members) <= KNOWN_MEMBERS_MAX:
        remember(known, pair, (facts, _facts_params(facts)), limit=KNOWN_GROUPS_MAX)
    return appended


def _write(
    txn: Txn,
    message: Message,
    deliveries: Sequence[DeliveryContext],
    idempotency_key: str | None,
    guard: list[Any] | None,
) -> Appended | None:
    """The one-statement write; None (nothing written) when the `guard` facts did not hold."""
    ordered = sorted(deliveries, key=lambda d: d.recipient_id)
    rows = [
        (ctx.recipient_id, ctx.scene.value, ctx.sender_relation, ctx.trust_level, ctx.intent)
        for ctx in ordered
    ]
    at = message.created_at_us
    params: list[Any] = [*(guard or ()), *message_values(message), orjson.dumps(rows).decode()]
    params += [message.id, at, message.id, at, at]
    params += [message.sender_id, message.thread_id, at, message.type is not MessageType.EVENT]
    params += [message.sender_id, idempotency_key, message.id, at, idempotency_key]
    params += [at, message.thread_id] if guard is not None else [message.thread_id]
    rows = txn.execute(group_write_sql(guard is not None), params).fetchall()
    if not rows or not rows[0][0]:
        return None
    seqs = {AccountId(row[1]): int(row[2]) for row in rows if row[1] is not None}
    return Appended(message=message, items=new_inbox_items(message, ordered, seqs))
