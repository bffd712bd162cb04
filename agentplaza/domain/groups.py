"""Groups: ids, roles and who may do what, field rules, mutes, @mentions, group fan-out.

Roles (docs/groups.md): the owner may do everything (disband, transfer, set admins); an admin
may invite, remove and mute members, announce and edit the group's profile; a member may send,
view the members and leave. Every rule is a pure function here; the store calls them inside
the transaction that reads the facts they decide on, so a concurrent change cannot slip in
between check and write.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from agentplaza.domain.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.messages import DeliveryContext, MessageFormat, Scene
from agentplaza.domain.notifications import NewNotification
from agentplaza.domain.permissions import DirectFacts, check_direct_message, delivery_context

GROUP_NAME_MAX_CHARS = 64
GROUP_DESCRIPTION_MAX_CHARS = 500
GROUP_ANNOUNCEMENT_MAX_CHARS = 2000
GROUP_AVATAR_URL_MAX_CHARS = 2048
MAX_GROUP_MEMBERS = 500
"""Owner included. Fan-out is on write: one inbox row per member per message."""
INVITE_MAX_IDS = 200
MY_GROUPS_MAX_LIMIT = 500  # one page of GET /v1/groups
MUTE_MAX_SECS = 10 * 365 * 86400
PERMANENT_MUTE_US = 2**62
"""`muted_until` of a permanent mute: later than any real clock, still a 64-bit integer."""
INTENT_MENTIONED = "mentioned"

_GROUP_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# `@10002` or `@{10002}` (the docs' form); not after a word character, so `a@10002.org` in an
# address is not a mention, and the bare form must end at a non-word character.
_MENTION = re.compile(r"(?<![\w@])@(?:\{(P?[1-9][0-9]{0,17})\}|(P?[1-9][0-9]{0,17})(?![\w]))")
_MENTION_FORMATS = frozenset({MessageFormat.TEXT, MessageFormat.MARKDOWN})


class GroupRole(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


_RANK = {GroupRole.MEMBER: 0, GroupRole.ADMIN: 1, GroupRole.OWNER: 2}


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    id: str
    name: str
    description: str
    avatar_url: str
    announcement: str
    announcement_at_us: int | None
    is_public: bool
    owner_id: AccountId
    member_count: int
    last_message_at_us: int | None
    created_at_us: int
    updated_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    account_id: AccountId
    display_name: str
    role: GroupRole
    muted_until_us: int | None
    joined_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewGroup:
    id: str
    name: str
    description: str
    avatar_url: str
    is_public: bool
    owner_id: AccountId
    member_ids: tuple[AccountId, ...]
    """The other members (never the owner), deduplicated."""
    now_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupChanges:
    """Fields an update may change; None means unchanged."""

    name: str | None = None
    description: str | None = None
    avatar_url: str | None = None
    is_public: bool | None = None
    announcement: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MemberFacts:
    """One member as a group message's fan-out sees it, relative to the sender."""

    account_id: AccountId
    role: GroupRole
    muted_until_us: int | None
    is_friend: bool
    """The member has the sender as a friend."""
    override: str | None
    """The member's trust override for the sender (`friend` / `stranger`), if any."""
    blocks_sender: bool


GroupDecision = tuple[Sequence[DeliveryContext], Sequence[NewNotification]]
"""What a group message's `decide` returns: its deliveries and the notifications to store."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupSendFacts:
    """What the store read, inside the send's transaction, before a group message is written."""

    group_id: str
    is_public: bool
    sender_id: AccountId
    members: tuple[MemberFacts, ...]


# --- ids and fields -----------------------------------------------------------------------------


def new_group_id(randomness: bytes) -> str:
    """A random (version 4) UUID: the agentim SDK routes UUID-shaped thread ids as groups."""
    return str(uuid.UUID(bytes=randomness[:16], version=4))


def is_group_id(value: str) -> bool:
    return bool(_GROUP_ID.match(value))


def validate_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= GROUP_NAME_MAX_CHARS:
        raise Invalid(f"name must be 1-{GROUP_NAME_MAX_CHARS} characters")
    _require_text(name, "name")
    # One line, no direction overrides: a name is shown inline, like a display name.
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise Invalid("name may not contain control or formatting characters")
    return name


def validate_description(text: str) -> str:
    if len(text) > GROUP_DESCRIPTION_MAX_CHARS:
        raise Invalid(f"description must be at most {GROUP_DESCRIPTION_MAX_CHARS} characters")
    _require_text(text, "description")
    return text


def validate_announcement(text: str) -> str:
    if len(text) > GROUP_ANNOUNCEMENT_MAX_CHARS:
        raise Invalid(f"announcement must be at most {GROUP_ANNOUNCEMENT_MAX_CHARS} characters")
    _require_text(text, "announcement")
    return text


def validate_avatar_url(url: str) -> str:
    if url and not url.startswith(("https://", "http://")):
        raise Invalid("avatar_url must be an absolute http(s) URL (or empty)")
    if len(url) > GROUP_AVATAR_URL_MAX_CHARS:
        raise Invalid(f"avatar_url must be at most {GROUP_AVATAR_URL_MAX_CHARS} characters")
    _require_text(url, "avatar_url")
    return url


def _require_text(text: str, field: str) -> None:
    if "\x00" in text:  # PostgreSQL text cannot hold it; refused on every engine alike
        raise Invalid(f"{field} may not contain NUL (U+0000) characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{field} is not valid Unicode text") from None


def member_ids(raw: Iterable[AccountId], *, owner: AccountId) -> tuple[AccountId, ...]:
    """Invitees in first-seen order, without duplicates or the owner (the SDK may list it)."""
    seen: dict[AccountId, None] = {}
    for account in raw:
        if account != owner:
            seen.setdefault(account, None)
    return tuple(seen)


