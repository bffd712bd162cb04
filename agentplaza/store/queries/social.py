"""Friends, friend requests, blocks, privacy settings and profile counts.

Friendships are stored in both directions (one row each way), so "is B my friend" and "my
friends" are each one primary-key / index lookup; every write that touches them writes or
deletes both rows in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import ErrorCode, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.social import (
    FriendRequest,
    FriendRequestAction,
    FriendRequestFacts,
    PrivacySettings,
    ProfileCounts,
    SettingsChanges,
    WhoCanFriendRequest,
    WhoCanMessage,
    apply_settings_changes,
    decide_friend_request,
    request_text,
)
from agentplaza.store.engine import Txn
from agentplaza.store.queries.accounts import ACCOUNT_COLUMNS, account_from_row

CHUNK = 500  # ids per IN (...) list, far below SQLite's parameter limit

# Accounts joined as `a` (ACCOUNT_COLUMNS prefixed), for lists of people.
_A_COLUMNS = ", ".join(f"a.{c.strip()}" for c in ACCOUNT_COLUMNS.split(","))


def _request_from_row(row: Any) -> FriendRequest:
    return FriendRequest(
        requester_id=AccountId(row[0]),
        addressee_id=AccountId(row[1]),
        message=row[2],
        created_at_us=row[3],
    )


def _find_request_txn(txn: Txn, requester: AccountId, addressee: AccountId) -> FriendRequest | None:
    row = txn.execute(
        "SELECT requester_id, addressee_id, message, created_at FROM friend_requests"
        " WHERE requester_id = ? AND addressee_id = ?",
        (requester, addressee),
    ).fetchone()
    return _request_from_row(row) if row else None


def _is_blocked_either_way_txn(txn: Txn, a: AccountId, b: AccountId) -> bool:
    row = txn.execute(
        "SELECT 1 FROM blocks WHERE (account_id = ? AND blocked_id = ?)"
        " OR (account_id = ? AND blocked_id = ?)",
        (a, b, b, a),
    ).fetchone()
    return row is not None


def blocking_txn(txn: Txn, blocked: AccountId, among: Sequence[AccountId]) -> set[AccountId]:
    """Those of `among` who have blocked `blocked`."""
    return _matching_txn(
        txn, "SELECT account_id FROM blocks WHERE blocked_id = ?", [blocked], among
    )


def undiscoverable_txn(txn: Txn, among: Sequence[AccountId]) -> set[AccountId]:
    """Those of `among` whose settings say `discoverable: false`."""
    sql = "SELECT account_id FROM account_settings WHERE discoverable = 0"
    return _matching_txn(txn, sql, [], among)


def _matching_txn(
    txn: Txn, sql: str, params: list[Any], among: Sequence[AccountId]
) -> set[AccountId]:
    """The ids of `among` that `sql` (a SELECT of account_id with a WHERE) also returns."""
    found: set[AccountId] = set()
    unique = list(dict.fromkeys(among))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start : start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = txn.execute(f"{sql} AND account_id IN ({marks})", [*params, *chunk]).fetchall()
        found.update(AccountId(r[0]) for r in rows)
    return found


def are_friends_txn(txn: Txn, a: AccountId, b: AccountId) -> bool:
    row = txn.execute(
        "SELECT 1 FROM friendships WHERE account_id = ? AND friend_id = ?", (a, b)
    ).fetchone()
    return row is not None


def _account_exists_txn(txn: Txn, account_id: AccountId) -> bool:
    row = txn.execute(
        "SELECT 1 FROM accounts WHERE id = ? AND deleted_at IS NULL", (account_id,)
    ).fetchone()
    return row is not None


def _lock_pair_txn(txn: Txn, a: AccountId, b: AccountId) -> None:
    """Serialize changes to one pair's relation (request, accept, block) on PostgreSQL.

    Under READ COMMITTED two such transactions could each miss the other's write: a request
    racing a block would leave a pending request across the block, an accept racing a block a
    friendship across it. Locking both account rows, in id order like every other multi-row
    lock here (no deadlock), makes them take turns. SQLite has one writer: nothing to do.
    """
    if txn.caps.row_locks:
        txn.execute(
            "SELECT id FROM accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE", (a, b)
        ).fetchall()


def _befriend_txn(txn: Txn, a: AccountId, b: AccountId, now_us: int) -> None:
    """Make a and b friends (both rows) and drop any request between them, either way."""
    txn.execute(
        "INSERT INTO friendships (account_id, friend_id, created_at) VALUES (?, ?, ?), (?, ?, ?)"
        " ON CONFLICT (account_id, friend_id) DO NOTHING",
        (a, b, now_us, b, a, now_us),
    )
    _drop_requests_txn(txn, a, b)


def _drop_requests_txn(txn: Txn, a: AccountId, b: AccountId) -> None:
    txn.execute(
        "DELETE FROM friend_requests WHERE (requester_id = ? AND addressee_id = ?)"
        " OR (requester_id = ? AND addressee_id = ?)",
        (a, b, b, a),
    )


def request_friend_txn(
    txn: Txn, requester: AccountId, addressee: AccountId, message: str, *, now_us: int
) -> tuple[FriendRequestAction, FriendRequest]:
    """Check (domain.social.decide_friend_request) and apply in one transaction: create
    the request, return the one already pending (writes nothing), or, when the addressee
    asked first, make both friends and drop the requests. Raises what the rule raises
    (NotFound, Forbidden blocked, Conflict already friends, Invalid self).

    Returns the action taken and the request it concerns: the new one, the one already
    pending, or the addressee's earlier request that this one accepted."""
    _lock_pair_txn(txn, requester, addressee)
    settings = txn.execute(
        "SELECT s.who_can_friend_request, s.who_can_message, t.relation"
        " FROM (SELECT 1 AS one) x"
        " LEFT JOIN account_settings s ON s.account_id = ?"
        " LEFT JOIN trust_overrides t ON t.account_id = ? AND t.other_id = ?",
        (addressee, addressee, requester),
    ).fetchone()
    facts = FriendRequestFacts(
        requester_id=requester,
        addressee_id=addressee,
        addressee_exists=_account_exists_txn(txn, addressee),
        are_friends=are_friends_txn(txn, requester, addressee),
        blocked=_is_blocked_either_way_txn(txn, requester, addressee),
        mine=_find_request_txn(txn, requester, addressee),
        theirs=_find_request_txn(txn, addressee, requester),
        who_can_friend_request=settings[0] or WhoCanFriendRequest.EVERYONE,
        who_can_message=settings[1] or WhoCanMessage.EVERYONE,
        trust_override=settings[2],
    )
    action = decide_friend_request(facts)
    if action is FriendRequestAction.ACCEPT_THEIRS:
        assert facts.theirs is not None
        _befriend_txn(txn, requester, addressee, now_us)
        return action, facts.theirs
    if action is FriendRequestAction.EXISTING:
        assert facts.mine is not None
        return action, facts.mine
    txn.execute(
        "INSERT INTO friend_requests (requester_id, addressee_id, message, created_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (requester_id, addressee_id) DO NOTHING",
        (requester, addressee, request_text(facts, message), now_us),
    )
    # A concurrent identical request may have won the insert: report the stored one.
    stored = _find_request_txn(txn, requester, addressee)
    assert stored is not None
    return action, stored


