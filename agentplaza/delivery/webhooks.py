"""The webhook delivery worker: claim due outbox rows, POST them signed, record the outcome.

At least once: a row leaves the outbox only after a 2xx, so a crash between the POST and the
record sends it again (the receiver dedups by message id or `X-AgentIM-Delivery`). One
webhook's deliveries go out one at a time in seq order (the claim takes only the oldest
pending row per account); different webhooks are served concurrently, the accounts served
least recently first, and a POST that runs longer than `webhook_slow_after_secs` stops
counting against `webhook_concurrency`, so slow receivers delay only their own account.
See docs/webhooks.md.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress

import httpx
import orjson

from agentplaza import __version__
from agentplaza.domain import webhooks as rules
from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.messages import delivery_view
from agentplaza.domain.webhooks import Delivery, PayloadFormat
from agentplaza.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_QUEUE_DEPTH
from agentplaza.services.checked_http import CheckedNetworkBackend, CheckedTransport
from agentplaza.services.webhooks import Webhooks, resolve_host
from agentplaza.settings import Settings

log = logging.getLogger(__name__)
USER_AGENT = f"agentplaza-webhook/{__version__}"
QUEUE_DEPTH_INTERVAL_SECS = 5.0
DELIVERED = WEBHOOK_ATTEMPTS.labels("delivered")
RETRIED = WEBHOOK_ATTEMPTS.labels("retry")
GAVE_UP = WEBHOOK_ATTEMPTS.labels("failed")


def delivery_body(delivery: Delivery, now_s: int) -> bytes:
    """The POST body in the webhook's format: the delivered message object itself
    (agentim-wire §3.1) plus the top-level `event` the SDK ignores, or seeds/000's
    envelope for a webhook registered over /ai."""
    assert delivery.item is not None
    if delivery.payload_format is PayloadFormat.AI:
        return orjson.dumps(rules.ai_payload(delivery.item, now_s))
    view = delivery_view(delivery.item)
    view["event"] = rules.EVENT_MESSAGE_CREATED
    return orjson.dumps(view)


class WebhookWorker:
    """One per process, started and stopped by api/app.py's lifespan."""

    def __init__(self, webhooks: Webhooks, settings: Settings, *, due: asyncio.Event) -> None:
        """`due` is set when a delivery is due now (services/webhooks.py sets it on a commit
        for an account with a webhook; this worker when a slot frees)."""
        self._webhooks = webhooks
        self._settings = settings
        self._wake = due
        # Each attempt in flight, with the loop time it started.
        self._inflight: dict[asyncio.Task[None], tuple[Delivery, float]] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        transport = None
        limits = httpx.Limits(max_connections=self._settings.webhook_max_in_flight)
        if not self._settings.webhook_allow_private:
            backend = CheckedNetworkBackend(resolve_host, rules.check_resolved)
            transport = CheckedTransport(backend, limits=limits)
        self._client = httpx.AsyncClient(
            timeout=self._settings.webhook_timeout_secs,
            follow_redirects=False,  # a redirect could lead past the SSRF check
            trust_env=False,  # no proxy from the environment: the check is on the target
            # The body is never decompressed (a few hundred bytes of stacked gzip inflate to
            # gigabytes); ask for it plain, and read whatever comes raw, under the cap.
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            limits=limits,
            transport=transport,
        )
        self._task = asyncio.get_running_loop().create_task(self._run(), name="webhook-worker")

    async def stop(self) -> None:
        """Stop claiming; cut in-flight POSTs short and give their leases back, so they are
        retried after the restart (at least once; after a crash the leases expire instead)."""
        cut = [delivery for delivery, _ in self._inflight.values()]
        tasks = [t for t in (self._task, *self._inflight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        if cut:
            # A clean stop gives their leases back, so the next start retries them at once.
            try:
                await self._webhooks.release([d.id for d in cut])
            except Exception:
                log.exception("webhook worker: releasing leases failed; they will expire")
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        depth_at = 0.0
        while True:
            try:
                free = self._free_slots(loop.time())
                if free > 0:
                    for delivery in await self._webhooks.claim(free):
                        if delivery.lease_ran_out and self._in_flight(delivery.id):
                            continue  # its lease ran out mid-attempt; that attempt decides
                        task = loop.create_task(self._deliver(delivery))
                        self._inflight[task] = (delivery, loop.time())
                        task.add_done_callback(self._finished)
                if loop.time() >= depth_at:
                    WEBHOOK_QUEUE_DEPTH.set(await self._webhooks.queue_depth())
                    await self._webhooks.refresh_hooked()  # registrations on other nodes
                    depth_at = loop.time() + QUEUE_DEPTH_INTERVAL_SECS
            except Exception:
                log.exception("webhook worker: claiming due deliveries failed; will retry")
            self._wake.clear()
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._next_look(loop.time()))

    def _in_flight(self, delivery_id: int) -> bool:
        """Whether an attempt at `delivery_id` runs here. Asked only of a row whose lease ran
        out: a row whose attempt recorded its outcome (lease released) may be claimed again
        before that attempt's task has ended, and that claim is the next attempt."""
        return any(d.id == delivery_id for d, _ in self._inflight.values())

    def _free_slots(self, now: float) -> int:
        """Attempts that may start now: `webhook_concurrency` counts only the attempts younger
        than `webhook_slow_after_secs`, so receivers that stall (one attempt per account at a
        time) cannot hold every slot; `webhook_max_in_flight` bounds them all."""
        slow_after = self._settings.webhook_slow_after_secs
        young = sum(1 for _, started in self._inflight.values() if now - started < slow_after)
        return min(
            self._settings.webhook_concurrency - young,
            self._settings.webhook_max_in_flight - len(self._inflight),
        )

    def _next_look(self, now: float) -> float:
        """Seconds until the next poll, or until an attempt turns slow and frees its slot."""
        wait = self._settings.webhook_poll_interval_secs
        slow_after = self._settings.webhook_slow_after_secs
        for _, started in self._inflight.values():
            if now - started < slow_after:
                wait = min(wait, started + slow_after - now + 0.001)
        return wait

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self._wake.set()  # a free slot, and maybe the next row of that webhook is due

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            status, error = await self._post(delivery)
            if error is None:
                await self._webhooks.delivered(delivery)
                DELIVERED.inc()
                return
            next_at = await self._webhooks.attempt_failed(delivery, status=status, error=error)
            (RETRIED if next_at is not None else GAVE_UP).inc()
            if next_at is None:
                log.warning(
                    "webhook delivery %d to account %s given up after %d attempts: %s",
                    delivery.id,
                    delivery.account_id,
                    delivery.attempts,
                    error,
                )
        except Exception:
            # The lease expires and the row is tried again: nothing is lost.
            log.exception("webhook delivery %d: recording the outcome failed", delivery.id)

    async def _post(self, delivery: Delivery) -> tuple[int | None, str | None]:
        """One attempt. Returns (HTTP status or None, None on success else the error).

        Every way an attempt can go wrong is a failed attempt, so the retry horizon gives
        it up in the end. One deadline covers the whole attempt (httpx's timeout is per
        connect or read: a receiver trickling its answer would otherwise outlive the lease,
        and the row would be claimed again while this POST still runs)."""
        if delivery.item is None:
            return None, "the message is no longer stored"
        deadline = self._settings.webhook_timeout_secs
        try:
            async with asyncio.timeout(deadline):
                return await self._attempt(delivery)
        except TimeoutError:
            return None, f"timed out after {deadline:g} s"
        except AgentplazaError as exc:  # the SSRF policy, before or at connect time
            return None, f"refused: {exc.detail}"
        except Exception as exc:  # httpx's errors, and any other: an attempt that failed
            return None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

    async def _attempt(self, delivery: Delivery) -> tuple[int | None, str | None]:
        assert delivery.item is not None and self._client is not None
        # The policy may have changed since registration. No DNS lookup here: the connection
        # resolves and checks the addresses it actually uses (checked_http.py).
        rules.parse_webhook_url(delivery.url, allow_private=self._settings.webhook_allow_private)
        timestamp = int(time.time())  # fresh per attempt: receivers refuse old ones
        body = delivery_body(delivery, timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-AgentIM-Signature": rules.sign(delivery.secret, timestamp, body),
            "X-AgentIM-Timestamp": str(timestamp),
            "X-AgentIM-Event": rules.EVENT_MESSAGE_CREATED,
            "X-AgentIM-Delivery": str(delivery.id),
        }
        cap = self._settings.webhook_max_response_bytes
        async with self._client.stream(
            "POST", delivery.url, content=body, headers=headers
        ) as response:
            received = bytearray()
            async for chunk in response.aiter_raw():  # raw: never decompressed
                received += chunk[: cap - len(received)]
                if len(received) >= cap:
                    break
        if 200 <= response.status_code < 300:
            return response.status_code, None
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding != "identity":
            text = f"({encoding}-encoded body not read)"
        else:
            text = bytes(received).decode("utf-8", "replace")
        return response.status_code, f"HTTP {response.status_code}: {text}".strip()
