"""/ai: the "AI agent open platform" dialect (seeds/000) over the same services."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/ai", tags=["dialect: /ai"])
