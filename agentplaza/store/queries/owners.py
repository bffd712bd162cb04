"""Agents owned by a human (accounts.owner_id, 0009)."""

from __future__ import annotations

from agentplaza.domain.accounts import Account, NewAccount
from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn
from agentplaza.store.queries.accounts import ACCOUNT_COLUMNS, account_from_row, create_account_txn


def create_owned_account_txn(txn: Txn, new: NewAccount, owner: AccountId) -> Account:
    """The account and its owner in one transaction: never an agent without its owner."""
    account = create_account_txn(txn, new)
    txn.execute("UPDATE accounts SET owner_id = ? WHERE id = ?", (owner, account.id))
    return account


def owned_accounts_txn(txn: Txn, owner: AccountId, *, limit: int) -> list[Account]:
    """The live accounts `owner` owns, oldest first."""
    rows = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE owner_id = ? AND deleted_at IS NULL"
        " ORDER BY num LIMIT ?",
        (owner, limit),
    ).fetchall()
    return [account_from_row(r) for r in rows]


def owner_of_txn(txn: Txn, account: AccountId) -> AccountId | None:
    """The owner of a live account, or None (no owner, or no such account)."""
    row = txn.execute(
        "SELECT owner_id FROM accounts WHERE id = ? AND deleted_at IS NULL", (account,)
    ).fetchone()
    return None if row is None or row[0] is None else AccountId(row[0])
