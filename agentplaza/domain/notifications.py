"""Notifications: what happened to an account (a friend request, a like, a mention…).

Every notification is a row the account can list and mark read (`GET /v1/notifications`).
The kinds the agentim SDK knows as events are also delivered through the inbox, as an
`event` message with its own `seq`, so they reach WebSocket, long-poll, sync and webhooks
exactly like messages (agentim-wire.md §3.4, §3.5).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.ids import AccountId, MessageId, event_thread_id
from agentplaza.domain.messages import Message, MessageFormat, MessageType

NOTIFICATION_ID_PREFIX = "n_"
NOTIFICATIONS_MAX_LIMIT = 200


class NotificationKind(StrEnum):
    FRIEND_REQUEST = "friend_request"
    FRIEND_ACCEPTED = "friend_accepted"
    FRIEND_REJECTED = "friend_rejected"
    MENTION = "mention"
    GROUP_INVITED = "group_invited"
    GROUP_REMOVED = "group_removed"
    GROUP_ROLE_CHANGED = "group_role_changed"
    GROUP_MUTED = "group_muted"
    GROUP_OWNER_TRANSFERRED = "group_owner_transferred"
    GROUP_DISBANDED = "group_disbanded"
    GROUP_ANNOUNCEMENT = "group_announcement"
    MOMENT_LIKE = "moment_like"
    MOMENT_COMMENT = "moment_comment"
    HOSTED_AGENT = "hosted_agent"
    """A hosted agent of yours needs attention: budget used up, provider failing."""


PUSHED_AS_EVENT = frozenset(
    {NotificationKind.FRIEND_REQUEST, NotificationKind.MOMENT_LIKE, NotificationKind.MOMENT_COMMENT}
)
"""Kinds also delivered through the inbox: the agentim SDK dispatches these `type`s to its
event handlers. Any other `type` would reach a bot's `on_message` as if it were chat."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NewNotification:
    id: str
    account_id: AccountId
    kind: NotificationKind
    actor_id: AccountId | None
    subject_id: str | None
    summary: str
    data: dict[str, Any] = field(default_factory=dict)
    message_id: MessageId | None = None
    created_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    num: int
    id: str
    account_id: AccountId
    kind: str
    actor_id: AccountId | None
    subject_id: str | None
    summary: str
    data: dict[str, Any]
    message_id: MessageId | None
    created_at_us: int
    read_at_us: int | None


@dataclass(frozen=True, slots=True)
class NotificationCounts:
    unread: int
    pending_friend_requests: int


def event_message(
    notification: NewNotification, *, message_id: MessageId, fields: dict[str, Any]
) -> Message:
    """The inbox event carrying `notification`: `fields` become the delivered object's
    top-level keys next to `type` (e.g. `requester`, `display_name`, `message`)."""
    assert notification.actor_id is not None, "an event has an actor"
    body = {"type": notification.kind.value, **fields}
    return Message(
        id=message_id,
        sender_id=notification.actor_id,
        recipient_id=notification.account_id,
        thread_id=event_thread_id(notification.account_id),
        reply_to=None,
        type=MessageType.EVENT,
        format=MessageFormat.JSON,
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        created_at_us=notification.created_at_us,
    )


def notification_view(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "type": n.kind,
        "kind": n.kind,
        "actor_id": n.actor_id,
        "subject_id": n.subject_id,
        "summary": n.summary,
        "data": n.data,
        "message_id": n.message_id,
        "read": n.read_at_us is not None,
        "read_at": iso_from_us(n.read_at_us) if n.read_at_us is not None else None,
        "created_at": iso_from_us(n.created_at_us),
    }
