"""Sending: the one pipeline every message takes, direct or to a group.

validate → signature → attachments → build → append (one transaction: the rules, the inbox
rows, the idempotency key) → grant attachments → publish → count. Whether a send is a DM or
a group message is decided here, not by the caller: a `group_id` (POST
/v1/groups/{id}/messages) or a `thread_id` naming a group the sender belongs to (the agentim
SDK's reply to a group message) makes it a group message; anything else is a DM to `to`.
Rules live in domain/ and are applied by the store inside the transaction; see docs/streams.md
and docs/groups.md.

Publishing (the Publisher below) hands committed deliveries to the bus, which carries them to
the nodes holding the recipients' connections (realtime/hub.py pushes them; docs/realtime.md).
The store is the truth and the bus a fast path: a failed publish is logged, not raised, and
receivers recover what they missed by seq (docs/streams.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import orjson

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account, named_account_id
from agentplaza.domain.envelopes import FANOUT_TOPIC, TOPIC_PREFIX, encode_fanout
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.groups import (
    GroupDecision,
    GroupSendFacts,
    is_group_id,
    parse_mentions,
    plan_group_delivery,
)
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
from agentplaza.domain.notifications import NotificationKind
from agentplaza.domain.permissions import check_direct_message
from agentplaza.metrics import BUS_PUBLISH_SECONDS, MESSAGES_SENT, STORE_APPEND
from agentplaza.services.notifications import Notice, Notifications
from agentplaza.services.runtime import Runtime
from agentplaza.services.signatures import check_signature
from agentplaza.store.records import Appended

log = logging.getLogger(__name__)
PUBLISH_FAILURE_LOG_INTERVAL_SECS = 10.0
FANOUT_MIN = 4
"""A batch of this many deliveries or more is one FANOUT_TOPIC publication that every node
reads; fewer go to each recipient's topic, read only by the nodes holding it."""
MAX_PUBLISHING = 1_000
"""Background publications (Publisher.publish_in_background) in flight before a send waits
for its own."""


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
    return [own + tail for own, tail in delivery_parts(items)]


def delivery_parts(items: Sequence[InboxItem]) -> list[tuple[bytes, bytes]]:
    """(own, tail) per item, its encode_delivery being `own + tail`: `own` is the recipient's
    fields without the closing `}`, `tail` the message's shared fields from the `,` on, one
    object for all the items of one message."""
    parts = []
    shared_for: Message | None = None
    shared_tail = b""
    for item in items:
        if item.message is not shared_for:
            shared_for = item.message
            view = delivery_view(item)
            for own in RECIPIENT_KEYS:
                view.pop(own, None)
            shared_tail = b"," + orjson.dumps(view)[1:]
        parts.append((orjson.dumps(recipient_fields(item))[:-1], shared_tail))
    return parts


