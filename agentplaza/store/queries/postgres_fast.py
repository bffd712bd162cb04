"""PostgreSQL's faster direct and group messages: fewer statements, fewer round trips.

Same effect as `messages.append_direct_message_txn` (the contract tests run both), but on
PostgreSQL every statement is a network round trip, so instead of BEGIN, facts, four writes,
COMMIT (7 round trips) it runs, each statement atomic on its own:

1. `DIRECT_FACTS_SQL` (after the idempotency replay check when a key is given);
2. `decide(facts)` in Python, then one data-modifying CTE that writes the message, the
   recipient's seq and inbox row, both thread rows, the idempotency key (when the send has
   one) and the webhook outbox row (when the facts say the recipient has an active webhook)
   — only if `DIRECT_FACTS_SQL`, run again inside the same statement, still returns
   the row that was decided on. Otherwise it writes nothing and `FactsChanged` makes the
   store run the whole send again, so no block, deletion or webhook change can slip in
   between check and write.

A group message: store/queries/postgres_group.py. An ack up to a seq: one statement
(`ack_up_to_pg`) instead of BEGIN, two UPDATEs, COMMIT.

Measured with ../shared/bench (bench/README.md): see the PostgreSQL rows there.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from agentplaza.domain.errors import AgentplazaError, ErrorCode, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Message
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store.engine import Txn
from agentplaza.store.queries.direct_facts import (
    DIRECT_FACTS_SQL,
    direct_facts_params,
    facts_from_row,
)
from agentplaza.store.queries.messages import MESSAGE_INSERT_COLUMNS, message_values, replay_txn
from agentplaza.store.records import Appended


class FactsChanged(Exception):
    """The facts a send was decided on changed before it was written; nothing was written."""


@functools.cache
def _insert_sql(fact_columns: int, *, key: bool, outbox: bool) -> str:
    """The guarded write; without the idempotency key's CTE when the send has no key, and
    without the outbox's when the facts say the recipient has no active webhook (the guard
    re-reads that fact too). A CTE that writes nothing still costs PostgreSQL its executor
    set-up: opening and locking its table and every index of it (4 for the outbox, 2 for
    the keys), past the 16 fast-path lock slots a backend has (issue 17, bench/README.md)."""
    names = ", ".join(f"c{n}" for n in range(fact_columns))
    same = " AND ".join(f"f.c{n} IS NOT DISTINCT FROM ?" for n in range(fact_columns))
    return (
        f"WITH g AS (SELECT 1 FROM ({DIRECT_FACTS_SQL}) AS f ({names}) WHERE {same}),"
        f" m AS (INSERT INTO messages ({MESSAGE_INSERT_COLUMNS}) SELECT ?::text, ?::text,"
        " ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::bigint, ?::text, ?::text"
        " FROM g RETURNING num),"
        " s AS (UPDATE accounts SET last_seq = last_seq + 1"
        " WHERE id = ? AND EXISTS (SELECT 1 FROM m) RETURNING last_seq),"
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
        + (
            ", k AS (INSERT INTO idempotency_keys (sender_id, key, message_id, created_at)"
            " SELECT ?::text, ?::text, ?::text, ?::bigint FROM m)"
            if key
            else ""
        )
        # The webhook outbox row (docs/webhooks.md), when the recipient has an active webhook.
        + (
            ", o AS (INSERT INTO webhook_outbox (account_id, message_id, seq, created_at,"
            " attempts, next_attempt_at) SELECT w.account_id, ?::text, i.seq, ?::bigint, 0,"
            " ?::bigint FROM i, webhooks w WHERE w.account_id = ?::text AND w.active = 1)"
            if outbox
            else ""
        )
        + " SELECT i.seq FROM i"
    )


K = TypeVar("K")
V = TypeVar("V")
KNOWN_FACTS_MAX = 50_000
"""Pairs whose facts a store remembers (`known`); past this the memory is cleared."""
KnownFacts = dict[tuple[str, str], tuple[Any, ...]]


def append_direct_message_pg(
    txn: Txn,
    message: Message,
    *,
    decide: Callable[[DirectFacts], DeliveryContext],
    idempotency_key: str | None,
    known: KnownFacts | None = None,
    autocommit: bool = True,
) -> Appended:
    """Run in autocommit mode: each statement is its own transaction (see the module doc;
    `autocommit` is always true here: the store's runner passes it to every hot path).

    `known` remembers each pair's facts row from its last send. A send first tries those:
    the insert writes only if the facts, re-read inside it, are still the same, so a stale
    row only costs the usual facts read afterwards. That makes a steady pair's DM one round
    trip instead of two (bench/README.md, PostgreSQL)."""
    assert message.recipient_id is not None, "a direct message has a recipient"
    sender, recipient = message.sender_id, message.recipient_id
    if idempotency_key is not None:
        replayed = replay_txn(txn, sender, idempotency_key)
        if replayed is not None:
            return replayed
    facts_params = direct_facts_params(sender, recipient)
    pair = (sender, recipient)
    remembered = None if known is None else known.pop(pair, None)
    if remembered is not None:
        try:
            ctx = decide(facts_from_row(sender, recipient, remembered))
        except AgentplazaError:  # perhaps refused on stale facts: decide on fresh ones
            pass
        else:
            appended = insert_direct_guarded(
                txn, message, ctx, facts_params, remembered, idempotency_key
            )
            if appended is not None:
                _remember(known, pair, remembered)
                return appended
    facts_row = txn.execute(DIRECT_FACTS_SQL, facts_params).fetchone()
    if facts_row is None:
        raise NotFound(f"no account with id {recipient!r}", ErrorCode.AGENT_NOT_FOUND)
    ctx = decide(facts_from_row(sender, recipient, facts_row))
    appended = insert_direct_guarded(
        txn, message, ctx, facts_params, tuple(facts_row), idempotency_key
    )
    if appended is None:
        raise FactsChanged(f"facts for {sender} → {recipient} changed; nothing written")
    _remember(known, pair, tuple(facts_row))
    return appended


def function_name(prefix: str, body: str) -> str:
    """A PL/pgSQL function's name, `prefix` and a hash of its `body`: nodes running different
    versions each create and call their own, never replacing another's."""
    return prefix + hashlib.sha1(body.encode()).hexdigest()[:12]


def remember(known: dict[K, V] | None, key: K, value: V, *, limit: int) -> None:
    """Keep `value` for `key` in a hot path's memory of facts (postgres_group.py too), which
    is cleared whole when it holds `limit` entries: a lost memory costs one facts read."""
    if known is not None:
        if len(known) >= limit:
            known.clear()
        known[key] = value


def _remember(known: KnownFacts | None, pair: tuple[str, str], row: tuple[Any, ...]) -> None:
    remember(known, pair, row, limit=KNOWN_FACTS_MAX)


def insert_direct_guarded(
    txn: Txn,
    message: Message,
    ctx: DeliveryContext,
    facts_params: tuple[Any, ...],
    facts_row: tuple[Any, ...],
    idempotency_key: str | None,
) -> Appended | None:
    """The one-statement write, guarded by `facts_row`; None (nothing written) when the
    facts are no longer those."""
    sender, recipient = message.sender_id, ctx.recipient_id
    # Thread rows in account order, as the portable path writes them (no A→B / B→A deadlock).
    first, second = sorted((sender, recipient))
    peer = {sender: recipient, recipient: sender}
    params: list[Any] = [*facts_params, *facts_row]
    params += message_values(message)
    params += [ctx.recipient_id]
    params += [
        ctx.recipient_id,
        message.id,
        ctx.scene.value,
        ctx.sender_relation,
        ctx.trust_level,
        ctx.intent,
        message.created_at_us,
    ]
    params += [message.thread_id, message.created_at_us, first, peer[first], second, peer[second]]
    key = idempotency_key is not None
    if key:
        params += [sender, idempotency_key, message.id, message.created_at_us]
    outbox = bool(facts_row[-1])  # DIRECT_FACTS_SQL's last column: an active webhook
    if outbox:
        params += [message.id, message.created_at_us, message.created_at_us, ctx.recipient_id]
    sql = _insert_sql(len(facts_row), key=key, outbox=outbox)
    row = txn.execute(sql, params).fetchone()
    if row is None:
        return None
    item = InboxItem(message=message, context=ctx, seq=int(row[0]), acked=False)
    return Appended(message=message, items=(item,))


# The ack floor moves as inbox._raise_ack_floor_txn moves it. That one re-reads the inbox
# after its UPDATE; here the same statement's snapshot does not show this UPDATE's acks, so
# the first unacked row is looked for above `seq` (every row at or below it is acked now).
ACK_UP_TO_SQL = (
    "WITH a AS (UPDATE inbox SET acked_at = ? WHERE account_id = ? AND seq <= ?"
    " AND acked_at IS NULL AND seq > (SELECT ack_floor FROM accounts WHERE id = ?)"
    " RETURNING seq),"
    " f AS (UPDATE accounts SET ack_floor = GREATEST(ack_floor, COALESCE("
    " (SELECT i.seq - 1 FROM inbox i WHERE i.account_id = accounts.id"
    "  AND i.seq > GREATEST(accounts.ack_floor, ?) AND i.acked_at IS NULL"
    "  ORDER BY i.seq LIMIT 1),"
    " (SELECT MAX(i.seq) FROM inbox i WHERE i.account_id = accounts.id), 0))"
    " WHERE id = ? AND EXISTS (SELECT 1 FROM a))"
    " SELECT count(*) FROM a"
)


def ack_up_to_pg(txn: Txn, account: AccountId, seq: int, *, now_us: int) -> int:
    """`inbox.ack_up_to_txn` in one statement, so without BEGIN/COMMIT: one round trip
    instead of four (bench/README.md, PostgreSQL)."""
    row = txn.execute(ACK_UP_TO_SQL, (now_us, account, seq, account, seq, account)).fetchone()
    return int(row[0])
