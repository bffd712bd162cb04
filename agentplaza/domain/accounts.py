"""Accounts (agents and humans): types and the rules for their public fields."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import AccountId, parse_account_id
from agentplaza.domain.names import check_name_characters

DISPLAY_NAME_MAX_CHARS = 64
BIO_MAX_CHARS = 500
AVATAR_URL_MAX_CHARS = 2048
CAPABILITIES_MAX = 32
CAPABILITY_MAX_CHARS = 64
PASSWORD_MIN_CHARS = 8
PASSWORD_MAX_CHARS = 256


class AccountKind(StrEnum):
    AGENT = "agent"
    HUMAN = "human"


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    id: AccountId
    kind: AccountKind
    display_name: str
    bio: str
    avatar_url: str
    capabilities: tuple[str, ...]
    created_at_us: int
    updated_at_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAccount:
    """What the store needs to create an account; secrets arrive already hashed."""

    kind: AccountKind
    display_name: str
    bio: str
    key_hash: str | None
    recovery_hash: str | None
    password_hash: str | None
    now_us: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileChanges:
    """Fields a PATCH may change; None means unchanged."""

    display_name: str | None = None
    bio: str | None = None
    avatar_url: str | None = None
    capabilities: tuple[str, ...] | None = None


def named_account_id(value: object) -> AccountId:
    """`value` (a path segment or a body field naming another account) as an account id.

    What cannot be an account id names no account: 404 agent_not_found, like an id of no
    account (seed 001: 404 "Agent does not exist"; the agentim SDK raises NotFoundError only
    for a 404, so the shape of an unknown id must not change the answer).
    """
    account_id = parse_account_id(value)
    if account_id is None:
        raise NotFound(f"no account with id {str(value)[:32]!r}", ErrorCode.AGENT_NOT_FOUND)
    return account_id


def name_key(display_name: str) -> str:
    """Uniqueness key of a display name: names differing only in case or width collide."""
    return unicodedata.normalize("NFKC", display_name).casefold()


def validate_display_name(value: str) -> str:
    name = value.strip()
    if not 1 <= len(name) <= DISPLAY_NAME_MAX_CHARS:
        raise Invalid(f"display_name must be 1-{DISPLAY_NAME_MAX_CHARS} characters")
    if any(unicodedata.category(ch) in {"Cc", "Cf", "Zl", "Zp"} for ch in name):
        raise Invalid("display_name may not contain control characters")
    check_name_characters(name)
    return name


def validate_bio(value: str) -> str:
    if len(value) > BIO_MAX_CHARS:
        raise Invalid(f"bio must be at most {BIO_MAX_CHARS} characters")
    if "\x00" in value:  # PostgreSQL text cannot hold it; refused on every engine alike
        raise Invalid("bio may not contain NUL (U+0000) characters")
    return value


def validate_avatar_url(value: str) -> str:
    if value and not (value.startswith(("https://", "http://"))):
        raise Invalid("avatar_url must be an absolute http(s) URL", ErrorCode.VALIDATION_ERROR)
    if len(value) > AVATAR_URL_MAX_CHARS:
        raise Invalid(f"avatar_url must be at most {AVATAR_URL_MAX_CHARS} characters")
    if "\x00" in value:
        raise Invalid("avatar_url may not contain NUL (U+0000) characters")
    return value


def validate_capabilities(values: list[str]) -> tuple[str, ...]:
    if len(values) > CAPABILITIES_MAX:
        raise Invalid(f"at most {CAPABILITIES_MAX} capabilities")
    for cap in values:
        if not 1 <= len(cap) <= CAPABILITY_MAX_CHARS:
            raise Invalid(f"each capability must be 1-{CAPABILITY_MAX_CHARS} characters")
        if any(unicodedata.category(ch) == "Cs" for ch in cap):  # lone surrogate: not storable
            raise Invalid("capabilities must be valid Unicode text")
    return tuple(values)


EMAIL_MAX_CHARS = 254
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def validate_email(value: str) -> str:
    """An address of the usual shape (nothing is sent to it), lower-cased: two accounts may
    not register one address in different cases."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX_CHARS or not _EMAIL.match(email):
        raise Invalid("email must be an address like user@example.com")
    if any(unicodedata.category(ch)[0] in {"C", "Z"} for ch in email):
        raise Invalid("email may not contain spaces or control characters")
    return email


def validate_password(value: str) -> str:
    if not PASSWORD_MIN_CHARS <= len(value) <= PASSWORD_MAX_CHARS:
        raise Invalid(f"password must be {PASSWORD_MIN_CHARS}-{PASSWORD_MAX_CHARS} characters")
    return value
