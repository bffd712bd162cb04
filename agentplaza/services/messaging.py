"""Direct messages: send, read the inbox (pending, sync), ack, threads, retention purge.

See docs/streams.md for the seq contract and docs/realtime.md for how deliveries reach
live connections (this module publishes; realtime/hub.py pushes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import orjson

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account, named_account_id
from agentplaza.domain.cursors import SYNC_MAX_LIMIT, next_sync_seq
from agentplaza.domain.envelopes import Envelope, encode_envelope, topic_for
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import (
    RECIPIENT_KEYS,
    InboxItem,
    Message,
    MessageFormat,
    delivery_view,
    parse_message_type,
    parse_reply_to,
    recipient_fields,
    validate_content,
    validate_idempotency_key,
)
from agentplaza.domain.permissions import check_direct_message
from agentplaza.metrics import (
    BUS_PUBLISH_SECONDS,
    MESSAGES_SENT,
    STORE_APPEND,
    STORE_READ_PENDING,
    STORE_READ_SYNC,
)
from agentplaza.services.container import Runtime
from agentplaza.services.signatures import check_signature
from agentplaza.store.records import InboxPage, ThreadSummary

log = logging.getLogger(__name__)
PUBLISH_FAILURE_LOG_INTERVAL_SECS = 10.0
PURGE_CHUNK = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    """A send request after the API has parsed it (still unvalidated)."""

    to: object
    format: str
    body: object
    thread_id: str | None = None
    reply_to: str | None = None
    type: str | None = None
    idempotency_key: str | None = None
    signature: str | None = None
    """Hex DER ECDSA signature of the body (docs/signatures.md); checked before storing."""


class Attachments(Protocol):
    """What a send needs from services/files.py: image messages may show our own files."""

    async def check_shareable(self, sender_id: AccountId, body_json_url: str) -> None:
        """Raise if the image is one of our files the sender may not read."""

    async def grant_for_message(
        self, sender_id: AccountId, body_json_url: str, recipients: Sequence[AccountId]
    ) -> None:
        """Let the recipients download the sender's file the image shows."""


@dataclass(frozen=True, slots=True)
class SyncResult:
    items: list[InboxItem]
    next_seq: int
    has_more: bool


def encode_delivery(item: InboxItem) -> bytes:
    return orjson.dumps(delivery_view(item))


def encode_deliveries(items: Sequence[InboxItem]) -> list[bytes]:
    """encode_delivery for each item; a fan-out's shared message is encoded only once.

    Each recipient's object is its own fields spliced in front of the shared ones, e.g.
    `{"to":"10002","seq":7,…` + `"id":…}`: the same JSON object as delivery_view (key
    order aside), at a fraction of the cost for a 50-member group.
    """
    if len(items) == 1:
        return [encode_delivery(items[0])]
    encoded = []
    shared_for: Message | None = None
    shared = b""
    for item in items:
        if item.message is not shared_for:
            shared_for = item.message
            view = delivery_view(item)
            for own in RECIPIENT_KEYS:
                view.pop(own, None)
            shared = orjson.dumps(view)
        own_fields = orjson.dumps(recipient_fields(item))
        encoded.append(own_fields[:-1] + b"," + shared[1:])
    return encoded


