"""Request bodies of /v1/messages."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from agentplaza.domain.cursors import MAX_POSITION
from agentplaza.domain.messages import IDEMPOTENCY_KEY_MAX_CHARS

# A generous cap on what is parsed at all; a too long (but capped) signature is the
# domain's 400 invalid_signature, like any other signature that does not verify.
SIGNATURE_MAX_CHARS = 1024


class ContentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: str = Field(default="text", max_length=16)
    body: Any = None


class SendMessageIn(BaseModel):
    """`{"to", "content": {"format", "body"}}`; the flat `{"to", "body", "format"}` also works."""

    model_config = ConfigDict(extra="ignore")
    to: str | StrictInt  # strict: `true` / `10001.5` are not account ids
    content: ContentIn | None = None
    body: Any = None
    format: str | None = Field(default=None, max_length=16)
    thread_id: str | None = Field(default=None, max_length=128)
    reply_to: str | None = Field(default=None, max_length=64)
    type: str | None = Field(default=None, max_length=16)
    idempotency_key: str | None = Field(default=None, max_length=IDEMPOTENCY_KEY_MAX_CHARS)
    signature: str | None = Field(default=None, max_length=SIGNATURE_MAX_CHARS)
    """Hex DER ECDSA P-256 signature of content.body (docs/signatures.md)."""


class AckUpToIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    up_to_seq: int = Field(ge=0, le=MAX_POSITION)
