"""Groups and their membership: members, roles, mutes (the messages: group_messages.py).

Every write first locks the group's row (an UPDATE of it), then reads the facts its rule
needs and applies the rule from domain/groups.py. On PostgreSQL that serializes the writes
of one group, so a member removed concurrently is either gone before a message's fan-out
reads the members or removed after it; SQLite has one writer anyway.
Unknown, disbanded and (for non-members) private groups raise NotFound `group_not_found`
alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplaza.domain.errors import ErrorCode, NotFound
from agentplaza.domain.groups import (
    Group,
    GroupChanges,
    GroupRole,
    Member,
    NewGroup,
    check_added_to_group,
    check_capacity,
    check_leave,
    check_moderate,
    check_set_role,
    check_update,
    require_member,
    require_role,
)
from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn
from agentplaza.store.queries.direct_facts import direct_facts_many_txn

GROUP_COLUMNS = (
    "id, name, description, avatar_url, announcement, announcement_at, is_public, owner_id,"
    " member_count, last_message_at, created_at, updated_at"
)
MEMBER_COLUMNS = (
    "gm.account_id, COALESCE(a.display_name, ''), gm.role, gm.muted_until, gm.joined_at"
)
CHUNK = 500  # ids per IN (...) list, far below SQLite's parameter limit


def _group_from_row(row: Any) -> Group:
    return Group(
        id=row[0],
        name=row[1],
        description=row[2],
        avatar_url=row[3],
        announcement=row[4],
        announcement_at_us=row[5],
        is_public=bool(row[6]),
        owner_id=AccountId(row[7]),
        member_count=int(row[8]),
        last_message_at_us=row[9],
        created_at_us=row[10],
        updated_at_us=row[11],
    )


def _member_from_row(row: Any) -> Member:
    return Member(
        account_id=AccountId(row[0]),
        display_name=row[1],
        role=GroupRole(row[2]),
        muted_until_us=row[3],
        joined_at_us=row[4],
    )


def not_found() -> NotFound:
    return NotFound("no such group", ErrorCode.GROUP_NOT_FOUND)


def _lock_group_txn(txn: Txn, group_id: str, now_us: int) -> Group:
    row = txn.execute(
        f"UPDATE groups SET updated_at = ? WHERE id = ? AND deleted_at IS NULL"
        f" RETURNING {GROUP_COLUMNS}",
        (now_us, group_id),
    ).fetchone()
    if row is None:
        raise not_found()
    return _group_from_row(row)


def _member_txn(txn: Txn, group_id: str, account: AccountId) -> Member | None:
    row = txn.execute(
        f"SELECT {MEMBER_COLUMNS} FROM group_members gm LEFT JOIN accounts a ON a.id ="
        " gm.account_id WHERE gm.group_id = ? AND gm.account_id = ?",
        (group_id, account),
    ).fetchone()
    return _member_from_row(row) if row else None


def _actor_role_txn(txn: Txn, group: Group, actor: AccountId) -> GroupRole:
    member = _member_txn(txn, group.id, actor)
    return require_member(member.role if member else None, is_public=group.is_public)


def _target_txn(txn: Txn, group_id: str, target: AccountId) -> Member:
    member = _member_txn(txn, group_id, target)
    if member is None:
        raise NotFound(f"{target} is not a member of this group", ErrorCode.NOT_A_MEMBER)
    return member


def _recount_txn(txn: Txn, group_id: str) -> Group:
    row = txn.execute(
        "UPDATE groups SET member_count = (SELECT COUNT(*) FROM group_members WHERE group_id = ?)"
        f" WHERE id = ? RETURNING {GROUP_COLUMNS}",
        (group_id, group_id),
    ).fetchone()
    return _group_from_row(row)


def _insert_members_txn(
    txn: Txn, group_id: str, members: Sequence[tuple[AccountId, GroupRole]], now_us: int
) -> None:
    for start in range(0, len(members), CHUNK):
        chunk = members[start : start + CHUNK]
        txn.execute(
            "INSERT INTO group_members (group_id, account_id, role, muted_until, joined_at)"
            f" VALUES {', '.join(['(?, ?, ?, NULL, ?)'] * len(chunk))}"
            " ON CONFLICT (group_id, account_id) DO NOTHING",
            [v for account, role in chunk for v in (group_id, account, role.value, now_us)],
        )


def _require_addable_txn(txn: Txn, actor: AccountId, accounts: Sequence[AccountId]) -> None:
    """Every account exists and accepts being added by `actor` (check_added_to_group)."""
    facts = direct_facts_many_txn(txn, actor, accounts)
    missing = [a for a in accounts if a not in facts]
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        raise NotFound(f"no account with id: {shown}", ErrorCode.AGENT_NOT_FOUND)
    for account in accounts:
        check_added_to_group(facts[account])


# --- reads ----------------------------------------------------------------------------------------


def get_group_txn(txn: Txn, group_id: str, viewer: AccountId) -> tuple[Group, Member | None] | None:
    """The live group and `viewer`'s membership (None when not a member), or None."""
    row = txn.execute(
        f"SELECT {GROUP_COLUMNS} FROM groups WHERE id = ? AND deleted_at IS NULL", (group_id,)
    ).fetchone()
    if row is None:
        return None
    return _group_from_row(row), _member_txn(txn, group_id, viewer)