def accept_friend_txn(
    txn: Txn, addressee: AccountId, requester: AccountId, *, now_us: int
) -> FriendRequest:
    """Atomically turn `requester`'s pending request to `addressee` into a friendship (both
    directions). Raises NotFound (friend_request_not_found) when there is no such request."""
    _lock_pair_txn(txn, addressee, requester)
    request = _find_request_txn(txn, requester, addressee)
    if request is None or not _account_exists_txn(txn, requester):
        raise NotFound(
            f"no pending friend request from {requester!r}", ErrorCode.FRIEND_REQUEST_NOT_FOUND
        )
    _befriend_txn(txn, addressee, requester, now_us)
    return request


def reject_friend_txn(txn: Txn, addressee: AccountId, requester: AccountId) -> FriendRequest:
    """Delete the pending request; NotFound (friend_request_not_found) if there is none."""
    request = _find_request_txn(txn, requester, addressee)
    if request is None:
        raise NotFound(
            f"no pending friend request from {requester!r}", ErrorCode.FRIEND_REQUEST_NOT_FOUND
        )
    txn.execute(
        "DELETE FROM friend_requests WHERE requester_id = ? AND addressee_id = ?",
        (requester, addressee),
    )
    return request


def remove_friend_txn(txn: Txn, account: AccountId, other: AccountId) -> bool:
    """End the friendship in both directions; False if they were not friends."""
    cur = txn.execute(
        "DELETE FROM friendships WHERE (account_id = ? AND friend_id = ?)"
        " OR (account_id = ? AND friend_id = ?)",
        (account, other, other, account),
    )
    return int(cur.rowcount) > 0


