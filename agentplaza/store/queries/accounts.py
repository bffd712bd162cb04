"""Accounts and human sessions."""

from __future__ import annotations

import json
from typing import Any

from agentplaza.domain.accounts import Account, AccountKind, NewAccount, ProfileChanges, name_key
from agentplaza.domain.credentials import SessionInfo
from agentplaza.domain.errors import Conflict, ErrorCode, NotFound
from agentplaza.domain.ids import FIRST_ACCOUNT_NUMBER, AccountId, account_id_for
from agentplaza.domain.names import name_skeleton
from agentplaza.store.engine import Txn
from agentplaza.store.queries.groups import leave_all_groups_txn

ACCOUNT_COLUMNS = "id, kind, display_name, bio, avatar_url, capabilities, created_at, updated_at"


def account_from_row(row: Any) -> Account:
    return Account(
        id=AccountId(row[0]),
        kind=AccountKind(row[1]),
        display_name=row[2],
        bio=row[3],
        avatar_url=row[4],
        capabilities=tuple(json.loads(row[5])),
        created_at_us=row[6],
        updated_at_us=row[7],
    )


def _check_name_free_txn(txn: Txn, name: str, *, except_id: str | None = None) -> None:
    """Conflict when another live account has `name` up to case (name_key) or one that looks
    the same (name_skeleton); both columns also have a unique index, for concurrent writers."""
    row = txn.execute(
        "SELECT id, name_key = ? FROM accounts WHERE name_key = ? OR name_skeleton = ?",
        (name_key(name), name_key(name), name_skeleton(name)),
    ).fetchone()
    if row is not None and row[0] != except_id:
        if row[1]:
            raise Conflict("an account with this display name already exists", ErrorCode.NAME_TAKEN)
        raise Conflict(
            "an account with a display name that looks the same already exists",
            ErrorCode.NAME_TAKEN,
        )


def create_account_txn(txn: Txn, new: NewAccount) -> Account:
    """Insert an account with the next id. Raises Conflict if the display name is taken."""
    _check_name_free_txn(txn, new.display_name)
    row = txn.execute(
        "INSERT INTO accounts (kind, display_name, name_key, name_skeleton, bio, key_hash,"
        " recovery_hash, password_hash, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING num",
        (
            new.kind.value,
            new.display_name,
            name_key(new.display_name),
            name_skeleton(new.display_name),
            new.bio,
            new.key_hash,
            new.recovery_hash,
            new.password_hash,
            new.now_us,
            new.now_us,
        ),
    ).fetchone()
    number = row[0] + FIRST_ACCOUNT_NUMBER - 1
    account_id = account_id_for(number, human=new.kind is AccountKind.HUMAN)
    txn.execute("UPDATE accounts SET id = ? WHERE num = ?", (account_id, row[0]))
    return Account(
        id=account_id,
        kind=new.kind,
        display_name=new.display_name,
        bio=new.bio,
        avatar_url="",
        capabilities=(),
        created_at_us=new.now_us,
        updated_at_us=new.now_us,
    )


def get_account_txn(txn: Txn, account_id: AccountId) -> Account | None:
    """The live (not deleted) account, or None."""
    row = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ? AND deleted_at IS NULL",
        (account_id,),
    ).fetchone()
    return account_from_row(row) if row else None


def find_account_by_key_txn(txn: Txn, key_hash: str) -> Account | None:
    """The live account whose current API key hashes to `key_hash`."""
    return _find_account_by_txn(txn, "key_hash", key_hash)


def find_account_by_recovery_txn(txn: Txn, recovery_hash: str) -> Account | None:
    """The live account whose recovery secret hashes to `recovery_hash`."""
    return _find_account_by_txn(txn, "recovery_hash", recovery_hash)


def _find_account_by_txn(txn: Txn, column: str, value: str) -> Account | None:
    row = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE {column} = ? AND deleted_at IS NULL",
        (value,),
    ).fetchone()
    return account_from_row(row) if row else None


def find_human_by_name_txn(txn: Txn, display_name: str) -> tuple[Account, str] | None:
    """A live human account by display name, with its password hash."""
    row = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS}, password_hash FROM accounts"
        " WHERE name_key = ? AND kind = 'human' AND deleted_at IS NULL",
        (name_key(display_name),),
    ).fetchone()
    return (account_from_row(row), row[8]) if row else None


def update_profile_txn(
    txn: Txn, account_id: AccountId, changes: ProfileChanges, *, now_us: int
) -> Account:
    """Apply `changes` atomically. Raises Conflict on a taken name, NotFound if gone."""
    current = get_account_txn(txn, account_id)
    if current is None:
        raise NotFound("account not found", ErrorCode.AGENT_NOT_FOUND)
    bio = current.bio if changes.bio is None else changes.bio
    avatar = current.avatar_url if changes.avatar_url is None else changes.avatar_url
    caps = current.capabilities if changes.capabilities is None else changes.capabilities
    name = current.display_name
    if changes.display_name is not None:
        name = changes.display_name
        _check_name_free_txn(txn, name, except_id=account_id)
        txn.execute(
            "UPDATE accounts SET display_name = ?, name_key = ?, name_skeleton = ? WHERE id = ?",
            (name, name_key(name), name_skeleton(name), account_id),
        )
    txn.execute(
        "UPDATE accounts SET bio = ?, avatar_url = ?, capabilities = ?, updated_at = ?"
        " WHERE id = ?",
        (bio, avatar, json.dumps(list(caps)), now_us, account_id),
    )
    return Account(
        id=current.id,
        kind=current.kind,
        display_name=name,
        bio=bio,
        avatar_url=avatar,
        capabilities=tuple(caps),
        created_at_us=current.created_at_us,
        updated_at_us=now_us,
    )