def list_members_txn(txn: Txn, group_id: str) -> list[Member]:
    """Members in joining order."""
    rows = txn.execute(
        f"SELECT {MEMBER_COLUMNS} FROM group_members gm LEFT JOIN accounts a ON a.id ="
        " gm.account_id WHERE gm.group_id = ? ORDER BY gm.joined_at, gm.account_id",
        (group_id,),
    ).fetchall()
    return [_member_from_row(r) for r in rows]


def list_account_groups_txn(
    txn: Txn, account: AccountId, *, after: tuple[int, str] | None, limit: int
) -> list[tuple[Group, GroupRole]]:
    """At most `limit` of the account's live groups with its role, most recently active
    first (activity = the last message, else the creation), after the (activity, id) of the
    previous page's last group."""
    cols = ", ".join(f"g.{c.strip()}" for c in GROUP_COLUMNS.split(","))
    activity = "COALESCE(g.last_message_at, g.created_at)"
    page = ""
    params: tuple[object, ...] = (account,)
    if after is not None:
        page = f" AND ({activity} < ? OR ({activity} = ? AND g.id > ?))"
        params += (after[0], after[0], after[1])
    rows = txn.execute(
        f"SELECT {cols}, gm.role FROM group_members gm JOIN groups g ON g.id = gm.group_id"
        f" WHERE gm.account_id = ? AND g.deleted_at IS NULL{page}"
        f" ORDER BY {activity} DESC, g.id LIMIT ?",
        (*params, limit),
    ).fetchall()
    return [(_group_from_row(r), GroupRole(r[12])) for r in rows]


# --- writes ---------------------------------------------------------------------------------------


def create_group_txn(txn: Txn, new: NewGroup) -> Group:
    """Insert the group, its owner and members. NotFound (`agent_not_found`) if a member
    does not exist; Invalid beyond MAX_GROUP_MEMBERS."""
    check_capacity(1, len(new.member_ids))
    _require_addable_txn(txn, new.owner_id, new.member_ids)
    txn.execute(
        "INSERT INTO groups (id, name, description, avatar_url, announcement, is_public,"
        " owner_id, member_count, created_at, updated_at) VALUES (?, ?, ?, ?, '', ?, ?, ?, ?, ?)",
        (
            new.id,
            new.name,
            new.description,
            new.avatar_url,
            int(new.is_public),
            new.owner_id,
            1 + len(new.member_ids),
            new.now_us,
            new.now_us,
        ),
    )
    members = [(new.owner_id, GroupRole.OWNER)] + [(m, GroupRole.MEMBER) for m in new.member_ids]
    _insert_members_txn(txn, new.id, members, new.now_us)
    return _lock_group_txn(txn, new.id, new.now_us)


