"""What Store methods return besides domain objects (store/base.py holds the Store).

Kept apart from the Store so the query modules can use them without importing the Store,
which imports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import InboxItem, Message


@dataclass(frozen=True, slots=True, kw_only=True)
class Appended:
    """Result of append_message: the stored message and the inbox rows it created.

    `replayed` is True when an earlier send with the same idempotency key was found; then
    `message` is that earlier message and `items` is empty (nothing new was written).
    """

    message: Message
    items: tuple[InboxItem, ...]
    replayed: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxPage:
    items: list[InboxItem]
    head_seq: int
    """The recipient's highest allocated seq when the page was read."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ThreadSummary:
    thread_id: ThreadId
    peer_id: AccountId | None
    last_message_at_us: int
    last_message: Message | None
    """None once retention has purged it."""