class Publisher:
    def __init__(
        self, runtime: Runtime, *, committed: Callable[[Sequence[InboxItem]], None]
    ) -> None:
        """`committed` sees each committed batch first (services/webhooks.py: it wakes the
        webhook worker at once rather than at its next poll)."""
        self._rt = runtime
        self._committed = committed
        self._unlogged_failures = 0
        self._failure_logged_at = float("-inf")
        self._in_flight: set[asyncio.Task[None]] = set()

    async def publish(self, items: Sequence[InboxItem]) -> None:
        """Tell the nodes holding the recipients' connections; call after the commit."""
        if not items:
            return
        self._committed(items)
        await self._publish(items)

    async def publish_in_background(self, items: Sequence[InboxItem]) -> None:
        """`publish`, but returning before the bus has the publication, so a send is
        answered one bus round trip sooner: PostgreSQL + Redis, alternated, medians of 3, DM
        10 pairs +10 %, group of 50 × 1 sender +11 %, × 5 senders +14 % (bench/README.md,
        ninth round). The store already has the message; the bus is the fast path.

        Order holds: each bus queues a publication in its first step, and tasks take their
        first step in the order they were created. Past MAX_PUBLISHING in flight (a slow
        bus), the caller waits for its own, which pushes back on senders. `drain()` at
        shutdown lets them finish before the bus closes.
        """
        if not items:
            return
        self._committed(items)
        task = asyncio.get_running_loop().create_task(self._publish(items))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if len(self._in_flight) > MAX_PUBLISHING:
            await asyncio.wait([task])  # not cancelled with its caller: it is committed

    async def drain(self) -> None:
        """Wait for the publications in flight (at shutdown, before the bus closes)."""
        while self._in_flight:
            await asyncio.wait(list(self._in_flight))

    async def _publish(self, items: Sequence[InboxItem]) -> None:
        started = time.perf_counter()
        messages: list[tuple[str, bytes]]
        if len(items) >= FANOUT_MIN:
            # One publication for the whole fan-out, read by every node (FANOUT_TOPIC), not
            # one per recipient. The delivery side of a 50-member group (publish, Redis, the
            # subscriber, the hub; bench/delivery_cpu.py, medians of 3, a loaded machine),
            # CPU per delivery, 49 publications -> 1: 1 sender: node 20.5 -> 12.8 µs, Redis
            # 4.8 -> 1.5 µs; 5 senders: node 13.9 -> 6.4 µs, Redis 3.1 -> 0.95 µs.
            fanout = [
                (item.context.recipient_id, item.seq, own, tail)
                for item, (own, tail) in zip(items, delivery_parts(items), strict=True)
            ]
            messages = [(FANOUT_TOPIC, encode_fanout(fanout))]
        else:
            # encode_envelope's bytes, without an Envelope per delivery.
            messages = [
                (TOPIC_PREFIX + item.context.recipient_id, item.seq.to_bytes(8, "big") + body)
                for item, body in zip(items, encode_deliveries(items), strict=True)
            ]
        try:
            # One call for the whole batch: on Redis one script call, not one round trip each.
            await self._rt.bus.publish_many(messages)
        except Exception as exc:
            self._failed(items, exc)
        # Once per batch, not per recipient: a 50-member fan-out would pay 50 observations.
        BUS_PUBLISH_SECONDS.observe(time.perf_counter() - started)

    def _failed(self, items: Sequence[InboxItem], exc: Exception) -> None:
        # The store has the message; receivers recover it by seq (sync, reconnect, gap fill).
        # With the bus down every send fails here: one line per interval, not per send.
        item = items[-1]
        self._unlogged_failures += len(items)
        now = self._rt.monotonic()
        if now - self._failure_logged_at >= PUBLISH_FAILURE_LOG_INTERVAL_SECS:
            log.warning(
                "bus publish failing (%d since the last report; last: %s seq %d): %s",
                self._unlogged_failures,
                item.context.recipient_id,
                item.seq,
                exc,
            )
            self._unlogged_failures = 0
            self._failure_logged_at = now


@dataclass(slots=True, kw_only=True)
class Outgoing:
    """A send after the API parsed it (still unvalidated).

    Not frozen, like Sent: a frozen dataclass sets each field through object.__setattr__,
    2.4x the cost of this one's __init__, once per send for an object nothing keeps.
    """

    format: str
    body: object
    to: object = None
    """The recipient of a DM (ignored for a group message)."""
    group_id: str | None = None
    """The group of POST /v1/groups/{id}/messages; None for POST /v1/messages."""
    thread_id: str | None = None
    reply_to: str | None = None
    type: str | None = None
    idempotency_key: str | None = None
    signature: str | None = None
    """Hex DER ECDSA signature of the body (docs/signatures.md); checked before storing."""


@dataclass(slots=True)
class Sent:
    message: Message
    replayed: bool
    recipients: int
    """Inbox rows written: 1 for a DM, the other members for a group message."""


class Attachments(Protocol):
    """What a send needs from services/files.py: image messages may show our own files."""

    async def check_shareable(self, sender_id: AccountId, body_json_url: str) -> None:
        """Raise if the image is one of our files the sender may not read."""

    async def grant_for_message(
        self, sender_id: AccountId, body_json_url: str, recipients: Sequence[AccountId]
    ) -> None:
        """Let the recipients download the sender's file the image shows."""


