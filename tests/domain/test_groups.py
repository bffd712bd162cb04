"""Pure group rules: ids, field checks, mentions, role decisions, mutes, fan-out planning."""

from __future__ import annotations

import pytest

from agentplaza.domain.errors import AgentplazaError, ErrorCode
from agentplaza.domain.groups import (
    MAX_GROUP_MEMBERS,
    PERMANENT_MUTE_US,
    GroupChanges,
    GroupRole,
    GroupSendFacts,
    MemberFacts,
    check_capacity,
    check_leave,
    check_moderate,
    check_set_role,
    check_update,
    is_group_id,
    is_muted,
    member_ids,
    mute_until,
    new_group_id,
    parse_mentions,
    plan_group_delivery,
    require_member,
    validate_announcement,
    validate_avatar_url,
    validate_description,
    validate_name,
)
from agentplaza.domain.ids import AccountId, is_uuid_shaped
from agentplaza.domain.messages import MessageFormat, Scene

OWNER, ADMIN, MEMBER = GroupRole.OWNER, GroupRole.ADMIN, GroupRole.MEMBER
A, B, C, D = (AccountId(x) for x in ("10001", "10002", "10003", "P10004"))


def code_of(exc: pytest.ExceptionInfo[AgentplazaError]) -> tuple[int, ErrorCode]:
    return exc.value.status, exc.value.code


# --- ids and fields ----------------------------------------------------------------------------


def test_group_ids_are_uuids_the_sdk_routes_as_groups() -> None:
    gid = new_group_id(bytes(range(16)))
    assert is_group_id(gid) and is_uuid_shaped(gid)
    assert new_group_id(bytes(16)) != new_group_id(b"\x01" * 16)
    for bad in ("", "dm_abc", gid.upper(), gid + "0", "a-b-c-d-e", gid.replace("-", "")):
        assert not is_group_id(bad), bad


def test_field_rules() -> None:
    assert validate_name("  Team  ") == "Team"
    assert validate_name("x" * 64) == "x" * 64
    for bad in ("", "   ", "x" * 65, "a\x00b", "\ud800"):
        with pytest.raises(AgentplazaError):
            validate_name(bad)
    assert validate_description("d" * 500) == "d" * 500
    with pytest.raises(AgentplazaError):
        validate_description("d" * 501)
    assert validate_announcement("a" * 2000) == "a" * 2000
    with pytest.raises(AgentplazaError):
        validate_announcement("a" * 2001)
    assert validate_avatar_url("") == ""
    assert validate_avatar_url("https://x/a.png") == "https://x/a.png"
    for bad in ("ftp://x", "/relative.png", "javascript:alert(1)"):
        with pytest.raises(AgentplazaError):
            validate_avatar_url(bad)


def test_member_ids_dedup_and_drop_the_owner() -> None:
    assert member_ids([B, A, C, B], owner=A) == (B, C)
    assert member_ids([], owner=A) == ()


def test_capacity() -> None:
    check_capacity(1, MAX_GROUP_MEMBERS - 1)
    with pytest.raises(AgentplazaError) as exc:
        check_capacity(1, MAX_GROUP_MEMBERS)
    assert code_of(exc) == (400, ErrorCode.VALIDATION_ERROR)


# --- mentions ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("@10002 look", ("10002",)),
        ("@{10002} look", ("10002",)),
        ("hi @{P10004}, @10003!", ("P10004", "10003")),
        ("@10002 @{10002} @10002", ("10002",)),
        ("(@10002)\n@10003.", ("10002", "10003")),
        ("mail me at bob@10002.example", ()),
        ("@10002abc is not an id", ()),
        ("@0123 @ 10002 @{abc} @{} @@10002", ()),
        ("no mentions here", ()),
    ],
)
def test_parse_mentions(body: str, expected: tuple[str, ...]) -> None:
    assert parse_mentions(MessageFormat.TEXT, body) == expected


def test_mentions_only_in_prose_formats() -> None:
    assert parse_mentions(MessageFormat.MARKDOWN, "**@10002**") == ("10002",)
    assert parse_mentions(MessageFormat.JSON, '{"to": "@10002"}') == ()
    assert parse_mentions(MessageFormat.IMAGE, '{"url": "https://x/@10002"}') == ()


# --- roles -------------------------------------------------------------------------------------


def test_non_members_learn_only_that_a_public_group_exists() -> None:
    with pytest.raises(AgentplazaError) as exc:
        require_member(None, is_public=False)
    assert code_of(exc) == (404, ErrorCode.GROUP_NOT_FOUND)
    with pytest.raises(AgentplazaError) as exc:
        require_member(None, is_public=True)
    assert code_of(exc) == (403, ErrorCode.NOT_A_MEMBER)
    assert require_member(MEMBER, is_public=False) is MEMBER


@pytest.mark.parametrize(
    ("actor", "target", "allowed"),
    [
        (OWNER, ADMIN, True),
        (OWNER, MEMBER, True),
        (OWNER, OWNER, False),
        (ADMIN, MEMBER, True),
        (ADMIN, ADMIN, False),
        (ADMIN, OWNER, False),
        (MEMBER, MEMBER, False),
        (MEMBER, ADMIN, False),
        (MEMBER, OWNER, False),
    ],
)
def test_moderation_needs_to_outrank_the_target(
    actor: GroupRole, target: GroupRole, allowed: bool
) -> None:
    if allowed:
        check_moderate(actor, target, "remove")
        return
    with pytest.raises(AgentplazaError) as exc:
        check_moderate(actor, target, "remove")
    assert code_of(exc) == (403, ErrorCode.INSUFFICIENT_ROLE)


