"""TxnStore: every Store method as a `store/queries/*_txn` function run by an engine.

An engine subclass decides only *how* a function runs: `_write` inside a write transaction
(committed before it returns), `_read` on a connection that sees committed data. The SQL and
the rules stay in `store/queries/`, written once for SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentplaza.domain.accounts import Account, NewAccount, ProfileChanges
from agentplaza.domain.credentials import SessionInfo
from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import DeliveryContext, Message
from agentplaza.domain.notifications import NewNotification, Notification, NotificationCounts
from agentplaza.domain.permissions import DirectFacts
from agentplaza.store.engine import Txn
from agentplaza.store.files import FileTxnStore
from agentplaza.store.groups import GroupTxnStore
from agentplaza.store.keys import KeyTxnStore
from agentplaza.store.moments import MomentTxnStore
from agentplaza.store.owners import OwnerTxnStore
from agentplaza.store.queries import accounts as q_accounts
from agentplaza.store.queries import groups as q_groups
from agentplaza.store.queries import messages as q_messages
from agentplaza.store.queries import notifications as q_notifications
from agentplaza.store.records import Appended, InboxPage, ThreadSummary
from agentplaza.store.rooms import RoomTxnStore
from agentplaza.store.social import SocialTxnStore
from agentplaza.store.webhooks import WebhookTxnStore


class TxnStore(
    SocialTxnStore,
    GroupTxnStore,
    MomentTxnStore,
    FileTxnStore,
    WebhookTxnStore,
    RoomTxnStore,
    KeyTxnStore,
    OwnerTxnStore,
):
    """The whole Store; each area's methods live in its own mixin (store/social.py…)."""

    # --- accounts -------------------------------------------------------------------------
    async def create_account(self, new: NewAccount) -> Account:
        return await self._write(q_accounts.create_account_txn, new)

    async def get_account(self, account_id: AccountId) -> Account | None:
        return await self._read(q_accounts.get_account_txn, account_id)

    async def find_account_by_key(self, key_hash: str) -> Account | None:
        return await self._read(q_accounts.find_account_by_txn, "key_hash", key_hash)

    async def find_account_by_recovery(self, recovery_hash: str) -> Account | None:
        return await self._read(q_accounts.find_account_by_txn, "recovery_hash", recovery_hash)

    async def find_human_by_name(self, display_name: str) -> tuple[Account, str] | None:
        return await self._read(q_accounts.find_human_by_name_txn, display_name)

    async def update_profile(
        self, account_id: AccountId, changes: ProfileChanges, *, now_us: int
    ) -> Account:
        return await self._write(q_accounts.update_profile_txn, account_id, changes, now_us)

    async def set_api_key(self, account_id: AccountId, key_hash: str, *, now_us: int) -> None:
        await self._write(q_accounts.set_api_key_txn, account_id, key_hash, now_us)

    async def delete_account(self, account_id: AccountId, *, now_us: int) -> None:
        await self._write(_delete_account_txn, account_id, now_us)

    async def search_accounts(self, query: str, *, limit: int) -> list[Account]:
        return await self._read(q_accounts.search_accounts_txn, query, limit)

    async def create_session(
        self, token_hash: str, account_id: AccountId, *, now_us: int, expires_at_us: int
    ) -> None:
        await self._write(
            q_accounts.create_session_txn, token_hash, account_id, now_us, expires_at_us
        )

    async def find_session(self, token_hash: str, *, now_us: int) -> Account | None:
        return await self._read(q_accounts.find_session_txn, token_hash, now_us)

    async def recover(
        self, recovery_hash: str, *, key_hash: str, new_recovery_hash: str, now_us: int
    ) -> Account | None:
        return await self._write(
            q_accounts.recover_txn, recovery_hash, key_hash, new_recovery_hash, now_us
        )

    async def set_recovery_hash(
        self, account_id: AccountId, current_hash: str, new_hash: str, *, now_us: int
    ) -> bool:
        return await self._write(
            q_accounts.set_recovery_hash_txn, account_id, current_hash, new_hash, now_us
        )

    async def list_sessions(self, account_id: AccountId, *, now_us: int) -> list[SessionInfo]:
        return await self._read(q_accounts.list_sessions_txn, account_id, now_us)

    async def delete_sessions(self, account_id: AccountId, hash_prefix: str) -> list[str]:
        return await self._write(q_accounts.delete_sessions_txn, account_id, hash_prefix)

    # --- messaging ------------------------------------------------------------------------
    async def append_direct_message(
        self,
        message: Message,
        *,
        decide: Callable[[DirectFacts], DeliveryContext],
        idempotency_key: str | None,
    ) -> Appended:
        return await self._write(
            q_messages.append_direct_message_txn, message, decide, idempotency_key
        )

    async def append_message(
        self,
        message: Message,
        deliveries: Sequence[DeliveryContext],
        *,
        idempotency_key: str | None,
        notifications: Sequence[NewNotification] = (),
    ) -> Appended:
        return await self._write(
            q_messages.append_message_txn, message, deliveries, idempotency_key, notifications
        )

    async def find_thread_peer(self, account: AccountId, thread_id: ThreadId) -> AccountId | None:
        return await self._read(q_messages.find_thread_peer_txn, account, thread_id)

    async def read_inbox(
        self, account: AccountId, *, after_seq: int, limit: int, unacked_only: bool
    ) -> InboxPage:
        return await self._read(q_messages.read_inbox_txn, account, after_seq, limit, unacked_only)

    async def read_inbox_since_time(
        self, account: AccountId, *, since_us: int, limit: int
    ) -> InboxPage:
        return await self._read(q_messages.read_inbox_since_time_txn, account, since_us, limit)

    async def ack(self, account: AccountId, message_id: str, *, now_us: int) -> bool:
        return await self._write(q_messages.ack_txn, account, message_id, now_us)

    async def ack_up_to(self, account: AccountId, seq: int, *, now_us: int) -> int:
        return await self._write(q_messages.ack_up_to_txn, account, seq, now_us)

    async def list_threads(self, account: AccountId, *, limit: int) -> list[ThreadSummary]:
        return await self._read(q_messages.list_threads_txn, account, limit)

    async def read_thread(
        self, account: AccountId, thread_id: ThreadId, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]] | None:
        return await self._read(q_messages.read_thread_txn, account, thread_id, before_num, limit)

    async def purge(self, *, acked_before_us: int, now_us: int, limit: int) -> int:
        return await self._write(q_messages.purge_txn, acked_before_us, now_us, limit)

    # --- notifications --------------------------------------------------------------------
    async def add_notifications(self, notifications: Sequence[NewNotification]) -> None:
        await self._write(q_notifications.insert_notifications_txn, notifications)

    async def list_notifications(
        self, account: AccountId, *, unread_only: bool, before_num: int | None, limit: int
    ) -> list[Notification]:
        return await self._read(
            q_notifications.list_notifications_txn, account, unread_only, before_num, limit
        )

    async def get_notification(
        self, account: AccountId, notification_id: str
    ) -> Notification | None:
        return await self._read(q_notifications.get_notification_txn, account, notification_id)

    async def mark_notifications_read(
        self, account: AccountId, ids: Sequence[str] | None, *, now_us: int
    ) -> int:
        return await self._write(q_notifications.mark_read_txn, account, ids, now_us)

    async def notification_counts(self, account: AccountId) -> NotificationCounts:
        return await self._read(q_notifications.notification_counts_txn, account)


def _delete_account_txn(txn: Txn, account_id: AccountId, now_us: int) -> None:
    # Groups first: a group send locks its group, then its members' accounts rows; taking
    # them in that order here too means the two cannot deadlock.
    q_groups.leave_all_groups_txn(txn, account_id, now_us)
    q_accounts.delete_account_txn(txn, account_id, now_us)