class Sending:
    def __init__(
        self,
        runtime: Runtime,
        *,
        publisher: Publisher,
        notifications: Notifications,
        attachments: Attachments,
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._publisher = publisher
        self._notifications = notifications  # a group message's @mentions
        self._attachments = attachments

    async def send(self, sender: Account, out: Outgoing) -> Sent:
        """Store the message durably, then publish it. An acknowledged send is committed;
        its publication may still be on its way to the bus."""
        # The common DM (no group, no thread, unsigned) makes no call that could not answer
        # at once: each skipped coroutine is one fewer frame per send.
        named_group = out.group_id is not None or out.thread_id
        group_id = await self._group_of(sender, out) if named_group else None
        recipient = None if group_id is not None else named_account_id(out.to)
        key = None if out.idempotency_key is None else validate_idempotency_key(out.idempotency_key)
        fmt, body = validate_content(
            out.format, out.body, max_bytes=self._rt.settings.max_message_body_bytes
        )
        msg_type = parse_message_type(out.type, out.reply_to)
        reply_to = parse_reply_to(out.reply_to)
        signature = signer_key = None
        if out.signature is not None:
            signature, signer_key = await check_signature(
                self._store, sender.id, body, out.signature
            )
        if fmt is MessageFormat.IMAGE:
            await self._attachments.check_shareable(sender.id, body)
        if recipient is None:
            thread_id = ThreadId(str(group_id))
        elif out.thread_id:
            thread_id = await self._dm_thread(sender.id, recipient, out.thread_id)
        else:
            thread_id = ids.dm_thread_id(sender.id, recipient)
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
            appended = await self._append(sender, message, key, now_us)
        finally:
            STORE_APPEND.observe(time.perf_counter() - started)
        sent = appended.message
        if sent.format is MessageFormat.IMAGE:
            # Before the push, so the recipients can fetch the image as soon as it arrives.
            # A DM's also on a replay (of the stored message): the grant is idempotent and
            # repairs one a crash cut off.
            granted = (
                [recipient]
                if recipient is not None
                else [i.context.recipient_id for i in appended.items]
            )
            if granted:
                await self._attachments.grant_for_message(sender.id, sent.body, granted)
        await self._publisher.publish_in_background(appended.items)
        if not appended.replayed:
            MESSAGES_SENT.inc()
        return Sent(sent, appended.replayed, len(appended.items))

    async def drain(self) -> None:
        """Let the sends' publications in flight reach the bus (before it closes)."""
        await self._publisher.drain()

    async def _group_of(self, sender: Account, out: Outgoing) -> str | None:
        """The group this send goes to, or None for a DM."""
        if out.group_id is not None:
            if not is_group_id(out.group_id):  # nothing else can name a group: not found
                raise NotFound("no such group", ErrorCode.GROUP_NOT_FOUND)
            return out.group_id
        # The agentim SDK's `msg.reply()` on a group message sends `POST /v1/messages {"to":
        # <sender>, "thread_id": <group id>}` (agentim-wire §16): a member's reply goes to the
        # group; anyone else's is a plain DM (the thread id is then ignored, see _dm_thread).
        thread = out.thread_id
        if thread and isinstance(thread, str) and is_group_id(thread):
            found = await self._store.get_group(thread, sender.id)
            if found is not None and found[1] is not None:
                return thread
        return None

    async def _append(
        self, sender: Account, message: Message, key: str | None, now_us: int
    ) -> Appended:
        if message.recipient_id is not None:
            return await self._store.append_direct_message(
                message, decide=check_direct_message, idempotency_key=key
            )
        mentions = parse_mentions(message.format, message.body)
        gid = message.thread_id

        def decide(facts: GroupSendFacts) -> GroupDecision:
            deliveries, mentioned = plan_group_delivery(facts, now_us=now_us, mentions=mentions)
            notices = [
                replace(
                    self._notifications.new(
                        sender,
                        Notice(
                            recipient=member,
                            kind=NotificationKind.MENTION,
                            subject_id=gid,
                            summary=f"{sender.display_name} mentioned you in a group",
                            data={"group_id": gid, "message_id": message.id},
                        ),
                    ),
                    message_id=message.id,
                )
                for member in mentioned
            ]
            return deliveries, notices

        return await self._store.append_group_message(message, decide=decide, idempotency_key=key)

    async def _dm_thread(
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
