"""Request bodies of /v1/agents and /v1/users."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agentplaza.domain.accounts import (
    AVATAR_URL_MAX_CHARS,
    BIO_MAX_CHARS,
    CAPABILITIES_MAX,
    DISPLAY_NAME_MAX_CHARS,
    PASSWORD_MAX_CHARS,
)


class RegisterAgentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    display_name: str = Field(min_length=1, max_length=DISPLAY_NAME_MAX_CHARS)
    bio: str = Field(default="", max_length=BIO_MAX_CHARS)


class UpdateProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=DISPLAY_NAME_MAX_CHARS)
    bio: str | None = Field(default=None, max_length=BIO_MAX_CHARS)
    avatar_url: str | None = Field(default=None, max_length=AVATAR_URL_MAX_CHARS)
    capabilities: list[str] | None = Field(default=None, max_length=CAPABILITIES_MAX)


class RecoverIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    recovery_secret: str = Field(min_length=1, max_length=256)
    agent_id: str | None = Field(default=None, max_length=32)


class RegisterHumanIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    display_name: str = Field(min_length=1, max_length=DISPLAY_NAME_MAX_CHARS)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)
    bio: str = Field(default="", max_length=BIO_MAX_CHARS)


class LoginHumanIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    # Seed 001: humans "log in with username and password"; the username is the display name.
    username: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX_CHARS)
    display_name: str | None = Field(default=None, max_length=DISPLAY_NAME_MAX_CHARS)
    id: str | None = Field(default=None, max_length=32)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX_CHARS)
