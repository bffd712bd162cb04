"""Groups: membership, roles, mutes, announcements and reads (a group's messages are sent by
services/sending.py).

Rules live in domain/groups.py and are applied by the store inside each write's transaction
(store/queries/groups.py); this module validates input and tells the members what changed.
See docs/groups.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account, named_account_id
from agentplaza.domain.cursors import clamp_limit, decode_activity_cursor, encode_activity_cursor
from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.groups import (
    INVITE_MAX_IDS,
    MAX_GROUP_MEMBERS,
    MY_GROUPS_MAX_LIMIT,
    Group,
    GroupChanges,
    GroupRole,
    Member,
    NewGroup,
    is_group_id,
    member_ids,
    mute_until,
    new_group_id,
    validate_announcement,
    validate_avatar_url,
    validate_description,
    validate_name,
)
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import (
    Message,
)
from agentplaza.domain.notifications import NotificationKind
from agentplaza.services.notifications import Notice, Notifications
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupDetail:
    """A group as a caller sees it: with the members when the caller may list them."""

    group: Group
    members: list[Member] | None
    role: GroupRole | None
    """The caller's role; None when it is not a member (a public group's visitor)."""


class Groups:
    def __init__(self, runtime: Runtime, notifications: Notifications) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._notifications = notifications

    async def create(
        self,
        actor: Account,
        *,
        name: str,
        members: Sequence[object],
        description: str = "",
        avatar_url: str = "",
        is_public: bool = False,
    ) -> GroupDetail:
        """Create a group owned by `actor` with `members` (the owner may be listed or not)."""
        if len(members) > MAX_GROUP_MEMBERS:
            raise Invalid(f"a group has at most {MAX_GROUP_MEMBERS} members")
        now_us = self._rt.clock_us()
        new = NewGroup(
            id=new_group_id(self._rt.random_bytes(16)),
            name=validate_name(name),
            description=validate_description(description),
            avatar_url=validate_avatar_url(avatar_url),
            is_public=is_public,
            owner_id=actor.id,
            member_ids=member_ids(_account_ids(members), owner=actor.id),
            now_us=now_us,
        )
        group = await self._store.create_group(new)
        await self._tell(
            actor, group, new.member_ids, NotificationKind.GROUP_INVITED, "added you to"
        )
        return await self._detail(group, GroupRole.OWNER)

    # --- reads --------------------------------------------------------------------------------
    async def mine(
        self, actor: Account, *, cursor: str | None = None, limit: int = MY_GROUPS_MAX_LIMIT
    ) -> tuple[list[tuple[Group, GroupRole]], str | None]:
        """A page of the actor's groups, most recently active first, and the cursor of the
        next page (None on the last)."""
        limit = clamp_limit(limit, default=MY_GROUPS_MAX_LIMIT, maximum=MY_GROUPS_MAX_LIMIT)
        after = decode_activity_cursor(cursor) if cursor else None
        rows = await self._store.list_account_groups(actor.id, after=after, limit=limit + 1)
        if len(rows) <= limit:
            return rows, None
        last = rows[limit - 1][0]
        activity = (
            last.last_message_at_us if last.last_message_at_us is not None else last.created_at_us
        )
        return rows[:limit], encode_activity_cursor(activity, last.id)

    async def get(self, actor: Account, group_id: str) -> GroupDetail:
        """Members see everything; anyone sees a public group; a private one is not found."""
        group, member = await self._visible(actor, group_id)
        return await self._detail(group, member.role if member else None)

    async def members(self, actor: Account, group_id: str) -> list[Member]:
        group, _ = await self._visible(actor, group_id)
        return await self._store.list_group_members(group.id)

    async def history(
        self, actor: Account, group_id: str, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        """Members only: newest first, with row numbers for the page cursor."""
        return await self._store.read_group_messages(
            _group_id(group_id), actor.id, before_num=before_num, limit=limit
        )

    # --- writes -------------------------------------------------------------------------------
    async def update(self, actor: Account, group_id: str, changes: GroupChanges) -> GroupDetail:
        checked = GroupChanges(
            name=_maybe(validate_name, changes.name),
            description=_maybe(validate_description, changes.description),
            avatar_url=_maybe(validate_avatar_url, changes.avatar_url),
            is_public=changes.is_public,
            announcement=_maybe(validate_announcement, changes.announcement),
        )
        group = await self._store.update_group(
            _group_id(group_id), actor.id, checked, now_us=self._rt.clock_us()
        )
        if checked.announcement is not None:
            await self._announce(actor, group)
        return await self.get(actor, group.id)

    async def announce(self, actor: Account, group_id: str, text: str) -> GroupDetail:
        return await self.update(actor, group_id, GroupChanges(announcement=text))

    async def invite(
        self, actor: Account, group_id: str, raw: Sequence[object]
    ) -> tuple[GroupDetail, list[AccountId]]:
        if not raw:
            raise Invalid("members must list at least one account id")
        if len(raw) > INVITE_MAX_IDS:
            raise Invalid(f"at most {INVITE_MAX_IDS} members per invite")
        invitees = member_ids(_account_ids(raw), owner=actor.id)
        group, added = await self._store.add_group_members(
            _group_id(group_id), actor.id, invitees, now_us=self._rt.clock_us()
        )
        await self._tell(actor, group, added, NotificationKind.GROUP_INVITED, "added you to")
        return await self.get(actor, group.id), added

    async def join(self, actor: Account, group_id: str) -> GroupDetail:
        group, _ = await self._store.join_group(
            _group_id(group_id), actor.id, now_us=self._rt.clock_us()
        )
        return await self.get(actor, group.id)  # an owner "joining" again stays the owner

    async def remove(self, actor: Account, group_id: str, raw_target: str) -> Group:
        target = _member_id(raw_target)
        group = await self._store.remove_group_member(
            _group_id(group_id), actor.id, target, now_us=self._rt.clock_us()
        )
        if target != actor.id:
            await self._tell(
                actor, group, [target], NotificationKind.GROUP_REMOVED, "removed you from"
            )
        return group

    async def leave(self, actor: Account, group_id: str) -> Group:
        return await self.remove(actor, group_id, actor.id)

    async def set_role(self, actor: Account, group_id: str, raw_target: str, role: str) -> Member:
        target = _member_id(raw_target)
        member = await self._store.set_group_role(
            _group_id(group_id), actor.id, target, role, now_us=self._rt.clock_us()
        )
        await self._tell_one(
            actor,
            group_id,
            target,
            NotificationKind.GROUP_ROLE_CHANGED,
            f"made you {member.role.value} of a group",
            {"role": member.role.value},
        )
        return member

    async def transfer(self, actor: Account, group_id: str, raw_new_owner: object) -> GroupDetail:
        new_owner = named_account_id(raw_new_owner)
        try:
            group = await self._store.transfer_group(
                _group_id(group_id), actor.id, new_owner, now_us=self._rt.clock_us()
            )
        except NotFound as exc:
            # Checked only after a miss: an account that does not exist is agent_not_found,
            # as everywhere an account is named (seed 001), not just "not a member".
            if exc.code is ErrorCode.NOT_A_MEMBER and not await self._store.get_account(new_owner):
                raise NotFound(
                    f"no account with id {new_owner!r}", ErrorCode.AGENT_NOT_FOUND
                ) from None
            raise
        if new_owner != actor.id:
            await self._tell_one(
                actor,
                group.id,
                new_owner,
                NotificationKind.GROUP_OWNER_TRANSFERRED,
                f"made you the owner of {group.name}",
                {},
            )
        return await self.get(actor, group.id)

    async def disband(self, actor: Account, group_id: str) -> None:
        gid = _group_id(group_id)
        found = await self._store.get_group(gid, actor.id)
        former = await self._store.disband_group(gid, actor.id, now_us=self._rt.clock_us())
        if found is not None:
            await self._tell(actor, found[0], former, NotificationKind.GROUP_DISBANDED, "disbanded")

    async def mute(
        self, actor: Account, group_id: str, raw_target: str, duration_secs: int | None
    ) -> Member:
        now_us = self._rt.clock_us()
        target = _member_id(raw_target)
        until = mute_until(now_us, duration_secs)
        member = await self._store.set_group_mute(
            _group_id(group_id), actor.id, target, until, now_us=now_us
        )
        await self._tell_one(
            actor,
            group_id,
            target,
            NotificationKind.GROUP_MUTED,
            "muted you in a group",
            {"duration": duration_secs or 0},
        )
        return member

    async def unmute(self, actor: Account, group_id: str, raw_target: str) -> Member:
        return await self._store.set_group_mute(
            _group_id(group_id),
            actor.id,
            _member_id(raw_target),
            None,
            now_us=self._rt.clock_us(),
        )

    # --- helpers ------------------------------------------------------------------------------
    async def _visible(self, actor: Account, group_id: str) -> tuple[Group, Member | None]:
        found = await self._store.get_group(_group_id(group_id), actor.id)
        if found is None or (found[1] is None and not found[0].is_public):
            raise NotFound("no such group", ErrorCode.GROUP_NOT_FOUND)
        return found

    async def _detail(self, group: Group, role: GroupRole | None) -> GroupDetail:
        members = await self._store.list_group_members(group.id)
        return GroupDetail(group=group, members=members, role=role)

    async def _announce(self, actor: Account, group: Group) -> None:
        members = [m.account_id for m in await self._store.list_group_members(group.id)]
        await self._tell(
            actor,
            group,
            members,
            NotificationKind.GROUP_ANNOUNCEMENT,
            "posted an announcement in",
            {"announcement": group.announcement},
        )

    async def _tell(
        self,
        actor: Account,
        group: Group,
        recipients: Sequence[AccountId],
        kind: NotificationKind,
        verb: str,
        data: dict[str, object] | None = None,
    ) -> None:
        """Notifications about a committed change (best effort: the change stands anyway)."""
        notices = [
            Notice(
                recipient=r,
                kind=kind,
                subject_id=group.id,
                summary=f"{actor.display_name} {verb} {group.name}",
                data={"group_id": group.id, "group_name": group.name, **(data or {})},
            )
            for r in recipients
        ]
        await self._notify(actor, notices)

    async def _tell_one(
        self,
        actor: Account,
        group_id: str,
        recipient: AccountId,
        kind: NotificationKind,
        summary: str,
        data: dict[str, object],
    ) -> None:
        notice = Notice(
            recipient=recipient,
            kind=kind,
            subject_id=group_id,
            summary=f"{actor.display_name} {summary}",
            data={"group_id": group_id, **data},
        )
        await self._notify(actor, [notice])

    # --- the agentim SDK's path into groups (called from api/routes/threads.py) ----------
    async def thread_messages(
        self, account: Account, thread_id: str, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        """`GET /v1/threads/{group id}/messages`: the group history, for members only."""
        try:
            return await self._store.read_group_messages(
                _group_id(thread_id), account.id, before_num=before_num, limit=limit
            )
        except (NotFound, Forbidden):
            raise NotFound("no such thread", ErrorCode.THREAD_NOT_FOUND) from None

    async def _notify(self, actor: Account, notices: list[Notice]) -> None:
        if not notices:
            return
        try:
            await self._notifications.notify(actor, notices)
        except Exception:
            # The change itself is committed; failing the request now would invite a retry
            # of something already done.
            log.exception("group notifications failed (%d dropped)", len(notices))


# --- input --------------------------------------------------------------------------------------


def _group_id(raw: str) -> str:
    if not is_group_id(raw):  # nothing else can name a group: not found, like a gone one
        raise NotFound("no such group", ErrorCode.GROUP_NOT_FOUND)
    return raw


def _member_id(raw: str) -> AccountId:
    """A member named in the path: what cannot be an account id is no member (404, like a
    path naming any other resource that does not exist)."""
    account = ids.parse_account_id(raw)
    if account is None:
        raise NotFound("no such member in this group", ErrorCode.NOT_A_MEMBER)
    return account


def _account_ids(raw: Sequence[object]) -> list[AccountId]:
    return [named_account_id(r) for r in raw]


def _maybe(check: Callable[[str], str], value: str | None) -> str | None:
    return None if value is None else check(value)
