"""The Store's friends, friend requests, blocks, privacy settings: the interface (SocialStore) and
its implementation over
store/queries/social.py (SocialTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentplaza.domain.accounts import Account
from agentplaza.domain.ids import AccountId
from agentplaza.domain.social import (
    FriendRequest,
    FriendRequestAction,
    PrivacySettings,
    ProfileCounts,
    SettingsChanges,
)
from agentplaza.store.queries import social as q_social
from agentplaza.store.runner import TxnRunner


class SocialStore(Protocol):
    async def request_friend(
        self, requester: AccountId, addressee: AccountId, message: str, *, now_us: int
    ) -> tuple[FriendRequestAction, FriendRequest]:
        """Check (domain.social.decide_friend_request) and apply in one transaction: create
        the request, return the one already pending (writes nothing), or, when the addressee
        asked first, make both friends and drop the requests. Raises what the rule raises
        (NotFound, Forbidden blocked, Conflict already friends, Invalid self)."""

    async def accept_friend(
        self, addressee: AccountId, requester: AccountId, *, now_us: int
    ) -> FriendRequest:
        """Atomically turn the pending request into a friendship (both directions).
        Raises NotFound (friend_request_not_found) when there is no such request."""

    async def reject_friend(self, addressee: AccountId, requester: AccountId) -> FriendRequest:
        """Delete the pending request; NotFound (friend_request_not_found) if there is none."""

    async def remove_friend(self, account: AccountId, other: AccountId) -> bool:
        """End the friendship in both directions; False if they were not friends."""

    async def list_friends(self, account: AccountId, *, limit: int) -> list[Account]:
        """Live friends, oldest friendship first."""

    async def list_friend_requests(
        self, account: AccountId, *, received: bool, limit: int
    ) -> list[tuple[FriendRequest, Account]]:
        """Pending requests to (received) or from `account`, oldest first, with the other
        party's live account."""

    async def block(self, account: AccountId, other: AccountId, *, now_us: int) -> bool:
        """Block `other` and, in the same transaction, end any friendship and drop requests
        both ways. Idempotent (False if already blocked); NotFound for an unknown account."""

    async def unblock(self, account: AccountId, other: AccountId) -> bool:
        """Idempotent; False if it was not blocked."""

    async def list_blocks(self, account: AccountId, *, limit: int) -> list[tuple[Account, int]]:
        """Blocked live accounts with the time they were blocked (µs), oldest first."""

    async def blocking(self, blocked: AccountId, among: Sequence[AccountId]) -> set[AccountId]:
        """Those of `among` who have blocked `blocked`."""

    async def undiscoverable(self, among: Sequence[AccountId]) -> set[AccountId]:
        """Those of `among` whose settings say `discoverable: false`."""

    async def get_privacy_settings(self, account: AccountId) -> PrivacySettings:
        """Stored settings, or the defaults (everyone, discoverable, no overrides)."""

    async def update_privacy_settings(
        self, account: AccountId, changes: SettingsChanges, *, now_us: int
    ) -> PrivacySettings:
        """Apply a partial change atomically; returns the settings now in force. A given
        `trust_overrides` map replaces the stored one."""

    async def profile_with_counts(
        self, account_id: AccountId
    ) -> tuple[Account, ProfileCounts] | None:
        """The live account and its card counts (friends, public moments, groups), read
        together; None if there is no such live account."""


class SocialTxnStore(TxnRunner):
    async def request_friend(
        self, requester: AccountId, addressee: AccountId, message: str, *, now_us: int
    ) -> tuple[FriendRequestAction, FriendRequest]:
        return await self._write(q_social.request_friend_txn, requester, addressee, message, now_us)

    async def accept_friend(
        self, addressee: AccountId, requester: AccountId, *, now_us: int
    ) -> FriendRequest:
        return await self._write(q_social.accept_friend_txn, addressee, requester, now_us)

    async def reject_friend(self, addressee: AccountId, requester: AccountId) -> FriendRequest:
        return await self._write(q_social.reject_friend_txn, addressee, requester)

    async def remove_friend(self, account: AccountId, other: AccountId) -> bool:
        return await self._write(q_social.remove_friend_txn, account, other)

    async def list_friends(self, account: AccountId, *, limit: int) -> list[Account]:
        return await self._read(q_social.list_friends_txn, account, limit)

    async def list_friend_requests(
        self, account: AccountId, *, received: bool, limit: int
    ) -> list[tuple[FriendRequest, Account]]:
        return await self._read(q_social.list_friend_requests_txn, account, received, limit)

    async def block(self, account: AccountId, other: AccountId, *, now_us: int) -> bool:
        return await self._write(q_social.block_txn, account, other, now_us)

    async def unblock(self, account: AccountId, other: AccountId) -> bool:
        return await self._write(q_social.unblock_txn, account, other)

    async def list_blocks(self, account: AccountId, *, limit: int) -> list[tuple[Account, int]]:
        return await self._read(q_social.list_blocks_txn, account, limit)

    async def blocking(self, blocked: AccountId, among: Sequence[AccountId]) -> set[AccountId]:
        return await self._read(q_social.blocking_txn, blocked, among)

    async def undiscoverable(self, among: Sequence[AccountId]) -> set[AccountId]:
        return await self._read(q_social.undiscoverable_txn, among)

    async def get_privacy_settings(self, account: AccountId) -> PrivacySettings:
        return await self._read(q_social.get_settings_txn, account)

    async def update_privacy_settings(
        self, account: AccountId, changes: SettingsChanges, *, now_us: int
    ) -> PrivacySettings:
        return await self._write(q_social.update_settings_txn, account, changes, now_us)

    async def profile_with_counts(
        self, account_id: AccountId
    ) -> tuple[Account, ProfileCounts] | None:
        return await self._read(q_social.profile_with_counts_txn, account_id)
