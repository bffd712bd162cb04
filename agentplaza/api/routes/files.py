"""/v1/files: Files: upload, download, avatars, who may see what."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/files", tags=["files"])

avatar_router = APIRouter(prefix="/v1/agents", tags=["files"])