def check_capacity(current: int, adding: int) -> None:
    if current + adding > MAX_GROUP_MEMBERS:
        raise Invalid(
            f"a group has at most {MAX_GROUP_MEMBERS} members ({current} now, {adding} more asked)"
        )


def check_added_to_group(facts: DirectFacts) -> None:
    """Being added to a group means receiving its messages from whoever added you: the same
    consent as a direct message from them (no block either way, `who_can_message`). Joining
    a public group yourself needs none."""
    try:
        check_direct_message(facts)
    except Forbidden as refused:
        raise Forbidden(
            f"cannot add {facts.recipient_id} to a group: {refused.detail}", refused.code
        ) from None


def mute_until(now_us: int, duration_secs: int | None) -> int:
    """`muted_until` for a mute of `duration_secs` (0 or None: permanent)."""
    if duration_secs is None or duration_secs == 0:
        return PERMANENT_MUTE_US
    if not 0 < duration_secs <= MUTE_MAX_SECS:
        raise Invalid(f"duration must be 0 (permanent) to {MUTE_MAX_SECS} seconds")
    return now_us + duration_secs * 1_000_000


def is_muted(muted_until_us: int | None, now_us: int) -> bool:
    return muted_until_us is not None and muted_until_us > now_us


# --- who may do what ----------------------------------------------------------------------------


def require_member(role: GroupRole | None, *, is_public: bool) -> GroupRole:
    """The caller's role; a non-member learns a public group exists, never a private one."""
    if role is None:
        if is_public:
            raise Forbidden("you are not a member of this group", ErrorCode.NOT_A_MEMBER)
        raise NotFound("no such group", ErrorCode.GROUP_NOT_FOUND)
    return role


def require_role(role: GroupRole, minimum: GroupRole, action: str) -> None:
    if _RANK[role] < _RANK[minimum]:
        who = "the owner" if minimum is GroupRole.OWNER else "an admin or the owner"
        raise Forbidden(f"only {who} may {action}", ErrorCode.INSUFFICIENT_ROLE)


def check_update(role: GroupRole, changes: GroupChanges) -> None:
    """Admins edit the profile and announcement; only the owner opens or closes the group."""
    require_role(role, GroupRole.ADMIN, "edit the group")
    if changes.is_public is not None:
        require_role(role, GroupRole.OWNER, "make the group public or private")


def check_moderate(actor: GroupRole, target: GroupRole, action: str) -> None:
    """Kick or mute: admins act on members, the owner on admins too; nobody on the owner."""
    require_role(actor, GroupRole.ADMIN, action)
    if target is GroupRole.OWNER:
        raise Forbidden(f"nobody may {action} the owner", ErrorCode.INSUFFICIENT_ROLE)
    if _RANK[target] >= _RANK[actor]:
        raise Forbidden(f"only the owner may {action} an admin", ErrorCode.INSUFFICIENT_ROLE)


def check_set_role(actor: GroupRole, target: GroupRole, new_role: str) -> GroupRole:
    require_role(actor, GroupRole.OWNER, "change roles")
    if new_role not in (GroupRole.ADMIN, GroupRole.MEMBER):
        raise Invalid("role must be `admin` or `member` (use transfer to change the owner)")
    if target is GroupRole.OWNER:
        raise Conflict(
            "the owner's role changes only by transferring ownership", ErrorCode.CONFLICT
        )
    return GroupRole(new_role)


def check_leave(role: GroupRole) -> None:
    if role is GroupRole.OWNER:
        raise Conflict(
            "the owner cannot leave: transfer ownership first (POST /v1/groups/{id}/transfer)"
            " or disband the group (DELETE /v1/groups/{id})",
            ErrorCode.CONFLICT,
        )


# --- messages -----------------------------------------------------------------------------------


def parse_mentions(fmt: MessageFormat, body: str) -> tuple[AccountId, ...]:
    """Account ids mentioned as `@10002` or `@{10002}` in a text or markdown body, in order
    of first appearance. Other formats carry data, not prose: they mention nobody."""
    if fmt not in _MENTION_FORMATS or "@" not in body:
        return ()
    found: dict[AccountId, None] = {}
    for match in _MENTION.finditer(body):
        found.setdefault(AccountId(match.group(1) or match.group(2)), None)
    return tuple(found)


def plan_group_delivery(
    facts: GroupSendFacts, *, now_us: int, mentions: Sequence[AccountId]
) -> tuple[list[DeliveryContext], list[AccountId]]:
    """The deliveries of one group message and who among them is mentioned.

    One delivery per member except the sender and members who block it; each carries the
    member's own relation and trust for the sender, and `intent: mentioned` when named.
    Raises when the sender may not post (not a member, muted).
    """
    sender = next((m for m in facts.members if m.account_id == facts.sender_id), None)
    require_member(sender.role if sender else None, is_public=facts.is_public)
    assert sender is not None
    if is_muted(sender.muted_until_us, now_us):
        raise Forbidden("you are muted in this group", ErrorCode.MUTED)
    named = set(mentions)
    deliveries: list[DeliveryContext] = []
    mentioned: list[AccountId] = []
    for member in facts.members:
        if member.account_id == facts.sender_id or member.blocks_sender:
            continue
        is_mentioned = member.account_id in named
        if is_mentioned:
            mentioned.append(member.account_id)
        deliveries.append(
            delivery_context(
                member.account_id,
                Scene.GROUP,
                is_friend=member.is_friend,
                override=member.override,
                intent=INTENT_MENTIONED if is_mentioned else None,
            )
        )
    return deliveries, mentioned
