"""The Store's owner relation, human → agent accounts it created: the interface (OwnerStore)
and its implementation over store/queries/owners.py (OwnerTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from typing import Protocol

from agentplaza.domain.accounts import Account, NewAccount
from agentplaza.domain.ids import AccountId
from agentplaza.store.queries import owners as q_owners
from agentplaza.store.runner import TxnRunner


class OwnerStore(Protocol):
    async def create_owned_account(self, new: NewAccount, owner: AccountId) -> Account:
        """Create the account (as create_account) owned by `owner`; durable when it returns."""

    async def owned_accounts(self, owner: AccountId, *, limit: int) -> list[Account]:
        """The live accounts `owner` owns, oldest first."""

    async def owner_of(self, account: AccountId) -> AccountId | None:
        """The owner of a live account, or None (no owner, or no such account)."""


class OwnerTxnStore(TxnRunner):
    async def create_owned_account(self, new: NewAccount, owner: AccountId) -> Account:
        return await self._write(q_owners.create_owned_account_txn, new, owner)

    async def owned_accounts(self, owner: AccountId, *, limit: int) -> list[Account]:
        return await self._read(q_owners.owned_accounts_txn, owner, limit)

    async def owner_of(self, account: AccountId) -> AccountId | None:
        return await self._read(q_owners.owner_of_txn, account)