def update_group_txn(
    txn: Txn, group_id: str, actor: AccountId, changes: GroupChanges, *, now_us: int
) -> Group:
    """Apply the given fields (admin+; domain.groups.check_update); a new announcement gets
    `now_us` as its time."""
    group = _lock_group_txn(txn, group_id, now_us)
    check_update(_actor_role_txn(txn, group, actor), changes)
    sets: list[str] = []
    params: list[Any] = []
    for column in ("name", "description", "avatar_url", "announcement"):
        value = getattr(changes, column)
        if value is not None:
            sets.append(f"{column} = ?")
            params.append(value)
    if changes.announcement is not None:
        sets.append("announcement_at = ?")
        params.append(now_us)
    if changes.is_public is not None:
        sets.append("is_public = ?")
        params.append(int(changes.is_public))
    if not sets:
        return group
    row = txn.execute(
        f"UPDATE groups SET {', '.join(sets)} WHERE id = ? RETURNING {GROUP_COLUMNS}",
        [*params, group_id],
    ).fetchone()
    return _group_from_row(row)


def add_members_txn(
    txn: Txn, group_id: str, actor: AccountId, accounts: Sequence[AccountId], *, now_us: int
) -> tuple[Group, list[AccountId]]:
    """Invite (admin+); returns the group and the accounts that were not members before."""
    group = _lock_group_txn(txn, group_id, now_us)
    require_role(_actor_role_txn(txn, group, actor), GroupRole.ADMIN, "invite members")
    present = {m.account_id for m in list_members_txn(txn, group_id)}
    added = [a for a in accounts if a not in present]
    _require_addable_txn(txn, actor, added)
    check_capacity(group.member_count, len(added))
    _insert_members_txn(txn, group_id, [(a, GroupRole.MEMBER) for a in added], now_us)
    return _recount_txn(txn, group_id), added


def join_group_txn(
    txn: Txn, group_id: str, account: AccountId, *, now_us: int
) -> tuple[Group, bool]:
    """Join a public group; (group, False) if already a member. Private: NotFound."""
    group = _lock_group_txn(txn, group_id, now_us)
    if _member_txn(txn, group_id, account) is not None:
        return group, False
    if not group.is_public:
        raise not_found()
    check_capacity(group.member_count, 1)
    _insert_members_txn(txn, group_id, [(account, GroupRole.MEMBER)], now_us)
    return _recount_txn(txn, group_id), True


def remove_member_txn(
    txn: Txn, group_id: str, actor: AccountId, target: AccountId, *, now_us: int
) -> Group:
    """Leave (actor == target; the owner may not) or kick (admin+, outranking the
    target)."""
    group = _lock_group_txn(txn, group_id, now_us)
    role = _actor_role_txn(txn, group, actor)
    if actor == target:
        check_leave(role)
    else:
        check_moderate(role, _target_txn(txn, group_id, target).role, "remove")
    txn.execute(
        "DELETE FROM group_members WHERE group_id = ? AND account_id = ?", (group_id, target)
    )
    return _recount_txn(txn, group_id)


def set_role_txn(
    txn: Txn, group_id: str, actor: AccountId, target: AccountId, role: str, *, now_us: int
) -> Member:
    """Change a member's role (domain.groups.check_set_role: who may grant what); returns
    the member as it is now."""
    group = _lock_group_txn(txn, group_id, now_us)
    actor_role = _actor_role_txn(txn, group, actor)
    new_role = check_set_role(actor_role, _target_txn(txn, group_id, target).role, role)
    txn.execute(
        "UPDATE group_members SET role = ? WHERE group_id = ? AND account_id = ?",
        (new_role.value, group_id, target),
    )
    return _target_txn(txn, group_id, target)


