"""Notifications: record what happened to an account, push the SDK's event kinds, list, read.

See domain/notifications.py for which kinds travel through the inbox as events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, InboxItem, Scene
from agentplaza.domain.notifications import (
    NOTIFICATION_ID_PREFIX,
    PUSHED_AS_EVENT,
    NewNotification,
    Notification,
    NotificationCounts,
    NotificationKind,
    event_message,
)
from agentplaza.domain.permissions import RELATION_STRANGER, TRUST_BY_RELATION
from agentplaza.services.runtime import Runtime

MARK_READ_MAX_IDS = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """One thing to tell `recipient` about, as the services that cause it describe it."""

    recipient: AccountId
    kind: NotificationKind
    subject_id: str | None
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    event_fields: dict[str, Any] = field(default_factory=dict)
    """Top-level keys of the inbox event, for kinds in PUSHED_AS_EVENT (see agentim-wire §3.4)."""
    relation: str = RELATION_STRANGER


class Notifications:
    def __init__(
        self, runtime: Runtime, publish: Callable[[Sequence[InboxItem]], Awaitable[None]]
    ) -> None:
        """`publish` is services/publishing.py's Publisher.publish (pushed notices travel the
        inbox like messages)."""
        self._rt = runtime
        self._store = runtime.store
        self._publish = publish

    def new(self, actor_id: AccountId, notice: Notice) -> NewNotification:
        """The notification row for `notice` (for callers that store it with their own write,
        such as a group message and its mentions)."""
        now_us = self._rt.clock_us()
        return NewNotification(
            id=ids.new_sortable_id(
                NOTIFICATION_ID_PREFIX, now_us // 1000, self._rt.random_bytes(10)
            ),
            account_id=notice.recipient,
            kind=notice.kind,
            actor_id=actor_id,
            subject_id=notice.subject_id,
            summary=notice.summary,
            data=notice.data,
            created_at_us=now_us,
        )

    async def notify(self, actor: Account, notices: Sequence[Notice]) -> None:
        """Record every notice; the SDK's event kinds are also delivered through the inbox.

        Each pushed notice is its own transaction (one inbox row and its notification row);
        the rest are stored together. Call it after the action they describe has committed.
        """
        if not notices:
            return
        quiet = []
        # Nothing from an account you blocked: not even "added you to", "liked your moment".
        blocking = await self._store.blocking(actor.id, [n.recipient for n in notices])
        for notice in notices:
            if notice.recipient == actor.id or notice.recipient in blocking:
                continue  # no notifications about your own actions, nor from the blocked
            row = self.new(actor.id, notice)
            if notice.kind not in PUSHED_AS_EVENT:
                quiet.append(row)
                continue
            message_id = ids.new_message_id(row.created_at_us // 1000, self._rt.random_bytes(10))
            row = replace(row, message_id=message_id)
            fields = {"from": actor.id, "display_name": actor.display_name, **notice.event_fields}
            appended = await self._store.append_message(
                event_message(row, message_id=message_id, fields=fields),
                [
                    DeliveryContext(
                        recipient_id=notice.recipient,
                        scene=Scene.DM,
                        sender_relation=notice.relation,
                        trust_level=TRUST_BY_RELATION.get(notice.relation, "minimal"),
                    )
                ],
                idempotency_key=None,
                notifications=[row],
            )
            await self._publish(appended.items)
        if quiet:
            await self._store.add_notifications(quiet)

    async def list(
        self, account: Account, *, unread_only: bool, before_num: int | None, limit: int
    ) -> list[Notification]:
        return await self._store.list_notifications(
            account.id, unread_only=unread_only, before_num=before_num, limit=limit
        )

    async def mark_read(self, account: Account, notification_ids: Sequence[str] | None) -> int:
        if notification_ids is not None:
            if len(notification_ids) > MARK_READ_MAX_IDS:
                raise Invalid(f"at most {MARK_READ_MAX_IDS} ids at once")
            notification_ids = [
                n for n in notification_ids if ids.is_sortable_id(NOTIFICATION_ID_PREFIX, n)
            ]  # an id that cannot exist marks nothing, like one that is not yours
        return await self._store.mark_notifications_read(
            account.id, notification_ids, now_us=self._rt.clock_us()
        )

    async def get(self, account: Account, notification_id: str) -> Notification | None:
        if not ids.is_sortable_id(NOTIFICATION_ID_PREFIX, notification_id):
            return None
        return await self._store.get_notification(account.id, notification_id)

    async def counts(self, account_id: AccountId) -> NotificationCounts:
        return await self._store.notification_counts(account_id)
