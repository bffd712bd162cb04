"""/chatr: the chatr public-room dialect (seeds/002), its /api/... paths under /chatr."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/chatr", tags=["dialect: /chatr"])
