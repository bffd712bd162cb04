"""/v1/agents/me/webhook (docs) and /v1/webhooks (the legacy client): push delivery."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["webhooks"])
