"""Messages, per-recipient inboxes (seq allocation), threads, idempotency keys, purge."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from agentplaza.domain.errors import ErrorCode, NotFound
from agentplaza.domain.ids import AccountId, MessageId, ThreadId
from agentplaza.domain.messages import (
    DeliveryContext,
    InboxItem,
    Message,
    MessageFormat,
    MessageType,
    Scene,
)
from agentplaza.domain.notifications import NewNotification
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store.engine import Txn
from agentplaza.store.queries.direct_facts import (
    DIRECT_FACTS_SQL,
    direct_facts_params,
    facts_from_row,
)
from agentplaza.store.queries.notifications import insert_notifications_txn
from agentplaza.store.queries.outbox import insert_outbox_for_message_txn
from agentplaza.store.records import Appended

MESSAGE_COLUMNS = (
    "m.id, m.sender_id, m.recipient_id, m.thread_id, m.reply_to, m.type, m.format, m.body,"
    " m.created_at, m.signature, m.signer_public_key"
)
MESSAGE_WIDTH = 11
"""How many columns MESSAGE_COLUMNS selects (where the inbox columns of ITEM_COLUMNS start)."""
MESSAGE_INSERT_COLUMNS = (
    "id, sender_id, recipient_id, thread_id, reply_to, type, format, body, created_at,"
    " signature, signer_public_key"
)
"""The `messages` columns `message_values` fills, in its order."""
MESSAGE_INSERT_SQL = (
    f"INSERT INTO messages ({MESSAGE_INSERT_COLUMNS})"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING num"
)
ITEM_COLUMNS = (
    MESSAGE_COLUMNS + ", i.account_id, i.scene, i.sender_relation, i.trust_level, i.intent,"
    " i.seq, i.acked_at"
)


def message_from_row(row: Any) -> Message:
    return Message(
        id=MessageId(row[0]),
        sender_id=AccountId(row[1]),
        recipient_id=AccountId(row[2]) if row[2] is not None else None,
        thread_id=ThreadId(row[3]),
        reply_to=MessageId(row[4]) if row[4] is not None else None,
        type=MessageType(row[5]),
        format=MessageFormat(row[6]),
        body=row[7],
        created_at_us=row[8],
        signature=row[9],
        signer_public_key=row[10],
    )


def item_from_row(row: Any) -> InboxItem:
    inbox = row[MESSAGE_WIDTH:]
    return InboxItem(
        message=message_from_row(row),
        context=DeliveryContext(
            recipient_id=AccountId(inbox[0]),
            scene=Scene(inbox[1]),
            sender_relation=inbox[2],
            trust_level=inbox[3],
            intent=inbox[4],
        ),
        seq=inbox[5],
        acked=inbox[6] is not None,
    )


def _find_message_txn(txn: Txn, message_id: str) -> Message | None:
    row = txn.execute(
        f"SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?", (message_id,)
    ).fetchone()
    return message_from_row(row) if row else None


def replay_txn(txn: Txn, sender: AccountId, idempotency_key: str) -> Appended | None:
    row = txn.execute(
        "SELECT message_id FROM idempotency_keys WHERE sender_id = ? AND key = ?",
        (sender, idempotency_key),
    ).fetchone()
    if row is None:
        return None
    earlier = _find_message_txn(txn, row[0])
    if earlier is not None:
        return Appended(message=earlier, items=(), replayed=True)
    # The earlier message was purged: the key no longer protects anything.
    txn.execute(
        "DELETE FROM idempotency_keys WHERE sender_id = ? AND key = ?", (sender, idempotency_key)
    )
    return None


def append_direct_message_txn(
    txn: Txn,
    message: Message,
    *,
    decide: Callable[[DirectFacts], DeliveryContext],
    idempotency_key: str | None,
) -> Appended:
    """append_message for one DM, with its permission check in the same transaction.

    Reads the pair's DirectFacts, calls `decide` (pure; raises a domain error to refuse)
    and appends with the context it returns, so no block or privacy change can slip in
    between check and write. Raises NotFound if the recipient does not exist. A replayed
    idempotency key returns the first message before any check.
    """
    if idempotency_key is not None:
        replayed = replay_txn(txn, message.sender_id, idempotency_key)
        if replayed is not None:
            return replayed
    sender, recipient = message.sender_id, message.recipient_id
    assert recipient is not None, "a direct message has a recipient"
    row = txn.execute(DIRECT_FACTS_SQL, direct_facts_params(sender, recipient)).fetchone()
    if row is None:
        raise NotFound(f"no account with id {recipient!r}", ErrorCode.AGENT_NOT_FOUND)
    context = decide(facts_from_row(sender, recipient, row))
    # Without a webhook the outbox statement would insert nothing: skipping it saves ~6 µs
    # of a DM's ~80 µs in the store (issue 17).
    return insert_message_txn(txn, message, [context], idempotency_key, outbox=bool(row[4]))


def append_message_txn(
    txn: Txn,
    message: Message,
    deliveries: Sequence[DeliveryContext],
    *,
    idempotency_key: str | None,
    notifications: Sequence[NewNotification] = (),
) -> Appended:
    """Durably store `message`, one inbox row per delivery and `notifications`, in one
    transaction.

    Each inbox row gets its recipient's next seq (per recipient, gapless, from 1, never
    reused). The DM threads of sender and recipient are touched (not for events or group
    messages). Returns after COMMIT. With an idempotency key the sender used before,
    returns the first message and writes nothing (`replayed=True`).
    """
    if idempotency_key is not None:
        replayed = replay_txn(txn, message.sender_id, idempotency_key)
        if replayed is not None:
            return replayed
    appended = insert_message_txn(txn, message, deliveries, idempotency_key)
    insert_notifications_txn(txn, notifications)
    return appended


def message_values(message: Message) -> tuple[Any, ...]:
    """The `messages` columns MESSAGE_INSERT_COLUMNS of `message`, in that order."""
    return (
        message.id,
        message.sender_id,
        message.recipient_id,
        message.thread_id,
        message.reply_to,
        message.type.value,
        message.format.value,
        message.body,
        message.created_at_us,
        message.signature,
        message.signer_public_key,
    )


def insert_message_txn(
    txn: Txn,
    message: Message,
    deliveries: Sequence[DeliveryContext],
    idempotency_key: str | None,
    *,
    outbox: bool = True,
) -> Appended:
    """Write `message` and its inbox rows; `outbox=False` when no recipient can have an active
    webhook (the caller read that in this transaction), to skip the outbox statement."""
    num = txn.execute(MESSAGE_INSERT_SQL, message_values(message)).fetchone()[0]
    ordered = sorted(deliveries, key=lambda d: d.recipient_id)
    seqs = _allocate_seqs_txn(txn, [d.recipient_id for d in ordered])
    rows = [
        (
            ctx.recipient_id,
            seqs[ctx.recipient_id],
            num,
            message.id,
            ctx.scene.value,
            ctx.sender_relation,
            ctx.trust_level,
            ctx.intent,
            message.created_at_us,
        )
        for ctx in ordered
    ]
    _insert_inbox_rows_txn(txn, rows)
    if outbox:  # same transaction as the inbox rows: a committed delivery has its webhook row
        insert_outbox_for_message_txn(txn, num)
    items = new_inbox_items(message, ordered, seqs)
    if message.type is not MessageType.EVENT:  # events are not conversations
        touch_threads_txn(txn, message, num)
    if idempotency_key is not None:
        remember_idempotency_key_txn(txn, message, idempotency_key)
    return Appended(message=message, items=items)


_new_item = functools.partial(object.__new__, InboxItem)
_ITEM_SETTERS = [getattr(InboxItem, f).__set__ for f in ("message", "context", "seq", "acked")]


def new_inbox_items(
    message: Message, contexts: Sequence[DeliveryContext], seqs: dict[AccountId, int]
) -> tuple[InboxItem, ...]:
    """The unacked InboxItems of `message` at the recipients' `seqs`, each filled through
    its slots: the frozen dataclass's `__init__` sets each field by `object.__setattr__`.
    50 items (a group send's) 112-374 → 46-158 µs (issue 17). Test: test_store_shape.py."""
    set_message, set_context, set_seq, set_acked = _ITEM_SETTERS
    items = []
    for ctx in contexts:
        item = _new_item()
        set_message(item, message)
        set_context(item, ctx)
        set_seq(item, seqs[ctx.recipient_id])
        set_acked(item, False)
        items.append(item)
    return tuple(items)


INBOX_COLUMNS = (
    "account_id, seq, message_num, message_id, scene, sender_relation, trust_level, intent,"
    " created_at"
)
INBOX_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"
# A fan-out is written in chunks of this many rows: one statement each, far below SQLite's
# 32,766 parameters.
INBOX_CHUNK = 500


def _allocate_seqs_txn(txn: Txn, recipients: list[AccountId]) -> dict[AccountId, int]:
    """Each recipient's next seq, allocated in one statement (recipients sorted by id)."""
    if len(recipients) == 1:
        row = txn.execute(
            "UPDATE accounts SET last_seq = last_seq + 1 WHERE id = ? RETURNING last_seq",
            (recipients[0],),
        ).fetchone()
        return {recipients[0]: row[0]}
    if txn.caps.array_params:
        # Rows locked in id order (the subquery's ORDER BY … FOR UPDATE), so concurrent
        # fan-outs to overlapping members cannot deadlock. One prepared statement for any size.
        rows = txn.execute(
            "UPDATE accounts a SET last_seq = a.last_seq + 1 FROM (SELECT id FROM accounts"
            " WHERE id = ANY(?::text[]) ORDER BY id FOR UPDATE) locked WHERE a.id = locked.id"
            " RETURNING a.id, a.last_seq",
            (recipients,),
        ).fetchall()
    else:  # no array parameter: IN lists of at most INBOX_CHUNK (SQLite: one writer, no lock order)
        assert txn.caps.json_group, "an engine without array parameters reads JSON aggregates"
        seqs: dict[AccountId, int] = {}
        for start in range(0, len(recipients), INBOX_CHUNK):
            chunk = recipients[start : start + INBOX_CHUNK]
            marks = ", ".join("?" * len(chunk))
            txn.execute(f"UPDATE accounts SET last_seq = last_seq + 1 WHERE id IN ({marks})", chunk)
            # Read back as one JSON object, not by RETURNING's row per recipient: Python's
            # sqlite3 hands the GIL over and back for every cell (50 recipients ~68 → ~36 µs in
            # a standalone loop; bench/README.md, issue 17's twelfth round).
            read_back = (
                f"SELECT json_group_object(id, last_seq) FROM accounts WHERE id IN ({marks})"
            )
            seqs.update(orjson.loads(txn.execute(read_back, chunk).fetchone()[0]))
        return seqs
    return {AccountId(account_id): seq for account_id, seq in rows}


def _insert_inbox_rows_txn(txn: Txn, rows: list[tuple[Any, ...]]) -> None:
    if txn.caps.array_params and len(rows) > 1:
        # Column arrays: one prepared statement whatever the group size.
        txn.execute(
            f"INSERT INTO inbox ({INBOX_COLUMNS}) SELECT * FROM unnest(?::text[], ?::bigint[],"
            " ?::bigint[], ?::text[], ?::text[], ?::text[], ?::text[], ?::text[], ?::bigint[])",
            [list(column) for column in zip(*rows, strict=True)],
        )
        return
    for start in range(0, len(rows), INBOX_CHUNK):
        chunk = rows[start : start + INBOX_CHUNK]
        txn.execute(
            f"INSERT INTO inbox ({INBOX_COLUMNS}) VALUES {', '.join([INBOX_ROW] * len(chunk))}",
            [value for row in chunk for value in row],
        )


def remember_idempotency_key_txn(txn: Txn, message: Message, idempotency_key: str) -> None:
    txn.execute(
        "INSERT INTO idempotency_keys (sender_id, key, message_id, created_at) VALUES (?, ?, ?, ?)",
        (message.sender_id, idempotency_key, message.id, message.created_at_us),
    )


def touch_threads_txn(txn: Txn, message: Message, num: int) -> None:
    """Move the thread to the top of the sender's (and the DM recipient's) thread list."""
    members: list[tuple[str, str | None]] = [(message.sender_id, message.recipient_id)]
    if message.recipient_id is not None:
        members.append((message.recipient_id, message.sender_id))
    # Rows in account order, so A→B and B→A sent at once lock them in the same order.
    members.sort()
    values = ", ".join(["(?, ?, ?, ?, ?)"] * len(members))
    params: list[Any] = []
    for account_id, peer_id in members:
        params += [account_id, message.thread_id, peer_id, num, message.created_at_us]
    txn.execute(
        "INSERT INTO thread_members (account_id, thread_id, peer_id, last_message_num,"
        f" last_message_at) VALUES {values} ON CONFLICT (account_id, thread_id)"
        " DO UPDATE SET last_message_num = excluded.last_message_num,"
        " last_message_at = excluded.last_message_at",
        params,
    )
