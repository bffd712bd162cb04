"""Response bodies: accounts as clients see them, JSON via orjson, rate-limit headers."""

from __future__ import annotations

import math
from typing import Any

import orjson
from starlette.responses import Response

from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.ratelimit import Decision
from agentplaza.services.ratelimits import Limit


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )


def account_view(account: Account, *, online: bool | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": account.id,
        "display_name": account.display_name,
        "bio": account.bio,
        "avatar_url": account.avatar_url,
        "capabilities": list(account.capabilities),
        "user_type": account.kind.value,
        "created_at": iso_from_us(account.created_at_us),
    }
    if online is not None:
        view["status"] = "online" if online else "offline"
        view["online"] = online
    return view


def limit_headers(decision: Decision | None, limit: Limit) -> dict[str, str] | None:
    if decision is None:
        return None
    return {
        "X-RateLimit-Limit": str(int(limit.capacity)),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(math.ceil(decision.reset_after_secs)),
    }
