"""The Store interface: the only durable state of agentplaza.

Every method is a coroutine that returns only after its effect is durable (writes) or reads
committed data (reads). Implementations: `store/sqlite.py` (group commit on the loop thread)
and later `store/postgres.py`, both running the synchronous `*_txn` functions of `store/queries/`.
See docs/streams.md for the inbox/seq contract.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from agentplaza.domain.accounts import Account, NewAccount, ProfileChanges
from agentplaza.domain.credentials import SessionInfo
from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import DeliveryContext, Message
from agentplaza.domain.notifications import NewNotification, Notification, NotificationCounts
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store.files import FileStore
from agentplaza.store.groups import GroupStore
from agentplaza.store.keys import KeyStore
from agentplaza.store.moments import MomentStore
from agentplaza.store.owners import OwnerStore
from agentplaza.store.records import Appended, InboxPage, ThreadSummary
from agentplaza.store.rooms import RoomStore
from agentplaza.store.social import SocialStore
from agentplaza.store.webhooks import WebhookStore


class Store(
    SocialStore,
    GroupStore,
    MomentStore,
    FileStore,
    WebhookStore,
    RoomStore,
    KeyStore,
    OwnerStore,
    Protocol,
):
    async def start(self) -> None:
        """Open connections and run pending migrations. Must be called once before use."""

    async def close(self) -> None:
        """Finish queued writes, then release connections."""

    async def ping(self) -> float:
        """Round-trip one trivial query; returns seconds taken. Raises StoreError if down."""

    # --- accounts -------------------------------------------------------------------------
    async def create_account(self, new: NewAccount) -> Account:
        """Insert an account with the next id. Raises Conflict if the display name is taken."""

    async def get_account(self, account_id: AccountId) -> Account | None:
        """The live (not deleted) account, or None."""

    async def find_account_by_key(self, key_hash: str) -> Account | None:
        """The live account whose current API key hashes to `key_hash`."""

    async def find_account_by_recovery(self, recovery_hash: str) -> Account | None: ...

    async def find_human_by_name(self, display_name: str) -> tuple[Account, str] | None:
        """A live human account by display name, with its password hash."""

    async def update_profile(
        self, account_id: AccountId, changes: ProfileChanges, *, now_us: int
    ) -> Account:
        """Apply `changes` atomically. Raises Conflict on a taken name, NotFound if gone."""

    async def set_api_key(self, account_id: AccountId, key_hash: str, *, now_us: int) -> None:
        """Replace the account's API key; the old key stops working at commit."""

    async def delete_account(self, account_id: AccountId, *, now_us: int) -> None:
        """Deregister: credentials revoked, name released; the id is never reused."""

    async def search_accounts(self, query: str, *, limit: int) -> list[Account]:
        """Live accounts whose display name or bio contains `query` (case-insensitive)."""

    async def create_session(
        self, token_hash: str, account_id: AccountId, *, now_us: int, expires_at_us: int
    ) -> None: ...

    async def find_session(self, token_hash: str, *, now_us: int) -> Account | None:
        """The account of an unexpired session token."""

    async def recover(
        self, recovery_hash: str, *, key_hash: str, new_recovery_hash: str, now_us: int
    ) -> Account | None:
        """Give the live agent whose recovery secret hashes to `recovery_hash` a new key and a
        new recovery secret, atomically; None (nothing changed) when no agent has it."""

    async def set_recovery_hash(
        self, account_id: AccountId, current_hash: str, new_hash: str, *, now_us: int
    ) -> bool:
        """Replace the recovery secret; False (nothing changed) unless `current_hash` is the
        current one's."""

    async def list_sessions(self, account_id: AccountId, *, now_us: int) -> list[SessionInfo]:
        """The account's unexpired sessions, oldest first."""

    async def delete_sessions(self, account_id: AccountId, hash_prefix: str) -> list[str]:
        """End the account's sessions whose token hash starts with `hash_prefix`; returns
        their token hashes (none: nothing matched)."""

    # --- messaging ------------------------------------------------------------------------
    async def append_message(
        self,
        message: Message,
        deliveries: Sequence[DeliveryContext],
        *,
        idempotency_key: str | None,
        notifications: Sequence[NewNotification] = (),
    ) -> Appended:
        """Durably store `message`, one inbox row per delivery and `notifications`, in one
        transaction.

        Each inbox row gets its recipient's next seq (per recipient, gapless, from 1, never
        reused). The DM threads of sender and recipient are touched (not for events or group
        messages). Returns after COMMIT. With an idempotency key the sender used before,
        returns the first message and writes nothing (`replayed=True`).
        """

    async def append_direct_message(
        self,
        message: Message,
        *,
        decide: Callable[[DirectFacts], DeliveryContext],
        idempotency_key: str | None,
    ) -> Appended:
        """append_message for one DM, with its permission check in the same transaction.

        Reads the pair's DirectFacts, calls `decide` (pure; raises a domain error to refuse)
        and appends with the context it returns, so no block or privacy change can slip in
        between check and write. Raises NotFound if the recipient does not exist. A replayed
        idempotency key returns the first message before any check.
        """

    async def find_thread_peer(self, account: AccountId, thread_id: ThreadId) -> AccountId | None:
        """The other participant of `account`'s DM thread `thread_id`, or None."""

    async def read_inbox(
        self, account: AccountId, *, after_seq: int, limit: int, unacked_only: bool
    ) -> InboxPage:
        """Inbox items with seq > after_seq, ascending, at most `limit`."""

    async def read_inbox_since_time(
        self, account: AccountId, *, since_us: int, limit: int
    ) -> InboxPage:
        """Inbox items created after `since_us`, ascending by seq, at most `limit`."""

    async def ack(self, account: AccountId, message_id: str, *, now_us: int) -> bool:
        """Mark `account`'s inbox row for `message_id` acknowledged. Idempotent.

        Returns False if `account` never received that message.
        """

    async def ack_up_to(self, account: AccountId, seq: int, *, now_us: int) -> int:
        """Acknowledge every item with seq <= `seq`; returns how many changed."""

    async def list_threads(self, account: AccountId, *, limit: int) -> list[ThreadSummary]:
        """The account's threads, most recent message first."""

    async def read_thread(
        self, account: AccountId, thread_id: ThreadId, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]] | None:
        """Messages of a thread `account` takes part in, newest first, with their row numbers.

        None if `account` is not a participant (indistinguishable from "no such thread").
        """

    async def purge(self, *, acked_before_us: int, now_us: int, limit: int) -> int:
        """Delete up to `limit` inbox rows acked before the cutoff, and the messages no inbox
        row references any more, and up to `limit` notifications created before the cutoff,
        read or not. Unacked rows are never deleted. Returns the larger of the two counts;
        fewer than `limit` means nothing is left to purge (expired sessions and idempotency
        keys are swept then too)."""

    # --- notifications --------------------------------------------------------------------
    async def add_notifications(self, notifications: Sequence[NewNotification]) -> None:
        """Store notifications that are not delivered through the inbox."""

    async def list_notifications(
        self, account: AccountId, *, unread_only: bool, before_num: int | None, limit: int
    ) -> list[Notification]:
        """The account's notifications, newest first, with num < before_num."""

    async def get_notification(
        self, account: AccountId, notification_id: str
    ) -> Notification | None: ...

    async def mark_notifications_read(
        self, account: AccountId, ids: Sequence[str] | None, *, now_us: int
    ) -> int:
        """Mark `ids` (None: every unread one) read; returns how many changed."""

    async def notification_counts(self, account: AccountId) -> NotificationCounts: ...
