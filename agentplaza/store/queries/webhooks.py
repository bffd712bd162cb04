"""Webhook registrations and the durable outbox (docs/webhooks.md).

Outbox rows are written by `messages.insert_message_txn` (and the PostgreSQL DM fast path)
in the message's own transaction; this module registers webhooks and lets the delivery
worker claim, complete and reschedule rows. A committed message for an account with an active
webhook always has its outbox row, and a rolled-back one never does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agentplaza.domain.ids import AccountId
from agentplaza.domain.webhooks import Delivery, FailedDelivery, PayloadFormat, Webhook
from agentplaza.store.engine import Txn
from agentplaza.store.queries.messages import ITEM_COLUMNS, item_from_row

PENDING = "o.delivered_at IS NULL AND o.failed_at IS NULL"
RECENT_FAILURES = 20

_WEBHOOK_COLUMNS = (
    "w.account_id, w.id, w.url, w.events, w.active, w.created_at, w.delivered, w.failed,"
    " w.last_error, w.last_failure_at, w.last_success_at, w.payload_format"
)


def _webhook_from_row(row: Any, pending: int) -> Webhook:
    return Webhook(
        account_id=AccountId(row[0]),
        id=row[1],
        url=row[2],
        events=tuple(e for e in row[3].split(",") if e),
        active=bool(row[4]),
        created_at_us=row[5],
        delivered=int(row[6]),
        failed=int(row[7]),
        last_error=row[8],
        last_failure_at_us=row[9],
        last_success_at_us=row[10],
        payload_format=PayloadFormat(row[11]),
        pending=pending,
    )


def upsert_webhook_txn(
    txn: Txn,
    account: AccountId,
    *,
    webhook_id: str,
    url: str,
    secret: str,
    events: tuple[str, ...],
    payload_format: PayloadFormat,
    now_us: int,
) -> Webhook:
    """Register, or replace url/secret/events (counters and failure history reset;
    pending deliveries stay and go to the new URL: they were meant for this account)."""
    txn.execute(
        "DELETE FROM webhook_outbox WHERE account_id = ? AND failed_at IS NOT NULL", (account,)
    )
    txn.execute(
        "INSERT INTO webhooks (account_id, id, url, secret, events, payload_format, active,"
        " created_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?) ON CONFLICT (account_id) DO UPDATE SET"
        " id = excluded.id, url = excluded.url, secret = excluded.secret,"
        " events = excluded.events, payload_format = excluded.payload_format, active = 1,"
        " created_at = excluded.created_at, delivered = 0, failed = 0, last_error = NULL,"
        " last_failure_at = NULL, last_success_at = NULL",
        (account, webhook_id, url, secret, ",".join(events), payload_format.value, now_us),
    )
    found = get_webhook_txn(txn, account)
    assert found is not None
    return found


def get_webhook_txn(txn: Txn, account: AccountId) -> Webhook | None:
    """The account's webhook with its counters and pending count, or None."""
    row = txn.execute(
        f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks w WHERE w.account_id = ?", (account,)
    ).fetchone()
    if row is None:
        return None
    pending = txn.execute(
        f"SELECT COUNT(*) FROM webhook_outbox o WHERE o.account_id = ? AND {PENDING}", (account,)
    ).fetchone()[0]
    return _webhook_from_row(row, int(pending))


def recent_failures_txn(txn: Txn, account: AccountId) -> list[FailedDelivery]:
    """The latest given-up deliveries, newest first (at most 20)."""
    rows = txn.execute(
        "SELECT id, message_id, seq, attempts, failed_at, last_status, last_error"
        " FROM webhook_outbox WHERE account_id = ? AND failed_at IS NOT NULL"
        " ORDER BY failed_at DESC, id DESC LIMIT ?",
        (account, RECENT_FAILURES),
    ).fetchall()
    return [
        FailedDelivery(
            delivery_id=r[0],
            message_id=r[1],
            seq=r[2],
            attempts=r[3],
            failed_at_us=r[4],
            last_status=r[5],
            last_error=r[6],
        )
        for r in rows
    ]


def delete_webhook_txn(txn: Txn, account: AccountId) -> bool:
    """Unregister and drop its outbox rows (nobody would receive them). False if there was
    none."""
    cur = txn.execute("DELETE FROM webhooks WHERE account_id = ?", (account,))
    txn.execute("DELETE FROM webhook_outbox WHERE account_id = ?", (account,))
    return int(cur.rowcount) > 0


# The later of the account's last finished attempts, success or failure: claims go to the
# accounts served least recently first (round robin), not to the oldest rows, so an account
# with a long backlog does not keep the next free slot from the others.
_SERVED_AT = (
    "CASE WHEN COALESCE(w.last_success_at, 0) > COALESCE(w.last_failure_at, 0)"
    " THEN COALESCE(w.last_success_at, 0) ELSE COALESCE(w.last_failure_at, 0) END"
)
INTERRUPTED = "interrupted: the server stopped during the attempt"


