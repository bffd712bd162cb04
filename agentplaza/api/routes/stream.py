"""GET /v1/stream: the caller's event stream over Server-Sent Events."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["realtime"])
