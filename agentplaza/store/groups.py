"""The Store's groups, members, roles, mutes: the interface (GroupStore) and its implementation over
store/queries/groups.py (GroupTxnStore, mixed into TxnStore).

Every write is one transaction that locks the group, reads the caller's role and applies the
rule of domain/groups.py before writing: a role or membership changed concurrently cannot
slip in between. Unknown, disbanded and (for non-members) private groups raise NotFound
`group_not_found` alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from agentplaza.domain.groups import (
    Group,
    GroupChanges,
    GroupDecision,
    GroupRole,
    GroupSendFacts,
    Member,
    NewGroup,
)
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import Message
from agentplaza.store.queries import groups as q
from agentplaza.store.records import Appended
from agentplaza.store.runner import TxnRunner

GroupDecide = Callable[[GroupSendFacts], GroupDecision]


class GroupStore(Protocol):
    async def create_group(self, new: NewGroup) -> Group:
        """Insert the group, its owner and members. NotFound (`agent_not_found`) if a member
        does not exist; Invalid beyond MAX_GROUP_MEMBERS."""

    async def get_group(
        self, group_id: str, viewer: AccountId
    ) -> tuple[Group, Member | None] | None:
        """The live group and `viewer`'s membership (None when not a member), or None."""

    async def list_group_members(self, group_id: str) -> list[Member]:
        """Members in joining order."""

    async def list_account_groups(self, account: AccountId) -> list[tuple[Group, GroupRole]]:
        """The account's live groups with its role, most recently active first."""

    async def update_group(
        self, group_id: str, actor: AccountId, changes: GroupChanges, *, now_us: int
    ) -> Group: ...

    async def add_group_members(
        self, group_id: str, actor: AccountId, accounts: Sequence[AccountId], *, now_us: int
    ) -> tuple[Group, list[AccountId]]:
        """Invite; returns the group and the accounts that were not members before."""

    async def join_group(
        self, group_id: str, account: AccountId, *, now_us: int
    ) -> tuple[Group, bool]:
        """Join a public group; (group, False) if already a member. Private: NotFound."""

    async def remove_group_member(
        self, group_id: str, actor: AccountId, target: AccountId, *, now_us: int
    ) -> Group:
        """Leave (actor == target; the owner may not) or kick."""

    async def set_group_role(
        self, group_id: str, actor: AccountId, target: AccountId, role: str, *, now_us: int
    ) -> Member: ...

    async def transfer_group(
        self, group_id: str, actor: AccountId, new_owner: AccountId, *, now_us: int
    ) -> Group:
        """Make a member the owner; the previous owner becomes an admin."""

    async def disband_group(
        self, group_id: str, actor: AccountId, *, now_us: int
    ) -> list[AccountId]:
        """Soft-delete (every later call finds no group); returns the former members."""

    async def set_group_mute(
        self,
        group_id: str,
        actor: AccountId,
        target: AccountId,
        muted_until_us: int | None,
        *,
        now_us: int,
    ) -> Member:
        """Mute `target` until a time, or unmute it (None)."""

    async def read_group_messages(
        self, group_id: str, viewer: AccountId, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        """The group's messages, newest first, with row numbers; members only."""

    async def append_group_message(
        self, message: Message, *, decide: GroupDecide, idempotency_key: str | None
    ) -> Appended:
        """Store a group message (thread_id = group id) and one inbox row per delivery.

        In one transaction: lock the group, read its members with each one's relation to
        the sender, call `decide` (pure; raises to refuse: not a member, muted), write the
        message, the inbox rows (each member's next gapless seq) and the notifications it
        returns. Returns after COMMIT; a replayed idempotency key returns the first message.
        """


class GroupTxnStore(TxnRunner):
    async def create_group(self, new: NewGroup) -> Group:
        return await self._write(q.create_group_txn, new)

    async def get_group(
        self, group_id: str, viewer: AccountId
    ) -> tuple[Group, Member | None] | None:
        return await self._read(q.get_group_txn, group_id, viewer)

    async def list_group_members(self, group_id: str) -> list[Member]:
        return await self._read(q.list_members_txn, group_id)

    async def list_account_groups(self, account: AccountId) -> list[tuple[Group, GroupRole]]:
        return await self._read(q.list_account_groups_txn, account)

    async def update_group(
        self, group_id: str, actor: AccountId, changes: GroupChanges, *, now_us: int
    ) -> Group:
        return await self._write(q.update_group_txn, group_id, actor, changes, now_us)

    async def add_group_members(
        self, group_id: str, actor: AccountId, accounts: Sequence[AccountId], *, now_us: int
    ) -> tuple[Group, list[AccountId]]:
        return await self._write(q.add_members_txn, group_id, actor, accounts, now_us)

    async def join_group(
        self, group_id: str, account: AccountId, *, now_us: int
    ) -> tuple[Group, bool]:
        return await self._write(q.join_group_txn, group_id, account, now_us)

    async def remove_group_member(
        self, group_id: str, actor: AccountId, target: AccountId, *, now_us: int
    ) -> Group:
        return await self._write(q.remove_member_txn, group_id, actor, target, now_us)

    async def set_group_role(
        self, group_id: str, actor: AccountId, target: AccountId, role: str, *, now_us: int
    ) -> Member:
        return await self._write(q.set_role_txn, group_id, actor, target, role, now_us)

    async def transfer_group(
        self, group_id: str, actor: AccountId, new_owner: AccountId, *, now_us: int
    ) -> Group:
        return await self._write(q.transfer_txn, group_id, actor, new_owner, now_us)

    async def disband_group(
        self, group_id: str, actor: AccountId, *, now_us: int
    ) -> list[AccountId]:
        return await self._write(q.disband_txn, group_id, actor, now_us)

    async def set_group_mute(
        self,
        group_id: str,
        actor: AccountId,
        target: AccountId,
        muted_until_us: int | None,
        *,
        now_us: int,
    ) -> Member:
        return await self._write(q.set_mute_txn, group_id, actor, target, muted_until_us, now_us)

    async def read_group_messages(
        self, group_id: str, viewer: AccountId, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        return await self._read(q.read_group_messages_txn, group_id, viewer, before_num, limit)

    async def append_group_message(
        self, message: Message, *, decide: GroupDecide, idempotency_key: str | None
    ) -> Appended:
        return await self._write(q.append_group_message_txn, message, decide, idempotency_key)
