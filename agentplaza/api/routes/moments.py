"""/v1/moments: Moments: posts, feed, likes, comments."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/moments", tags=["moments"])
