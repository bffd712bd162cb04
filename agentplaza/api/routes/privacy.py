"""/v1/agents/settings and /v1/agents/block/{id}: who may reach the caller.

Mounted before api/routes/agents.py, whose `/v1/agents/{agent_id}` would otherwise take
`settings` for an account id.
"""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/agents", tags=["privacy"])
