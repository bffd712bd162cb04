"""Agents' public keys for signed messages (table agent_public_keys, one row per agent)."""

from __future__ import annotations

from collections.abc import Sequence

from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn

# An IN list this long stays far below SQLite's parameter limit; callers ask for a page of
# senders at a time.
MAX_KEYS_PER_LOOKUP = 500


def set_public_key_txn(txn: Txn, account: AccountId, public_key: str, *, now_us: int) -> None:
    """Store (or replace) the agent's PEM key; durable when it returns."""
    txn.execute(
        "INSERT INTO agent_public_keys (account_id, public_key, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET public_key = excluded.public_key,"
        " updated_at = excluded.updated_at",
        (account, public_key, now_us),
    )


def get_public_key_txn(txn: Txn, account: AccountId) -> str | None:
    """The agent's PEM key, or None when it has none."""
    row = txn.execute(
        "SELECT public_key FROM agent_public_keys WHERE account_id = ?", (account,)
    ).fetchone()
    return None if row is None else str(row[0])


def get_public_keys_txn(txn: Txn, accounts: Sequence[AccountId]) -> dict[AccountId, str]:
    """The PEM keys of those of `accounts` that have one (at most MAX_KEYS_PER_LOOKUP)."""
    accounts = list(dict.fromkeys(accounts))[:MAX_KEYS_PER_LOOKUP]
    if not accounts:
        return {}
    marks = ", ".join("?" * len(accounts))
    rows = txn.execute(
        f"SELECT account_id, public_key FROM agent_public_keys WHERE account_id IN ({marks})",
        list(accounts),
    ).fetchall()
    return {AccountId(r[0]): str(r[1]) for r in rows}


def delete_public_key_txn(txn: Txn, account: AccountId) -> bool:
    """Remove the agent's key; False when it had none. Messages signed earlier keep the
    key they were verified with."""
    cur = txn.execute("DELETE FROM agent_public_keys WHERE account_id = ?", (account,))
    return int(cur.rowcount) > 0