def claim_due_txn(
    txn: Txn,
    *,
    now_us: int,
    lease_until_us: int,
    limit: int,
    retry_after_us: Callable[[int], int],
    horizon_us: int,
) -> list[Delivery]:
    """Lease due rows until `lease_until_us`, at most `limit`, at most one per account (the
    oldest pending row of that account, so one webhook's deliveries go out one at a time,
    in seq order), the accounts served least recently first, and read what to send. Where
    the engine can skip locked rows (PostgreSQL), rows another node is claiming are skipped.

    The attempt is counted here, before the POST, and the row is already rescheduled as if
    it failed (`retry_after_us(attempts)` after its lease): an attempt cut by a crash is a
    failed attempt with its backoff. A row whose lease ran out that way is given up instead
    once it is past the retry horizon (`horizon_us` after its message was stored)."""
    lock = " FOR UPDATE OF o SKIP LOCKED" if txn.caps.skip_locked else ""
    rows = txn.execute(
        "SELECT o.id, o.account_id, o.attempts, o.lease_until, o.created_at"
        " FROM webhook_outbox o JOIN webhooks w ON w.account_id = o.account_id"
        f" WHERE {PENDING} AND o.next_attempt_at <= ?"
        " AND (o.lease_until IS NULL OR o.lease_until < ?)"
        " AND NOT EXISTS (SELECT 1 FROM webhook_outbox e WHERE e.account_id = o.account_id"
        " AND e.seq < o.seq AND e.delivered_at IS NULL AND e.failed_at IS NULL)"
        f" ORDER BY {_SERVED_AT}, o.next_attempt_at, o.id LIMIT ?{lock}",
        (now_us, now_us, limit),
    ).fetchall()
    deliveries = []
    for outbox_id, account, attempts, lease_until, created_at in rows:
        interrupted = lease_until is not None  # claimed before, never recorded: a crash
        if interrupted and now_us > created_at + horizon_us:
            reschedule_txn(
                txn,
                outbox_id,
                AccountId(account),
                status=None,
                error=INTERRUPTED,
                next_attempt_us=None,
                now_us=now_us,
            )
            continue
        txn.execute(
            "UPDATE webhook_outbox SET lease_until = ?, attempts = ?, next_attempt_at = ?"
            + (", last_error = ?" if interrupted else "")
            + " WHERE id = ?",
            (
                lease_until_us,
                attempts + 1,
                lease_until_us + retry_after_us(attempts + 1),
                *((INTERRUPTED,) if interrupted else ()),
                outbox_id,
            ),
        )
        row = txn.execute(
            "SELECT o.id, o.account_id, w.url, w.secret, o.attempts, o.created_at,"
            " w.payload_format"
            " FROM webhook_outbox o JOIN webhooks w ON w.account_id = o.account_id"
            " WHERE o.id = ?",
            (outbox_id,),
        ).fetchone()
        if row is None:  # the webhook went away meanwhile (its rows go with it)
            continue
        item_row = txn.execute(
            f"SELECT {ITEM_COLUMNS} FROM webhook_outbox o JOIN inbox i"
            " ON i.account_id = o.account_id AND i.seq = o.seq"
            " JOIN messages m ON m.num = i.message_num WHERE o.id = ?",
            (outbox_id,),
        ).fetchone()
        deliveries.append(
            Delivery(
                id=row[0],
                account_id=AccountId(row[1]),
                url=row[2],
                secret=row[3],
                attempts=row[4],
                created_at_us=row[5],
                item=item_from_row(item_row) if item_row is not None else None,
                payload_format=PayloadFormat(row[6]),
                lease_ran_out=interrupted,
            )
        )
    return deliveries


def mark_delivered_txn(txn: Txn, delivery_id: int, account: AccountId, *, now_us: int) -> None:
    """Remove the row and count it delivered.

    Delivered rows are deleted at once (the webhook's counter keeps the history)."""
    cur = txn.execute("DELETE FROM webhook_outbox WHERE id = ?", (delivery_id,))
    if cur.rowcount:
        txn.execute(
            "UPDATE webhooks SET delivered = delivered + 1, last_success_at = ?"
            " WHERE account_id = ?",
            (now_us, account),
        )


def reschedule_txn(
    txn: Txn,
    delivery_id: int,
    account: AccountId,
    *,
    status: int | None,
    error: str,
    next_attempt_us: int | None,
    now_us: int,
) -> None:
    """Record a failed attempt; retry at `next_attempt_us`, or give up (None).

    A failed attempt: try again at `next_attempt_us`, or give up when it is None."""
    if next_attempt_us is None:
        cur = txn.execute(
            "UPDATE webhook_outbox SET failed_at = ?, lease_until = NULL, last_status = ?,"
            " last_error = ? WHERE id = ? AND failed_at IS NULL AND delivered_at IS NULL",
            (now_us, status, error, delivery_id),
        )
        counter = ", failed = failed + 1" if cur.rowcount else ""
    else:
        txn.execute(
            "UPDATE webhook_outbox SET next_attempt_at = ?, lease_until = NULL,"
            " last_status = ?, last_error = ? WHERE id = ?",
            (next_attempt_us, status, error, delivery_id),
        )
        counter = ""
    txn.execute(
        f"UPDATE webhooks SET last_error = ?, last_failure_at = ?{counter} WHERE account_id = ?",
        (error, now_us, account),
    )


def release_leases_txn(txn: Txn, delivery_ids: list[int], *, now_us: int) -> None:
    """Make leased rows due again now, their attempts uncounted (cut short by this node's
    clean stop)."""
    for outbox_id in delivery_ids:
        txn.execute(
            "UPDATE webhook_outbox SET lease_until = NULL, next_attempt_at = ?,"
            " attempts = attempts - 1 WHERE id = ? AND lease_until IS NOT NULL",
            (now_us, outbox_id),
        )


def webhook_accounts_txn(txn: Txn) -> list[AccountId]:
    """Every account with an active webhook."""
    rows = txn.execute("SELECT account_id FROM webhooks WHERE active = 1").fetchall()
    return [AccountId(r[0]) for r in rows]


def queue_depth_txn(txn: Txn) -> int:
    """Outbox rows neither delivered nor given up."""
    row = txn.execute(f"SELECT COUNT(*) FROM webhook_outbox o WHERE {PENDING}").fetchone()
    return int(row[0])