def list_friends_txn(txn: Txn, account: AccountId, *, limit: int) -> list[Account]:
    """Live friends, oldest friendship first."""
    rows = txn.execute(
        f"SELECT {_A_COLUMNS} FROM friendships f JOIN accounts a ON a.id = f.friend_id"
        " WHERE f.account_id = ? AND a.deleted_at IS NULL ORDER BY f.created_at, a.num LIMIT ?",
        (account, limit),
    ).fetchall()
    return [account_from_row(r) for r in rows]


def list_friend_requests_txn(
    txn: Txn, account: AccountId, *, received: bool, limit: int
) -> list[tuple[FriendRequest, Account]]:
    """Pending requests to (received) or from `account`, oldest first, each with the other
    party's live account. Requests involving a deleted account are left out."""
    mine, other = ("addressee_id", "requester_id") if received else ("requester_id", "addressee_id")
    rows = txn.execute(
        f"SELECT r.requester_id, r.addressee_id, r.message, r.created_at, {_A_COLUMNS}"
        f" FROM friend_requests r JOIN accounts a ON a.id = r.{other}"
        f" WHERE r.{mine} = ? AND a.deleted_at IS NULL ORDER BY r.created_at, a.num LIMIT ?",
        (account, limit),
    ).fetchall()
    return [(_request_from_row(r), account_from_row(r[4:])) for r in rows]


# --- blocks -------------------------------------------------------------------------------------


def block_txn(txn: Txn, account: AccountId, other: AccountId, *, now_us: int) -> bool:
    """Block `other` and, in the same transaction, end any friendship and drop requests
    both ways. Idempotent (False if already blocked); NotFound for an unknown account."""
    _lock_pair_txn(txn, account, other)
    if not _account_exists_txn(txn, other):
        raise NotFound(f"no account with id {other!r}", ErrorCode.AGENT_NOT_FOUND)
    cur = txn.execute(
        "INSERT INTO blocks (account_id, blocked_id, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (account_id, blocked_id) DO NOTHING",
        (account, other, now_us),
    )
    remove_friend_txn(txn, account, other)
    _drop_requests_txn(txn, account, other)
    return int(cur.rowcount) > 0


def unblock_txn(txn: Txn, account: AccountId, other: AccountId) -> bool:
    """Idempotent; False if it was not blocked."""
    cur = txn.execute(
        "DELETE FROM blocks WHERE account_id = ? AND blocked_id = ?", (account, other)
    )
    return int(cur.rowcount) > 0


def list_blocks_txn(txn: Txn, account: AccountId, *, limit: int) -> list[tuple[Account, int]]:
    """Blocked live accounts with the time they were blocked (µs), oldest first."""
    rows = txn.execute(
        f"SELECT {_A_COLUMNS}, b.created_at FROM blocks b JOIN accounts a ON a.id = b.blocked_id"
        " WHERE b.account_id = ? AND a.deleted_at IS NULL ORDER BY b.created_at, a.num LIMIT ?",
        (account, limit),
    ).fetchall()
    return [(account_from_row(r), int(r[8])) for r in rows]