def test_set_role_owner_only_and_only_admin_or_member() -> None:
    assert check_set_role(OWNER, MEMBER, "admin") is ADMIN
    assert check_set_role(OWNER, ADMIN, "member") is MEMBER
    for actor in (ADMIN, MEMBER):
        with pytest.raises(AgentplazaError) as exc:
            check_set_role(actor, MEMBER, "admin")
        assert code_of(exc) == (403, ErrorCode.INSUFFICIENT_ROLE)
    with pytest.raises(AgentplazaError) as exc:
        check_set_role(OWNER, MEMBER, "owner")
    assert exc.value.status == 400
    with pytest.raises(AgentplazaError) as exc:
        check_set_role(OWNER, OWNER, "member")
    assert exc.value.status == 409


def test_update_admin_and_visibility_owner() -> None:
    check_update(ADMIN, GroupChanges(name="x"))
    check_update(OWNER, GroupChanges(is_public=True))
    with pytest.raises(AgentplazaError):
        check_update(MEMBER, GroupChanges(name="x"))
    with pytest.raises(AgentplazaError):
        check_update(ADMIN, GroupChanges(is_public=False))


def test_owner_cannot_leave() -> None:
    check_leave(ADMIN)
    check_leave(MEMBER)
    with pytest.raises(AgentplazaError) as exc:
        check_leave(OWNER)
    assert code_of(exc) == (409, ErrorCode.CONFLICT)


# --- mutes -------------------------------------------------------------------------------------


def test_mute_until_and_expiry() -> None:
    now = 1_700_000_000_000_000
    assert mute_until(now, 0) == mute_until(now, None) == PERMANENT_MUTE_US
    until = mute_until(now, 60)
    assert until == now + 60_000_000
    assert is_muted(until, now) and is_muted(until, until - 1)
    assert not is_muted(until, until) and not is_muted(None, now)
    assert is_muted(PERMANENT_MUTE_US, now)
    for bad in (-1, 10**12):
        with pytest.raises(AgentplazaError):
            mute_until(now, bad)


# --- fan-out -----------------------------------------------------------------------------------


def member(
    account: AccountId,
    role: GroupRole = MEMBER,
    *,
    muted_until: int | None = None,
    friend: bool = False,
    override: str | None = None,
    blocks: bool = False,
) -> MemberFacts:
    return MemberFacts(
        account_id=account,
        role=role,
        muted_until_us=muted_until,
        is_friend=friend,
        override=override,
        blocks_sender=blocks,
    )


def facts(sender: AccountId, *members: MemberFacts, public: bool = False) -> GroupSendFacts:
    return GroupSendFacts(group_id="g", is_public=public, sender_id=sender, members=members)


def test_plan_delivers_to_every_other_member_with_its_own_context() -> None:
    plan, mentioned = plan_group_delivery(
        facts(
            A,
            member(A, OWNER),
            member(B, friend=True),
            member(C, override="friend"),
            member(D, friend=True, override="stranger"),
        ),
        now_us=0,
        mentions=[C, A, AccountId("99999")],
    )
    by_id = {d.recipient_id: d for d in plan}
    assert set(by_id) == {B, C, D}  # never the sender
    assert all(d.scene is Scene.GROUP for d in plan)
    assert (by_id[B].sender_relation, by_id[B].trust_level) == ("friend", "trusted")
    assert (by_id[C].sender_relation, by_id[C].trust_level) == ("stranger", "trusted")
    assert (by_id[D].sender_relation, by_id[D].trust_level) == ("friend", "minimal")
    assert by_id[C].intent == "mentioned" and by_id[B].intent is None
    assert mentioned == [C]  # not the sender, not a non-member


def test_plan_skips_members_who_block_the_sender() -> None:
    plan, mentioned = plan_group_delivery(
        facts(A, member(A), member(B, blocks=True), member(C)), now_us=0, mentions=[B]
    )
    assert [d.recipient_id for d in plan] == [C] and mentioned == []


def test_plan_refuses_non_members_and_muted_senders() -> None:
    for public, expected in (
        (False, (404, ErrorCode.GROUP_NOT_FOUND)),
        (True, (403, ErrorCode.NOT_A_MEMBER)),
    ):
        with pytest.raises(AgentplazaError) as exc:
            plan_group_delivery(facts(A, member(B), public=public), now_us=0, mentions=[])
        assert code_of(exc) == expected
    with pytest.raises(AgentplazaError) as exc:
        plan_group_delivery(facts(A, member(A, muted_until=10), member(B)), now_us=5, mentions=[])
    assert code_of(exc) == (403, ErrorCode.MUTED)
    plan, _ = plan_group_delivery(
        facts(A, member(A, muted_until=10), member(B)), now_us=10, mentions=[]
    )
    assert [d.recipient_id for d in plan] == [B]  # the mute ended


@pytest.mark.parametrize(
    "name", ["two\nlines", "tab\there", "a\u202eb", "zero\u200bwidth", "nul\x00"]
)
def test_group_names_refuse_control_and_formatting_characters(name: str) -> None:
    with pytest.raises(AgentplazaError):
        validate_name(name)
    assert validate_name("  builders ✓ ") == "builders ✓"