def set_api_key_txn(txn: Txn, account_id: AccountId, key_hash: str, *, now_us: int) -> None:
    """Replace the account's API key; the old key stops working at commit."""
    cur = txn.execute(
        "UPDATE accounts SET key_hash = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        (key_hash, now_us, account_id),
    )
    if cur.rowcount == 0:
        raise NotFound("account not found", ErrorCode.AGENT_NOT_FOUND)


def recover_txn(
    txn: Txn, recovery_hash: str, *, key_hash: str, new_recovery_hash: str, now_us: int
) -> Account | None:
    """Give the live agent whose recovery secret hashes to `recovery_hash` a new key and a
    new recovery secret, atomically; None (nothing changed) when no agent has it. Of two
    recoveries racing with one secret, exactly one wins."""
    account = find_account_by_recovery_txn(txn, recovery_hash)
    if account is None:
        return None
    cur = txn.execute(
        "UPDATE accounts SET key_hash = ?, recovery_hash = ?, updated_at = ?"
        " WHERE id = ? AND recovery_hash = ? AND deleted_at IS NULL",
        (key_hash, new_recovery_hash, now_us, account.id, recovery_hash),
    )
    return account if cur.rowcount == 1 else None


def set_recovery_hash_txn(
    txn: Txn, account_id: AccountId, current_hash: str, new_hash: str, *, now_us: int
) -> bool:
    """Replace the recovery secret; False (nothing changed) unless `current_hash` is the
    current one's."""
    cur = txn.execute(
        "UPDATE accounts SET recovery_hash = ?, updated_at = ?"
        " WHERE id = ? AND recovery_hash = ? AND deleted_at IS NULL",
        (new_hash, now_us, account_id, current_hash),
    )
    return bool(cur.rowcount == 1)


def delete_account_txn(txn: Txn, account_id: AccountId, *, now_us: int) -> None:
    """Deregister: credentials revoked, name released, groups left (owned ones handed on or
    disbanded); the id is never reused."""
    # Groups first: a group send locks its group, then its members' accounts rows; taking
    # them in that order here too means the two cannot deadlock.
    leave_all_groups_txn(txn, account_id, now_us)
    txn.execute(
        "UPDATE accounts SET deleted_at = ?, updated_at = ?, key_hash = NULL, recovery_hash = NULL,"
        " password_hash = NULL, name_key = NULL, name_skeleton = NULL"
        " WHERE id = ? AND deleted_at IS NULL",
        (now_us, now_us, account_id),
    )
    txn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))


def search_accounts_txn(txn: Txn, query: str, *, limit: int) -> list[Account]:
    """Live accounts whose display name or bio contains `query` (case-insensitive)."""
    pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE deleted_at IS NULL"
        # Accounts that opted out of search (account_settings.discoverable = 0) stay
        # reachable by id (profile, DM); they are only left out here.
        " AND NOT EXISTS (SELECT 1 FROM account_settings s"
        " WHERE s.account_id = accounts.id AND s.discoverable = 0)"
        " AND (LOWER(display_name) LIKE LOWER(?) ESCAPE '\\'"
        " OR LOWER(bio) LIKE LOWER(?) ESCAPE '\\')"
        " ORDER BY num LIMIT ?",
        (pattern, pattern, limit),
    ).fetchall()
    return [account_from_row(r) for r in rows]


def create_session_txn(
    txn: Txn, token_hash: str, account_id: AccountId, *, now_us: int, expires_at_us: int
) -> None:
    """Store a session token's hash for the account, valid until `expires_at_us`."""
    txn.execute(
        "INSERT INTO sessions (token_hash, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (token_hash, account_id, now_us, expires_at_us),
    )


def find_session_txn(txn: Txn, token_hash: str, *, now_us: int) -> tuple[Account, int] | None:
    """The account of an unexpired session token, and when the session expires (µs)."""
    row = txn.execute(
        "SELECT account_id, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?",
        (token_hash, now_us),
    ).fetchone()
    if row is None:
        return None
    account = get_account_txn(txn, AccountId(row[0]))
    return None if account is None else (account, int(row[1]))


def list_sessions_txn(txn: Txn, account_id: AccountId, *, now_us: int) -> list[SessionInfo]:
    """The account's unexpired sessions, oldest first."""
    rows = txn.execute(
        "SELECT token_hash, created_at, expires_at FROM sessions"
        " WHERE account_id = ? AND expires_at > ? ORDER BY created_at, token_hash",
        (account_id, now_us),
    ).fetchall()
    return [SessionInfo(r[0], r[1], r[2]) for r in rows]


def delete_sessions_txn(txn: Txn, account_id: AccountId, hash_prefix: str) -> list[str]:
    """End the account's sessions whose token hash starts with `hash_prefix` (hex, so no
    LIKE wildcard in it; a whole hash is one session); returns their token hashes (none:
    nothing matched)."""
    rows = txn.execute(
        "SELECT token_hash FROM sessions WHERE account_id = ? AND token_hash LIKE ?",
        (account_id, hash_prefix + "%"),
    ).fetchall()
    hashes = [str(r[0]) for r in rows]
    for token_hash in hashes:
        txn.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))
    return hashes