# --- privacy settings ---------------------------------------------------------------------------


def get_settings_txn(txn: Txn, account: AccountId) -> PrivacySettings:
    """Stored settings, or the defaults (everyone, discoverable, no overrides)."""
    row = txn.execute(
        "SELECT who_can_message, discoverable, who_can_friend_request FROM account_settings"
        " WHERE account_id = ?",
        (account,),
    ).fetchone()
    overrides = txn.execute(
        "SELECT other_id, relation FROM trust_overrides WHERE account_id = ? ORDER BY other_id",
        (account,),
    ).fetchall()
    return PrivacySettings(
        who_can_message=WhoCanMessage(row[0]) if row else WhoCanMessage.EVERYONE,
        discoverable=bool(row[1]) if row else True,
        trust_overrides={AccountId(r[0]): r[1] for r in overrides},
        who_can_friend_request=WhoCanFriendRequest(row[2]) if row else WhoCanFriendRequest.EVERYONE,
    )


def update_settings_txn(
    txn: Txn, account: AccountId, changes: SettingsChanges, *, now_us: int
) -> PrivacySettings:
    """Apply a partial change atomically; returns the settings now in force. A given
    `trust_overrides` map replaces the stored one."""
    # Write the row first: on PostgreSQL that locks it, so a concurrent change waits and then
    # reads this one's result instead of overwriting it with what it read before.
    txn.execute(
        "INSERT INTO account_settings (account_id, updated_at) VALUES (?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET updated_at = excluded.updated_at",
        (account, now_us),
    )
    updated = apply_settings_changes(get_settings_txn(txn, account), changes)
    txn.execute(
        "INSERT INTO account_settings (account_id, who_can_message, discoverable,"
        " who_can_friend_request, updated_at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (account_id) DO UPDATE SET who_can_message = excluded.who_can_message,"
        " discoverable = excluded.discoverable,"
        " who_can_friend_request = excluded.who_can_friend_request,"
        " updated_at = excluded.updated_at",
        (
            account,
            updated.who_can_message.value,
            1 if updated.discoverable else 0,
            updated.who_can_friend_request.value,
            now_us,
        ),
    )
    if changes.trust_overrides is not None:
        txn.execute("DELETE FROM trust_overrides WHERE account_id = ?", (account,))
        items = sorted(changes.trust_overrides.items())
        if items:
            values = ", ".join(["(?, ?, ?, ?)"] * len(items))
            params: list[Any] = []
            for other, relation in items:
                params += [account, other, relation, now_us]
            txn.execute(
                "INSERT INTO trust_overrides (account_id, other_id, relation, created_at)"
                f" VALUES {values}",
                params,
            )
    return updated


# --- profile cards ------------------------------------------------------------------------------

PROFILE_COUNTS_SQL = (
    "(SELECT COUNT(*) FROM friendships f JOIN accounts fa ON fa.id = f.friend_id"
    " WHERE f.account_id = accounts.id AND fa.deleted_at IS NULL),"
    " (SELECT COUNT(*) FROM moments m WHERE m.author_id = accounts.id"
    " AND m.visibility = 'public' AND m.deleted_at IS NULL),"
    " (SELECT COUNT(*) FROM group_members gm JOIN groups g ON g.id = gm.group_id"
    " WHERE gm.account_id = accounts.id AND g.deleted_at IS NULL)"
)


def profile_with_counts_txn(
    txn: Txn, account_id: AccountId
) -> tuple[Account, ProfileCounts] | None:
    """The live account and its card counts (friends, public moments, groups), read
    together in one SELECT; None if there is no such live account."""
    row = txn.execute(
        f"SELECT {ACCOUNT_COLUMNS}, {PROFILE_COUNTS_SQL} FROM accounts"
        " WHERE id = ? AND deleted_at IS NULL",
        (account_id,),
    ).fetchone()
    if row is None:
        return None
    counts = ProfileCounts(friends=int(row[8]), moments=int(row[9]), groups=int(row[10]))
    return account_from_row(row), counts
