"""Webhooks: registration, the durable outbox, and what the delivery worker needs.

The worker itself (HTTP, signing, concurrency) is delivery/webhooks.py; this module owns the
rules: the SSRF check (domain/webhooks.py plus DNS), the secret, the retry schedule and the
retry horizon. See docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import Callable, Sequence

import httpx

from agentplaza.domain import webhooks as rules
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import InboxItem
from agentplaza.domain.webhooks import Delivery, FailedDelivery, Webhook
from agentplaza.services.runtime import Runtime

DNS_TIMEOUT_SECS = 5.0
# A lease outlives the POST it covers (timeout) with room for the store writes around it; a
# node that dies mid-delivery leaves the row due again after this.
LEASE_MARGIN_SECS = 10.0


async def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to; Invalid (webhook_url_refused) when it does not."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), DNS_TIMEOUT_SECS
        )
    except (OSError, TimeoutError, UnicodeError):
        raise Invalid(
            f"webhook host {host!r} does not resolve", ErrorCode.WEBHOOK_URL_REFUSED
        ) from None
    return [str(info[4][0]) for info in infos]


class Webhooks:
    def __init__(self, runtime: Runtime, *, wake: Callable[[], None]) -> None:
        """`wake` tells the delivery worker (delivery/webhooks.py) a delivery is due now."""
        self._rt = runtime
        self._store = runtime.store
        self._random = random.Random(runtime.random_bytes(16))
        # Accounts with a webhook, as this node last read them (refresh_hooked) plus its own
        # registrations since: only to wake the worker early; the poll finds the rest.
        self._hooked: set[str] = set()
        self._wake = wake

    # --- registration (the /v1 routes, and the /ai dialect) -------------------------------
    async def register(
        self,
        account: Account,
        url: object,
        events: object = None,
        *,
        payload_format: rules.PayloadFormat = rules.PayloadFormat.AGENTIM,
    ) -> tuple[Webhook, str]:
        """Register (or replace) the account's webhook. Returns it and its secret, which is
        shown only here. Raises Invalid (webhook_url_refused) for a URL the SSRF policy
        refuses."""
        parsed_events = rules.parse_events(events)  # before DNS: a bad body costs no lookup
        checked = await self.check_url(url)
        secret = rules.new_secret(self._rt.random_bytes(rules.SECRET_RANDOM_BYTES))
        webhook_id = "wh_" + self._rt.random_bytes(12).hex()
        webhook = await self._store.upsert_webhook(
            account.id,
            webhook_id=webhook_id,
            url=checked.url,
            secret=secret,
            events=parsed_events,
            payload_format=payload_format,
            now_us=self._rt.clock_us(),
        )
        self._hooked.add(account.id)
        return webhook, secret

    async def get(self, account: Account) -> tuple[Webhook, list[FailedDelivery]]:
        """The webhook (no secret) and its latest given-up deliveries; NotFound if none."""
        webhook = await self._store.get_webhook(account.id)
        if webhook is None:
            raise NotFound("no webhook registered", ErrorCode.WEBHOOK_NOT_FOUND)
        return webhook, await self._store.recent_webhook_failures(account.id)

    async def delete(self, account: Account) -> None:
        """Unregister; pending deliveries are dropped. NotFound if there was none."""
        self._hooked.discard(account.id)
        if not await self._store.delete_webhook(account.id):
            raise NotFound("no webhook registered", ErrorCode.WEBHOOK_NOT_FOUND)

    async def check_url(self, url: object) -> rules.WebhookUrl:
        """The SSRF policy: static checks, then every address the host resolves to."""
        allow_private = self._rt.settings.webhook_allow_private
        checked = rules.parse_webhook_url(url, allow_private=allow_private)
        try:
            httpx.URL(checked.url)  # the client's own parser (IDNA 2008) must take it too
        except httpx.InvalidURL as exc:
            raise Invalid(f"url is not a valid URL: {exc}") from None
        if not allow_private:
            rules.check_resolved(checked.host, await resolve_host(checked.host, checked.port))
        return checked

    # --- the delivery worker --------------------------------------------------------------
    def committed(self, items: Sequence[InboxItem]) -> None:
        """services/publishing.py's Publisher calls this after each commit; cheap when nobody has a
        webhook."""
        hooked = self._hooked
        if hooked and any(item.context.recipient_id in hooked for item in items):
            self._wake()

    async def refresh_hooked(self) -> None:
        self._hooked = set(await self._store.webhook_accounts())

    async def claim(self, limit: int) -> list[Delivery]:
        settings = self._rt.settings
        now = self._rt.clock_us()
        lease_secs = settings.webhook_timeout_secs + LEASE_MARGIN_SECS
        return await self._store.claim_webhook_deliveries(
            now_us=now,
            lease_until_us=now + int(lease_secs * 1_000_000),
            limit=limit,
            retry_after_us=self._retry_after_us,
            horizon_us=int(settings.webhook_retry_horizon_secs * 1_000_000),
        )

    def _retry_after_us(self, attempt: int) -> int:
        """The delay after failed attempt number `attempt` (full jitter), in µs."""
        settings = self._rt.settings
        delay = rules.retry_delay_secs(
            attempt,
            base=settings.webhook_backoff_base_secs,
            maximum=settings.webhook_backoff_max_secs,
            unit_random=self._random.random(),
        )
        return int(delay * 1_000_000)

    async def delivered(self, delivery: Delivery) -> None:
        await self._store.mark_webhook_delivered(
            delivery.id, delivery.account_id, now_us=self._rt.clock_us()
        )

    async def attempt_failed(
        self, delivery: Delivery, *, status: int | None, error: str
    ) -> int | None:
        """Schedule the next attempt (full-jitter backoff) or give up past the retry horizon.
        Returns the next attempt's time (µs), or None when given up."""
        settings = self._rt.settings
        now = self._rt.clock_us()
        next_at: int | None = now + self._retry_after_us(delivery.attempts)
        horizon = delivery.created_at_us + int(settings.webhook_retry_horizon_secs * 1_000_000)
        if delivery.item is None or (next_at is not None and next_at > horizon):
            next_at = None
        await self._store.reschedule_webhook_delivery(
            delivery.id,
            delivery.account_id,
            status=status,
            error=rules.shorten_error(error),
            next_attempt_us=next_at,
            now_us=now,
        )
        return next_at

    async def release(self, delivery_ids: list[int]) -> None:
        """Give back leases of attempts cut short (a clean shutdown)."""
        await self._store.release_webhook_leases(delivery_ids, now_us=self._rt.clock_us())

    async def queue_depth(self) -> int:
        return await self._store.webhook_queue_depth()

    async def get_for(self, account_id: AccountId) -> Webhook | None:
        return await self._store.get_webhook(account_id)