class Messaging:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._unlogged_publish_failures = 0
        self._publish_failure_logged_at = float("-inf")
        self.attachments: Attachments | None = None  # set by services/registry.py
        # Called with each committed batch (services/webhooks.py: wakes the webhook worker).
        self.committed: Callable[[Sequence[InboxItem]], None] | None = None

    async def send(self, sender: Account, out: Outgoing) -> tuple[Message, bool]:
        """Store a DM durably, then publish it. Returns (message, replayed)."""
        recipient = named_account_id(out.to)
        key = None if out.idempotency_key is None else validate_idempotency_key(out.idempotency_key)
        fmt, body = validate_content(
            out.format, out.body, max_bytes=self._rt.settings.max_message_body_bytes
        )
        msg_type = parse_message_type(out.type, out.reply_to)
        reply_to = parse_reply_to(out.reply_to)
        signature, signer_key = await check_signature(self._store, sender.id, body, out.signature)
        if fmt is MessageFormat.IMAGE and self.attachments is not None:
            await self.attachments.check_shareable(sender.id, body)
        thread_id = await self._thread_for(sender.id, recipient, out.thread_id)
        now_us = self._rt.clock_us()
        message = Message(
            id=ids.new_message_id(now_us // 1000, self._rt.random_bytes(10)),
            sender_id=sender.id,
            recipient_id=recipient,
            thread_id=thread_id,
            reply_to=reply_to,
            type=msg_type,
            format=fmt,
            body=body,
            created_at_us=now_us,
            signature=signature,
            signer_public_key=signer_key,
        )
        started = time.perf_counter()
        try:
            appended = await self._store.append_direct_message(
                message, decide=check_direct_message, idempotency_key=key
            )
        finally:
            STORE_APPEND.observe(time.perf_counter() - started)
        sent = appended.message
        if sent.format is MessageFormat.IMAGE and self.attachments is not None:
            # Before the push, so the recipient can fetch the image as soon as it arrives.
            # Also on a replay (of the stored message): the grant is idempotent and repairs
            # one a crash cut off.
            await self.attachments.grant_for_message(sender.id, sent.body, [recipient])
        await self.publish(appended.items)
        if not appended.replayed:
            MESSAGES_SENT.inc()
        return appended.message, appended.replayed

    async def _thread_for(
        self, sender: AccountId, recipient: AccountId, requested: str | None
    ) -> ThreadId:
        """The pair's thread, unless the sender names another thread it shares with them.

        A thread id the pair does not share is ignored rather than refused: the agentim SDK
        replies with whatever thread id it received, and refusing would break the reply.
        """
        pair_thread = ids.dm_thread_id(sender, recipient)
        if not requested or requested == pair_thread:
            return pair_thread
        if not isinstance(requested, str) or not ids.is_thread_id(requested):
            raise Invalid("thread_id is not a valid thread id", ErrorCode.INVALID_ID)
        peer = await self._store.find_thread_peer(sender, ThreadId(requested))
        return ThreadId(requested) if peer == recipient else pair_thread

    async def publish(self, items: Sequence[InboxItem]) -> None:
        """Tell the nodes holding the recipients' connections; call after the commit."""
        if not items:
            return
        if self.committed is not None:
            self.committed(items)
        started = time.perf_counter()
        messages = [
            (topic_for(item.context.recipient_id), encode_envelope(Envelope(item.seq, body)))
            for item, body in zip(items, encode_deliveries(items), strict=True)
        ]
        try:
            # One call for the whole fan-out: on Redis one pipeline, not one round trip each.
            await self._rt.bus.publish_many(messages)
        except Exception as exc:
            self._publish_failed(items, exc)
        # Once per batch, not per recipient: a 50-member fan-out would pay 50 observations.
        BUS_PUBLISH_SECONDS.observe(time.perf_counter() - started)

    def _publish_failed(self, items: Sequence[InboxItem], exc: Exception) -> None:
        # The store has the message; receivers recover it by seq (sync, reconnect, gap fill).
        # With the bus down every send fails here: one line per interval, not per send.
        item = items[-1]
        self._unlogged_publish_failures += len(items)
        now = self._rt.monotonic()
        if now - self._publish_failure_logged_at >= PUBLISH_FAILURE_LOG_INTERVAL_SECS:
            log.warning(
                "bus publish failing (%d since the last report; last: %s seq %d): %s",
                self._unlogged_publish_failures,
                item.context.recipient_id,
                item.seq,
                exc,
            )
            self._unlogged_publish_failures = 0
            self._publish_failure_logged_at = now

    async def unacked(self, account: Account, *, limit: int) -> InboxPage:
        started = time.perf_counter()
        try:
            return await self._store.read_inbox(
                account.id, after_seq=0, limit=limit, unacked_only=True
            )
        finally:
            STORE_READ_PENDING.observe(time.perf_counter() - started)

    async def sync(
        self, account: Account, *, since_seq: int | None, since_us: int | None, limit: int
    ) -> SyncResult:
        """Items after a seq (or a time), regardless of ack state, ascending."""
        limit = min(limit, SYNC_MAX_LIMIT)
        if since_seq is None and since_us is not None:
            with STORE_READ_SYNC.time():
                page = await self._store.read_inbox_since_time(
                    account.id, since_us=since_us, limit=limit + 1
                )
            start = 0
        else:
            start = since_seq or 0
            if start < 0:
                raise Invalid("since_seq must be >= 0")
            with STORE_READ_SYNC.time():
                page = await self._store.read_inbox(
                    account.id, after_seq=start, limit=limit + 1, unacked_only=False
                )
        items = page.items[:limit]
        return SyncResult(
            items=items,
            next_seq=next_sync_seq(start, [i.seq for i in items]),
            has_more=len(page.items) > limit,
        )

    async def ack(self, account: Account, message_id: str) -> None:
        if not ids.is_message_id(message_id):
            raise NotFound("no such message in your inbox", ErrorCode.MESSAGE_NOT_FOUND)
        if not await self._store.ack(account.id, message_id, now_us=self._rt.clock_us()):
            raise NotFound("no such message in your inbox", ErrorCode.MESSAGE_NOT_FOUND)

    async def ack_up_to(self, account: Account, seq: int) -> int:
        if seq < 0:
            raise Invalid("seq must be >= 0")
        return await self._store.ack_up_to(account.id, seq, now_us=self._rt.clock_us())

    async def threads(self, account: Account, *, limit: int) -> list[ThreadSummary]:
        return await self._store.list_threads(account.id, limit=limit)

    async def thread_messages(
        self, account: Account, thread_id: str, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        if not ids.is_thread_id(thread_id):
            raise NotFound("no such thread", ErrorCode.THREAD_NOT_FOUND)
        rows = await self._store.read_thread(
            account.id, ThreadId(thread_id), before_num=before_num, limit=limit
        )
        if rows is None:
            raise NotFound("no such thread", ErrorCode.THREAD_NOT_FOUND)
        return rows

    async def purge_expired(self) -> int:
        """Delete what retention allows: items acked more than `retention_days` ago,
        notifications created that long ago (read or not), and webhook deliveries given up
        that long ago.

        Works in chunks, each its own short transaction, so a large purge never holds the
        writer (or, with SQLite, the event loop) for long.
        """
        now = self._rt.clock_us()
        cutoff = now - int(self._rt.settings.retention_days * 86400 * 1_000_000)
        removed = 0
        while True:
            chunk = await self._store.purge(acked_before_us=cutoff, now_us=now, limit=PURGE_CHUNK)
            removed += chunk
            if chunk < PURGE_CHUNK:
                return removed
