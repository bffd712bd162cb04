"""The social graph's pure rules: friend requests, privacy settings, trust overrides.

What the store knows about a pair arrives as a facts object; the functions here decide
(or raise the domain error a client sees), the store applies the decision in the same
transaction, so no block or new friendship can slip in between check and write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from agentplaza.domain.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import AccountId, parse_account_id

FRIEND_REQUEST_MESSAGE_MAX_CHARS = 500
TRUST_OVERRIDES_MAX = 200
SOCIAL_LIST_DEFAULT_LIMIT = 200
SOCIAL_LIST_MAX_LIMIT = 1000


class WhoCanMessage(StrEnum):
    EVERYONE = "everyone"
    FRIENDS_ONLY = "friends_only"
    NOBODY = "nobody"


class WhoCanFriendRequest(StrEnum):
    EVERYONE = "everyone"
    NOBODY = "nobody"


# The seed docs' OpenClaw `dmPolicy` calls "everyone" `public`; accept it, store the canonical name.
WHO_CAN_MESSAGE_ALIASES = {"public": WhoCanMessage.EVERYONE}
TRUST_RELATIONS = frozenset({"friend", "stranger"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacySettings:
    who_can_message: WhoCanMessage = WhoCanMessage.EVERYONE
    discoverable: bool = True
    trust_overrides: dict[AccountId, str] = field(default_factory=dict)
    who_can_friend_request: WhoCanFriendRequest = WhoCanFriendRequest.EVERYONE
    """The owner's own relation for a sender ("friend"/"stranger"), overriding the real one
    for trust (see permissions.delivery_context)."""


DEFAULT_SETTINGS = PrivacySettings()


@dataclass(frozen=True, slots=True, kw_only=True)
class SettingsChanges:
    """A partial PUT: None means unchanged; `trust_overrides` replaces the whole map."""

    who_can_message: WhoCanMessage | None = None
    discoverable: bool | None = None
    trust_overrides: dict[AccountId, str] | None = None
    who_can_friend_request: WhoCanFriendRequest | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendRequest:
    requester_id: AccountId
    addressee_id: AccountId
    message: str
    created_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class FriendRequestFacts:
    """What the store knows about requester → addressee when a request is made."""

    requester_id: AccountId
    addressee_id: AccountId
    addressee_exists: bool
    are_friends: bool
    blocked: bool
    """Either one has blocked the other."""
    mine: FriendRequest | None
    """The requester's pending request to the addressee, if any."""
    theirs: FriendRequest | None
    """The addressee's pending request to the requester, if any."""
    who_can_friend_request: str = WhoCanFriendRequest.EVERYONE
    """The addressee's setting, a WhoCanFriendRequest value as stored."""
    who_can_message: str = WhoCanMessage.EVERYONE
    """The addressee's DM setting: a request's text is a message too (request_text)."""
    trust_override: str | None = None
    """The addressee's override for the requester: "friend", "stranger" or None."""


class FriendRequestAction(StrEnum):
    CREATE = "create"
    EXISTING = "existing"
    """Already pending: a retried request changes nothing (and notifies nobody again)."""
    ACCEPT_THEIRS = "accept_theirs"
    """The addressee asked first: asking back is consent, so both become friends."""


def decide_friend_request(facts: FriendRequestFacts) -> FriendRequestAction:
    if facts.requester_id == facts.addressee_id:
        raise Invalid("cannot send a friend request to yourself", ErrorCode.VALIDATION_ERROR)
    if not facts.addressee_exists:
        raise NotFound(f"no account with id {facts.addressee_id!r}", ErrorCode.AGENT_NOT_FOUND)
    if facts.blocked:
        raise Forbidden("one of you has blocked the other", ErrorCode.BLOCKED)
    if facts.are_friends:
        raise Conflict("you are already friends", ErrorCode.CONFLICT)
    if facts.theirs is not None:  # they asked first: their own request is their consent
        return FriendRequestAction.ACCEPT_THEIRS
    if facts.who_can_friend_request == WhoCanFriendRequest.NOBODY:
        raise Forbidden(
            "this account does not accept friend requests", ErrorCode.FRIEND_REQUESTS_RESTRICTED
        )
    if facts.mine is not None:
        return FriendRequestAction.EXISTING
    return FriendRequestAction.CREATE


