"""/v1/friends: Friends, friend requests, blocks, privacy settings, profile cards."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/friends", tags=["friends"])
