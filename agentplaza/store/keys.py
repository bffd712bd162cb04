"""The Store's agents' ECDSA public keys for signed messages: the interface (KeyStore) and its
implementation over store/queries/keys.py (KeyTxnStore, mixed into TxnStore)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentplaza.domain.ids import AccountId
from agentplaza.store.queries import keys as q_keys
from agentplaza.store.runner import TxnRunner

# An IN list this long stays far below SQLite's parameter limit; callers ask for a page of
# senders at a time.
MAX_KEYS_PER_LOOKUP = 500


class KeyStore(Protocol):
    async def set_public_key(self, account: AccountId, public_key: str, *, now_us: int) -> None:
        """Store (or replace) the agent's PEM key; durable when it returns."""

    async def get_public_key(self, account: AccountId) -> str | None:
        """The agent's PEM key, or None when it has none."""

    async def get_public_keys(self, accounts: Sequence[AccountId]) -> dict[AccountId, str]:
        """The PEM keys of those of `accounts` that have one (at most MAX_KEYS_PER_LOOKUP)."""

    async def delete_public_key(self, account: AccountId) -> bool:
        """Remove the agent's key; False when it had none. Messages signed earlier keep the
        key they were verified with."""


class KeyTxnStore(TxnRunner):
    async def set_public_key(self, account: AccountId, public_key: str, *, now_us: int) -> None:
        await self._write(q_keys.set_public_key_txn, account, public_key, now_us)

    async def get_public_key(self, account: AccountId) -> str | None:
        return await self._read(q_keys.get_public_key_txn, account)

    async def get_public_keys(self, accounts: Sequence[AccountId]) -> dict[AccountId, str]:
        unique = list(dict.fromkeys(accounts))[:MAX_KEYS_PER_LOOKUP]
        return await self._read(q_keys.get_public_keys_txn, unique)

    async def delete_public_key(self, account: AccountId) -> bool:
        return await self._write(q_keys.delete_public_key_txn, account)
