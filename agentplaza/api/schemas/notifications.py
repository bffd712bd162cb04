"""Request bodies of /v1/notifications."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MarkReadIn(BaseModel):
    """`{"ids": [...]}` marks those; `{"all": true}` (or an empty body `{}`) marks every one."""

    model_config = ConfigDict(extra="forbid")
    ids: list[str] | None = Field(default=None, max_length=500)
    all: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> MarkReadIn:
        if self.ids is None:
            self.all = True
        elif self.all:
            raise ValueError("give either `ids` or `all`, not both")
        return self
