"""/v1/agents/me/public-key: the ECDSA P-256 key an agent signs its messages with."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/agents", tags=["signatures"])
