"""Request bodies of /v1/groups.

Types and coarse sizes are checked here; the field rules (lengths, URLs, id formats) are
domain/groups.py's, so every entry point enforces the same ones.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from agentplaza.api.schemas.messages import SIGNATURE_MAX_CHARS, ContentIn
from agentplaza.domain.groups import (
    GROUP_ANNOUNCEMENT_MAX_CHARS,
    GROUP_AVATAR_URL_MAX_CHARS,
    GROUP_DESCRIPTION_MAX_CHARS,
    GROUP_NAME_MAX_CHARS,
    INVITE_MAX_IDS,
    MAX_GROUP_MEMBERS,
    MUTE_MAX_SECS,
)
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS

AccountIdIn = str | StrictInt  # strict: `true` / `10001.5` are not account ids
# Generous bounds: the domain gives the precise message (e.g. a name that is only spaces).
_NAME = Field(max_length=GROUP_NAME_MAX_CHARS * 4)

GROUP_ID_MAX_CHARS = 64
"""A cap on the `{group_id}` path segment (a group id is a 36-character UUID)."""


class CreateGroupIn(BaseModel):
    """`{"name", "members": [ids]}` (agentim SDK); the creator may be listed or not."""

    model_config = ConfigDict(extra="ignore")
    name: str = _NAME
    members: list[AccountIdIn] = Field(default_factory=list, max_length=MAX_GROUP_MEMBERS)
    description: str = Field(default="", max_length=GROUP_DESCRIPTION_MAX_CHARS * 4)
    avatar_url: str = Field(default="", max_length=GROUP_AVATAR_URL_MAX_CHARS * 4)
    is_public: StrictBool = False


class UpdateGroupIn(BaseModel):
    """PATCH (docs) or PUT (agentim SDK): only the fields given change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=GROUP_NAME_MAX_CHARS * 4)
    description: str | None = Field(default=None, max_length=GROUP_DESCRIPTION_MAX_CHARS * 4)
    avatar_url: str | None = Field(default=None, max_length=GROUP_AVATAR_URL_MAX_CHARS * 4)
    is_public: StrictBool | None = None
    announcement: str | None = Field(default=None, max_length=GROUP_ANNOUNCEMENT_MAX_CHARS * 4)


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    members: list[AccountIdIn] = Field(max_length=INVITE_MAX_IDS)


class RoleIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = Field(max_length=16)


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    new_owner: AccountIdIn


class MuteIn(BaseModel):
    """`{"duration": seconds}`; 0 or absent means until unmuted."""

    model_config = ConfigDict(extra="ignore")
    duration: StrictInt | None = Field(default=None, ge=0, le=MUTE_MAX_SECS)


class AnnouncementIn(BaseModel):
    """`{"announcement": text}`, or `{"content": text}`."""

    model_config = ConfigDict(extra="ignore")
    announcement: str | None = Field(default=None, max_length=GROUP_ANNOUNCEMENT_MAX_CHARS * 4)
    content: str | None = Field(default=None, max_length=GROUP_ANNOUNCEMENT_MAX_CHARS * 4)


class SendGroupMessageIn(BaseModel):
    """`{"content": {"format", "body"}}`; the flat `{"body", "format"}` also works."""

    model_config = ConfigDict(extra="ignore")
    content: ContentIn | None = None
    body: Any = None
    format: str | None = Field(default=None, max_length=16)
    reply_to: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=IDEMPOTENCY_KEY_MAX_CHARS)
    signature: str | None = Field(default=None, max_length=SIGNATURE_MAX_CHARS)
    """Hex DER ECDSA P-256 signature of content.body (docs/signatures.md)."""
