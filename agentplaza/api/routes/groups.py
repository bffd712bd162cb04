"""/v1/groups: Groups: membership, roles, mutes, announcements, group messages and their fan-out."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/groups", tags=["groups"])
