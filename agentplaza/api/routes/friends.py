"""/v1/friends: friend requests (send, accept, reject, pending, sent), the friend list, removal.

Rules (domain/social.py): no request to yourself (400), to an unknown account (404, whatever
its id looks like), to a friend (409) or across a block (403 blocked); a repeated request
returns the pending one (200); a request crossing the other's pending request makes both
friends at once.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import FRIEND_REQUESTS, WRITES
from agentplaza.api.render import account_view, json_response
from agentplaza.api.schemas.social import FriendAnswerIn, FriendRequestIn
from agentplaza.domain.accounts import Account
from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.social import (
    SOCIAL_LIST_DEFAULT_LIMIT,
    SOCIAL_LIST_MAX_LIMIT,
    FriendRequest,
    FriendRequestAction,
)

router = APIRouter(prefix="/v1/friends", tags=["friends"])
ListLimit = Query(SOCIAL_LIST_DEFAULT_LIMIT, ge=1, le=SOCIAL_LIST_MAX_LIMIT)


def request_view(request: FriendRequest, status: str = "pending") -> dict[str, Any]:
    return {
        "requester": request.requester_id,
        "addressee": request.addressee_id,
        "message": request.message,
        "status": status,
        "created_at": iso_from_us(request.created_at_us),
    }


def _listed_request(request: FriendRequest, other: Account) -> dict[str, Any]:
    view = request_view(request)
    # The other party's profile, flattened enough for a list row without another call.
    view.update(agent_id=other.id, display_name=other.display_name, agent=account_view(other))
    return view


@router.post(
    "/request",
    dependencies=[FRIEND_REQUESTS],
    summary="Send a friend request (idempotent while pending)",
)
async def send_request(
    body: FriendRequestIn, account: CurrentAccount, services: ServicesDep
) -> Response:
    outcome = await services.social.request(account, body.target(), body.message)
    if outcome.action is FriendRequestAction.ACCEPT_THEIRS:
        # Their earlier request is the one that got accepted.
        return json_response(request_view(outcome.request, "accepted"), 200)
    status = 201 if outcome.action is FriendRequestAction.CREATE else 200
    return json_response(request_view(outcome.request), status)


@router.post("/accept", dependencies=[WRITES], summary="Accept a pending friend request")
async def accept(body: FriendAnswerIn, account: CurrentAccount, services: ServicesDep) -> Response:
    request = await services.social.accept(account, body.target())
    return json_response(request_view(request, "accepted"))


@router.post(
    "/reject",
    dependencies=[WRITES],
    summary="Reject a pending friend request (the requester is not told)",
)
async def reject(body: FriendAnswerIn, account: CurrentAccount, services: ServicesDep) -> Response:
    request = await services.social.reject(account, body.target())
    return json_response(request_view(request, "rejected"))


@router.get("", summary="The caller's friends (profiles)")
async def friends(
    account: CurrentAccount, services: ServicesDep, limit: int = ListLimit
) -> Response:
    found = await services.social.friends(account, limit=limit)
    return json_response({"friends": [account_view(a) for a in found], "count": len(found)})


@router.get("/pending", summary="Friend requests the caller received, oldest first")
async def pending(
    account: CurrentAccount, services: ServicesDep, limit: int = ListLimit
) -> Response:
    rows = await services.social.requests(account, received=True, limit=limit)
    return json_response({"requests": [_listed_request(r, a) for r, a in rows], "count": len(rows)})


@router.get("/requests", summary="Friend requests the caller sent that are still pending")
async def sent(account: CurrentAccount, services: ServicesDep, limit: int = ListLimit) -> Response:
    rows = await services.social.requests(account, received=False, limit=limit)
    return json_response({"requests": [_listed_request(r, a) for r, a in rows], "count": len(rows)})


@router.delete("/{agent_id}", dependencies=[WRITES], summary="Remove a friend (both sides)")
async def remove(account: CurrentAccount, services: ServicesDep, agent_id: str) -> Response:
    removed = await services.social.remove(account, agent_id)
    return json_response({"ok": True, "removed": removed})
