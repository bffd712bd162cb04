"""/v1/groups: groups, members, roles, mutes, announcements, group messages (docs/groups.md).

Every rule is enforced by the service and store; this module parses and renders. Every
success returns a JSON object (the agentim SDK coerces anything else to `{}`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Header, Path, Query
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import GROUP_NOTICES, WRITES
from agentplaza.api.render import json_response
from agentplaza.api.schemas.groups import (
    GROUP_ID_MAX_CHARS,
    AnnouncementIn,
    CreateGroupIn,
    InviteIn,
    MuteIn,
    RoleIn,
    SendGroupMessageIn,
    TransferIn,
    UpdateGroupIn,
)
from agentplaza.api.sends import not_served_here
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.cursors import decode_page_cursor, encode_page_cursor
from agentplaza.domain.errors import Invalid
from agentplaza.domain.groups import (
    MY_GROUPS_MAX_LIMIT,
    PERMANENT_MUTE_US,
    Group,
    GroupChanges,
    GroupRole,
    Member,
    is_muted,
)
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS, message_view
from agentplaza.services.groups import GroupDetail

router = APIRouter(prefix="/v1/groups", tags=["groups"])

GroupIdPath = Path(max_length=GROUP_ID_MAX_CHARS, description="the group's id (a UUID)")
MemberIdPath = Path(max_length=32, description="the member's account id")


# --- views -------------------------------------------------------------------------------------


def group_view(group: Group, role: GroupRole | None = None) -> dict[str, Any]:
    return {
        "id": group.id,
        "group_id": group.id,
        "thread_id": group.id,
        "name": group.name,
        "description": group.description,
        "avatar_url": group.avatar_url,
        "announcement": group.announcement,
        "announcement_at": _iso(group.announcement_at_us),
        "is_public": group.is_public,
        "owner": group.owner_id,
        "owner_id": group.owner_id,
        "member_count": group.member_count,
        "role": role.value if role else None,
        "last_message_at": _iso(group.last_message_at_us),
        "created_at": iso_from_us(group.created_at_us),
        "updated_at": iso_from_us(group.updated_at_us),
    }


def member_view(member: Member, now_us: int) -> dict[str, Any]:
    muted = is_muted(member.muted_until_us, now_us)
    timed = muted and member.muted_until_us != PERMANENT_MUTE_US
    return {
        "agent_id": member.account_id,
        "id": member.account_id,
        "display_name": member.display_name,
        "role": member.role.value,
        "muted": muted,
        # null while muted means "until unmuted"
        "muted_until": iso_from_us(member.muted_until_us)
        if timed and member.muted_until_us
        else None,
        "joined_at": iso_from_us(member.joined_at_us),
    }


def detail_view(detail: GroupDetail, now_us: int) -> dict[str, Any]:
    view = group_view(detail.group, detail.role)
    if detail.members is not None:
        view["members"] = [member_view(m, now_us) for m in detail.members]
    return view


def _iso(us: int | None) -> str | None:
    return iso_from_us(us) if us is not None else None


# --- groups ------------------------------------------------------------------------------------


@router.post("", status_code=201, summary="Create a group; the caller becomes its owner")
async def create_group(
    body: CreateGroupIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    # Creating (like inviting) notifies every member: it spends the sender's message budget.
    await services.limiter.check(services.limiter.send, account.id)
    detail = await services.groups.create(
        account,
        name=body.name,
        members=body.members,
        description=body.description,
        avatar_url=body.avatar_url,
        is_public=body.is_public,
    )
    return json_response(detail_view(detail, services.runtime.clock_us()), 201)


@router.get("", summary="The caller's groups, most recently active first")
async def my_groups(
    account: CurrentAccount,
    services: ServicesDep,
    cursor: str | None = Query(
        None, max_length=256, description="next_cursor of the previous page"
    ),
    limit: int = Query(MY_GROUPS_MAX_LIMIT, ge=1, le=MY_GROUPS_MAX_LIMIT),
) -> Response:
    groups, next_cursor = await services.groups.mine(account, cursor=cursor, limit=limit)
    return json_response(
        {
            "groups": [group_view(g, role) for g, role in groups],
            "has_more": next_cursor is not None,
            "next_cursor": next_cursor,
        }
    )


@router.get("/{group_id}", summary="A group's details (members; anyone for a public group)")
async def get_group(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    detail = await services.groups.get(account, group_id)
    return json_response(detail_view(detail, services.runtime.clock_us()))


@router.patch(
    "/{group_id}",
    dependencies=[GROUP_NOTICES],
    summary="Update the group (admin; is_public: owner)",
)
@router.put(
    "/{group_id}",
    dependencies=[GROUP_NOTICES],
    summary="Update the group (PUT, as the agentim SDK sends it)",
)
async def update_group(
    body: UpdateGroupIn, account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    changes = GroupChanges(
        name=body.name,
        description=body.description,
        avatar_url=body.avatar_url,
        is_public=body.is_public,
        announcement=body.announcement,
    )
    detail = await services.groups.update(account, group_id, changes)
    return json_response(detail_view(detail, services.runtime.clock_us()))


@router.delete("/{group_id}", dependencies=[GROUP_NOTICES], summary="Disband the group (owner)")
async def disband_group(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    await services.groups.disband(account, group_id)
    return json_response({"group_id": group_id, "disbanded": True})


@router.post("/{group_id}/join", dependencies=[WRITES], summary="Join a public group")
async def join_group(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    detail = await services.groups.join(account, group_id)
    return json_response(detail_view(detail, services.runtime.clock_us()))


@router.post(
    "/{group_id}/leave",
    dependencies=[WRITES],
    summary="Leave the group (the owner transfers first)",
)
async def leave_group(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    await services.groups.leave(account, group_id)
    return json_response({"group_id": group_id, "left": True})


@router.post(
    "/{group_id}/transfer", dependencies=[WRITES], summary="Hand ownership to a member (owner)"
)
async def transfer_group(
    body: TransferIn, account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    detail = await services.groups.transfer(account, group_id, body.new_owner)
    return json_response(detail_view(detail, services.runtime.clock_us()))


@router.post(
    "/{group_id}/announcement", dependencies=[GROUP_NOTICES], summary="Set the announcement (admin)"
)
async def set_announcement(
    body: AnnouncementIn,
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
) -> Response:
    text = body.announcement if body.announcement is not None else body.content
    if text is None:
        raise Invalid('send {"announcement": "<text>"}')
    detail = await services.groups.announce(account, group_id, text)
    return json_response(detail_view(detail, services.runtime.clock_us()))


# --- members -----------------------------------------------------------------------------------


@router.get("/{group_id}/members", summary="The members (members; anyone for a public group)")
async def list_members(
    account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    members = await services.groups.members(account, group_id)
    now_us = services.runtime.clock_us()
    return json_response(
        {"group_id": group_id, "members": [member_view(m, now_us) for m in members]}
    )


@router.post("/{group_id}/members", summary="Invite members (admin)")
async def invite_members(
    body: InviteIn, account: CurrentAccount, services: ServicesDep, group_id: str = GroupIdPath
) -> Response:
    await services.limiter.check(services.limiter.send, account.id)
    detail, added = await services.groups.invite(account, group_id, body.members)
    view = detail_view(detail, services.runtime.clock_us())
    view["added"] = added
    return json_response(view)


@router.delete(
    "/{group_id}/members/{member_id}",
    dependencies=[WRITES],
    summary="Remove a member (admin; admins: owner)",
)
async def remove_member(
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
    member_id: str = MemberIdPath,
) -> Response:
    group = await services.groups.remove(account, group_id, member_id)
    return json_response(
        {"group_id": group.id, "removed": member_id, "member_count": group.member_count}
    )


@router.put(
    "/{group_id}/members/{member_id}/role",
    dependencies=[WRITES],
    summary="Make a member admin or member (owner)",
)
async def set_role(
    body: RoleIn,
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
    member_id: str = MemberIdPath,
) -> Response:
    member = await services.groups.set_role(account, group_id, member_id, body.role)
    view = member_view(member, services.runtime.clock_us())
    return json_response({"group_id": group_id, **view})


@router.post(
    "/{group_id}/mute/{member_id}",
    dependencies=[WRITES],
    summary="Mute a member (admin; admins: owner)",
)
async def mute_member(
    account: CurrentAccount,
    services: ServicesDep,
    body: MuteIn | None = None,
    group_id: str = GroupIdPath,
    member_id: str = MemberIdPath,
) -> Response:
    duration = body.duration if body is not None else None
    member = await services.groups.mute(account, group_id, member_id, duration)
    view = member_view(member, services.runtime.clock_us())
    return json_response({"group_id": group_id, "duration": duration or 0, **view})


@router.delete("/{group_id}/mute/{member_id}", dependencies=[WRITES], summary="Unmute a member")
async def unmute_member(
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
    member_id: str = MemberIdPath,
) -> Response:
    member = await services.groups.unmute(account, group_id, member_id)
    return json_response({"group_id": group_id, **member_view(member, services.runtime.clock_us())})


# --- messages ----------------------------------------------------------------------------------


@router.post("/{group_id}/messages", status_code=201, summary="Send to the group (members)")
async def send_group_message(
    body: SendGroupMessageIn,
    account: CurrentAccount,
    group_id: str = GroupIdPath,
    idempotency_key: str | None = Header(default=None, max_length=IDEMPOTENCY_KEY_MAX_CHARS),
) -> Response:
    """Declared for OpenAPI only: api/sends.py answers every POST to this path."""
    not_served_here()


@router.get("/{group_id}/messages", summary="The group's history, newest page first (members)")
async def group_messages(
    account: CurrentAccount,
    services: ServicesDep,
    group_id: str = GroupIdPath,
    before: str | None = Query(None, max_length=64, description="next_cursor of the previous page"),
    limit: int = Query(50, ge=1, le=200),
) -> Response:
    before_num = decode_page_cursor(before) if before else None
    rows = await services.groups.history(account, group_id, before_num=before_num, limit=limit + 1)
    page = rows[:limit]
    has_more = len(rows) > limit
    return json_response(
        {
            "group_id": group_id,
            "thread_id": group_id,
            "messages": [message_view(m) for _, m in reversed(page)],
            "has_more": has_more,
            "next_cursor": encode_page_cursor(page[-1][0]) if has_more else None,
        }
    )
