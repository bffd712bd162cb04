"""The Store's webhook registrations and the durable outbox: the interface (WebhookStore) and its
implementation over store/queries/webhooks.py (WebhookTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from agentplaza.domain.ids import AccountId
from agentplaza.domain.webhooks import Delivery, FailedDelivery, PayloadFormat, Webhook
from agentplaza.store.queries import webhooks as q_webhooks
from agentplaza.store.runner import TxnRunner


class WebhookStore(Protocol):
    """Outbox rows are written by `append_message` / `append_direct_message` in the same
    transaction as the inbox rows they deliver: a committed message for an account with an
    active webhook always has its outbox row, and a rolled-back one never does."""

    async def upsert_webhook(
        self,
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
        pending deliveries stay and go to the new URL)."""

    async def get_webhook(self, account: AccountId) -> Webhook | None:
        """The account's webhook with its counters and pending count, or None."""

    async def recent_webhook_failures(self, account: AccountId) -> list[FailedDelivery]:
        """The latest given-up deliveries, newest first (at most 20)."""

    async def delete_webhook(self, account: AccountId) -> bool:
        """Unregister and drop its outbox rows. False if there was none."""

    async def claim_webhook_deliveries(
        self,
        *,
        now_us: int,
        lease_until_us: int,
        limit: int,
        retry_after_us: Callable[[int], int],
        horizon_us: int,
    ) -> list[Delivery]:
        """Lease due rows until `lease_until_us`, at most one per account (the oldest pending
        row of that account, so deliveries go out in seq order), the accounts served least
        recently first. On PostgreSQL rows locked by another node's claim are skipped.

        The claim counts the attempt and schedules the row `retry_after_us(attempts)` after
        its lease, so an attempt cut by a crash is a failed attempt: the row is due again
        then, and is given up instead once `horizon_us` past its creation."""

    async def mark_webhook_delivered(
        self, delivery_id: int, account: AccountId, *, now_us: int
    ) -> None:
        """Remove the row and count it delivered."""

    async def reschedule_webhook_delivery(
        self,
        delivery_id: int,
        account: AccountId,
        *,
        status: int | None,
        error: str,
        next_attempt_us: int | None,
        now_us: int,
    ) -> None:
        """Record a failed attempt; retry at `next_attempt_us`, or give up (None)."""

    async def release_webhook_leases(self, delivery_ids: list[int], *, now_us: int) -> None:
        """Make leased rows due again now, their attempts uncounted (cut short by a clean
        stop)."""

    async def webhook_accounts(self) -> list[AccountId]:
        """Every account with an active webhook."""

    async def webhook_queue_depth(self) -> int:
        """Outbox rows neither delivered nor given up."""


class WebhookTxnStore(TxnRunner):
    async def upsert_webhook(
        self,
        account: AccountId,
        *,
        webhook_id: str,
        url: str,
        secret: str,
        events: tuple[str, ...],
        payload_format: PayloadFormat,
        now_us: int,
    ) -> Webhook:
        return await self._write(
            q_webhooks.upsert_webhook_txn,
            account,
            webhook_id,
            url,
            secret,
            events,
            payload_format,
            now_us,
        )

    async def get_webhook(self, account: AccountId) -> Webhook | None:
        return await self._read(q_webhooks.get_webhook_txn, account)

    async def recent_webhook_failures(self, account: AccountId) -> list[FailedDelivery]:
        return await self._read(q_webhooks.recent_failures_txn, account)

    async def delete_webhook(self, account: AccountId) -> bool:
        return await self._write(q_webhooks.delete_webhook_txn, account)

    async def claim_webhook_deliveries(
        self,
        *,
        now_us: int,
        lease_until_us: int,
        limit: int,
        retry_after_us: Callable[[int], int],
        horizon_us: int,
    ) -> list[Delivery]:
        return await self._write(
            q_webhooks.claim_due_txn, now_us, lease_until_us, limit, retry_after_us, horizon_us
        )

    async def mark_webhook_delivered(
        self, delivery_id: int, account: AccountId, *, now_us: int
    ) -> None:
        await self._write(q_webhooks.mark_delivered_txn, delivery_id, account, now_us)

    async def reschedule_webhook_delivery(
        self,
        delivery_id: int,
        account: AccountId,
        *,
        status: int | None,
        error: str,
        next_attempt_us: int | None,
        now_us: int,
    ) -> None:
        await self._write(
            q_webhooks.reschedule_txn,
            delivery_id,
            account,
            status,
            error,
            next_attempt_us,
            now_us,
        )

    async def release_webhook_leases(self, delivery_ids: list[int], *, now_us: int) -> None:
        await self._write(q_webhooks.release_leases_txn, delivery_ids, now_us)

    async def webhook_accounts(self) -> list[AccountId]:
        return await self._read(q_webhooks.webhook_accounts_txn)

    async def webhook_queue_depth(self) -> int:
        return await self._read(q_webhooks.queue_depth_txn)