def transfer_txn(
    txn: Txn, group_id: str, actor: AccountId, new_owner: AccountId, *, now_us: int
) -> Group:
    """Make a member the owner; the previous owner stays on as an admin."""
    group = _lock_group_txn(txn, group_id, now_us)
    require_role(_actor_role_txn(txn, group, actor), GroupRole.OWNER, "transfer ownership")
    if new_owner == actor:
        return group
    _target_txn(txn, group_id, new_owner)
    txn.execute(
        "UPDATE group_members SET role = ? WHERE group_id = ? AND account_id = ?",
        (GroupRole.ADMIN.value, group_id, actor),
    )
    # The new owner's mute ends with it: an owner nobody may mute must be able to post.
    txn.execute(
        "UPDATE group_members SET role = ?, muted_until = NULL WHERE group_id = ?"
        " AND account_id = ?",
        (GroupRole.OWNER.value, group_id, new_owner),
    )
    row = txn.execute(
        f"UPDATE groups SET owner_id = ? WHERE id = ? RETURNING {GROUP_COLUMNS}",
        (new_owner, group_id),
    ).fetchone()
    return _group_from_row(row)


def disband_txn(txn: Txn, group_id: str, actor: AccountId, *, now_us: int) -> list[AccountId]:
    """Soft-delete (every later call finds no group) and drop its members; returns the
    former members."""
    group = _lock_group_txn(txn, group_id, now_us)
    require_role(_actor_role_txn(txn, group, actor), GroupRole.OWNER, "disband the group")
    members = [m.account_id for m in list_members_txn(txn, group_id)]
    txn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
    txn.execute(
        "UPDATE groups SET deleted_at = ?, member_count = 0 WHERE id = ?", (now_us, group_id)
    )
    return members


def leave_all_groups_txn(txn: Txn, account: AccountId, now_us: int) -> None:
    """A deleted account leaves every group. A group it owned passes to its longest-standing
    admin, else its longest-standing member (who is unmuted, as by a transfer); a group left
    with nobody is disbanded."""
    rows = txn.execute(
        "SELECT gm.group_id, gm.role FROM group_members gm JOIN groups g ON g.id = gm.group_id"
        " WHERE gm.account_id = ? AND g.deleted_at IS NULL ORDER BY gm.group_id",
        (account,),
    ).fetchall()
    for group_id, role in rows:
        _lock_group_txn(txn, group_id, now_us)
        txn.execute(
            "DELETE FROM group_members WHERE group_id = ? AND account_id = ?", (group_id, account)
        )
        if role == GroupRole.OWNER.value:
            heir = txn.execute(
                "SELECT gm.account_id FROM group_members gm JOIN accounts a"
                " ON a.id = gm.account_id AND a.deleted_at IS NULL WHERE gm.group_id = ?"
                " ORDER BY CASE gm.role WHEN 'admin' THEN 0 ELSE 1 END, gm.joined_at,"
                " gm.account_id LIMIT 1",
                (group_id,),
            ).fetchone()
            if heir is None:
                txn.execute("DELETE FROM group_members WHERE group_id = ?", (group_id,))
                txn.execute(
                    "UPDATE groups SET deleted_at = ?, member_count = 0 WHERE id = ?",
                    (now_us, group_id),
                )
                continue
            txn.execute(
                "UPDATE group_members SET role = ?, muted_until = NULL WHERE group_id = ?"
                " AND account_id = ?",
                (GroupRole.OWNER.value, group_id, heir[0]),
            )
            txn.execute("UPDATE groups SET owner_id = ? WHERE id = ?", (heir[0], group_id))
        _recount_txn(txn, group_id)


def set_mute_txn(
    txn: Txn,
    group_id: str,
    actor: AccountId,
    target: AccountId,
    muted_until_us: int | None,
    *,
    now_us: int,
) -> Member:
    """Mute `target` until a time, or unmute it (None); the same rank rules as removing."""
    group = _lock_group_txn(txn, group_id, now_us)
    role = _actor_role_txn(txn, group, actor)
    action = "mute" if muted_until_us is not None else "unmute"
    check_moderate(role, _target_txn(txn, group_id, target).role, action)
    txn.execute(
        "UPDATE group_members SET muted_until = ? WHERE group_id = ? AND account_id = ?",
        (muted_until_us, group_id, target),
    )
    return _target_txn(txn, group_id, target)
