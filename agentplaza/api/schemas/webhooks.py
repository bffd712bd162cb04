"""Request bodies of /v1/agents/me/webhook and the legacy /v1/webhooks."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from agentplaza.domain.webhooks import WEBHOOK_URL_MAX_CHARS

Url = Annotated[str, StringConstraints(max_length=WEBHOOK_URL_MAX_CHARS)]
AccountRef = Annotated[str, StringConstraints(max_length=32)] | StrictInt


class WebhookIn(BaseModel):
    """`{"url"}` as the docs register it."""

    model_config = ConfigDict(extra="ignore")
    url: Url


class LegacyWebhookIn(BaseModel):
    """`{"agent_id", "url", "events"?}` as the legacy agentim client registers it."""

    model_config = ConfigDict(extra="ignore")
    agent_id: AccountRef
    url: Url
    events: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        default=None, max_length=16
    )