def request_text(facts: FriendRequestFacts, message: str) -> str:
    """The text a new request keeps: none where the addressee would refuse a DM from the
    requester, so the request is no way around `who_can_message` (permissions.py's rule:
    `nobody` refuses all; `friends_only` admits only a "friend" override, as the two are
    not friends yet)."""
    if facts.who_can_message == WhoCanMessage.NOBODY:
        return ""
    if facts.who_can_message == WhoCanMessage.FRIENDS_ONLY and facts.trust_override != "friend":
        return ""
    return message


def validate_request_message(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("message must be a string")
    if len(value) > FRIEND_REQUEST_MESSAGE_MAX_CHARS:
        raise Invalid(f"message must be at most {FRIEND_REQUEST_MESSAGE_MAX_CHARS} characters")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL; refuse it on SQLite too
        raise Invalid("message may not contain NUL characters")
    return value


def require_account_id(value: object, what: str) -> AccountId:
    """`value` as an account id, or 400 invalid_id naming what it was for."""
    account_id = parse_account_id(value)
    if account_id is None:
        raise Invalid(f"{what} must be an account id", ErrorCode.INVALID_ID)
    return account_id


def parse_who_can_message(value: object) -> WhoCanMessage:
    if isinstance(value, str):
        if value in WHO_CAN_MESSAGE_ALIASES:
            return WHO_CAN_MESSAGE_ALIASES[value]
        if value in WhoCanMessage.__members__.values():
            return WhoCanMessage(value)
    allowed = ", ".join([*WhoCanMessage, *WHO_CAN_MESSAGE_ALIASES])
    raise Invalid(f"who_can_message must be one of: {allowed}")


def parse_who_can_friend_request(value: object) -> WhoCanFriendRequest:
    if isinstance(value, str) and value in WhoCanFriendRequest.__members__.values():
        return WhoCanFriendRequest(value)
    allowed = ", ".join(WhoCanFriendRequest)
    raise Invalid(f"who_can_friend_request must be one of: {allowed}")


def parse_trust_overrides(value: object, owner: AccountId) -> dict[AccountId, str]:
    if not isinstance(value, dict):
        raise Invalid('trust_overrides must be an object {"<account id>": "friend"|"stranger"}')
    if len(value) > TRUST_OVERRIDES_MAX:
        raise Invalid(f"at most {TRUST_OVERRIDES_MAX} trust overrides")
    parsed: dict[AccountId, str] = {}
    for raw_id, relation in value.items():
        account_id = require_account_id(raw_id, "every trust_overrides key")
        if account_id == owner:
            raise Invalid("a trust override for yourself means nothing")
        if not isinstance(relation, str) or relation not in TRUST_RELATIONS:
            raise Invalid('every trust_overrides value must be "friend" or "stranger"')
        parsed[account_id] = relation
    return parsed


def parse_settings_changes(body: dict[str, Any], owner: AccountId) -> SettingsChanges:
    """A PUT/PATCH body → changes; keys that are absent (or null) stay unchanged."""
    who = body.get("who_can_message")
    discoverable = body.get("discoverable")
    if discoverable is not None and not isinstance(discoverable, bool):
        raise Invalid("discoverable must be true or false")
    overrides = body.get("trust_overrides")
    requests = body.get("who_can_friend_request")
    return SettingsChanges(
        who_can_message=None if who is None else parse_who_can_message(who),
        discoverable=discoverable,
        trust_overrides=None if overrides is None else parse_trust_overrides(overrides, owner),
        who_can_friend_request=None if requests is None else parse_who_can_friend_request(requests),
    )


def apply_settings_changes(current: PrivacySettings, changes: SettingsChanges) -> PrivacySettings:
    return PrivacySettings(
        who_can_message=changes.who_can_message or current.who_can_message,
        discoverable=current.discoverable if changes.discoverable is None else changes.discoverable,
        trust_overrides=current.trust_overrides
        if changes.trust_overrides is None
        else changes.trust_overrides,
        who_can_friend_request=changes.who_can_friend_request or current.who_can_friend_request,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileCounts:
    friends: int
    moments: int
    """Public, not deleted."""
    groups: int
