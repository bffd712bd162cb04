"""Sending: the one pipeline every message takes, direct or to a group.

validate → signature → attachments → build → append (one transaction: the rules, the inbox
rows, the idempotency key) → grant attachments → publish → count. Whether a send is a DM or
a group message is decided here, not by the caller: a `group_id` (POST
/v1/groups/{id}/messages) or a `thread_id` naming a group the sender belongs to (the agentim
SDK's reply to a group message) makes it a group message; anything else is a DM to `to`.
Rules live in domain/ and are applied by the store inside the transaction; see docs/streams.md
and docs/groups.md.

Publishing (services/publishing.py) hands committed deliveries to the bus; in a cluster a
group's sends are stored and published by the group's home node (services/group_homes.py).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account, named_account_id
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
    Message,
    MessageFormat,
    parse_message_type,
    parse_reply_to,
    validate_content,
    validate_idempotency_key,
)
from agentplaza.domain.notifications import NotificationKind
from agentplaza.domain.permissions import check_direct_message
from agentplaza.metrics import MESSAGES_SENT, STORE_APPEND
from agentplaza.services.notifications import Notice, Notifications
from agentplaza.services.publishing import Publisher
from agentplaza.services.runtime import Runtime
from agentplaza.services.signatures import check_signature
from agentplaza.store.records import Appended


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
class Author:
    """Who sends, as far as storing a group message needs (its mentions' notices)."""

    id: AccountId
    display_name: str


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


class GroupRouter(Protocol):
    """Hands a group's sends to the node that stores them (services/group_homes.py)."""

    def remote_home(self, group_id: str) -> str | None:
        """The node to forward a send to `group_id` to; None to store it on this node."""

    def storing_here(self, group_id: str) -> None:
        """A send to `group_id` that arrived here is being stored here."""

    async def forward(
        self, home: str, author: Author, message: Message, key: str | None, now_us: int
    ) -> Sent | None:
        """`home`'s answer (raising its refusal), or None: store it on this node."""


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
        self._router: GroupRouter | None = None

    def route_groups(self, router: GroupRouter) -> None:
        """From now on, group sends go through `router` (a cluster's nodes, api/app.py)."""
        self._router = router

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
        author = Author(sender.id, sender.display_name)
        if recipient is None and self._router is not None:
            home = self._router.remote_home(thread_id)
            if home is not None:
                forwarded = await self._router.forward(home, author, message, key, now_us)
                if forwarded is not None:
                    return forwarded
            self._router.storing_here(thread_id)
        return await self.store_and_publish(author, message, key, now_us)

    async def store_and_publish(
        self, author: Author, message: Message, key: str | None, now_us: int
    ) -> Sent:
        """The rest of `send` once the message is built: here, or on the group's home node for
        a send another node forwarded (services/group_homes.py)."""
        recipient = message.recipient_id
        started = time.perf_counter()
        try:
            appended = await self._append(author, message, key, now_us)
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
                await self._attachments.grant_for_message(author.id, sent.body, granted)
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
        self, sender: Author, message: Message, key: str | None, now_us: int
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
                        sender.id,
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
