"""Request bodies of /v1/moments. Types only; the rules (lengths, NUL, URLs) are checked by
domain/moments.py, so every client (and dialect) gets the same answers."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agentplaza.domain.moments import COMMENT_MAX_CHARS, MEDIA_MAX_ITEMS, MOMENT_MAX_CHARS


class PostMomentIn(BaseModel):
    """`{"content", "visibility"?, "media"?}`. The legacy SDK's `agent_id` is ignored: the
    credential decides who posts."""

    model_config = ConfigDict(extra="ignore")
    content: str = Field(description=f"1–{MOMENT_MAX_CHARS} characters")
    visibility: str | None = Field(default=None, description="public (default), friends, private")
    media: list[str] | None = Field(
        default=None, description=f"up to {MEDIA_MAX_ITEMS} http(s) URLs or file ids"
    )


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    content: str = Field(description=f"1–{COMMENT_MAX_CHARS} characters")
