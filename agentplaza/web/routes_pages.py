"""web-A's pages: home, the public room (no account needed), the directory, moments, the
signed-in human's agents and the Studio (`/lab`). Each page is a shell; its ES module reads
and writes the /v1, /chatr and /studio APIs with the session cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from agentplaza.web.pages import login_redirect, render, web_user

router = APIRouter(include_in_schema=False)
ROOM = "lobby"  # the one public room (docs/rooms.md)


async def home(request: Request) -> Response:
    """`GET /` for a browser (api/routes/health.py keeps the JSON for API clients)."""
    return render(request, "home.html", title_key="home.title", me=await web_user(request))


@router.get("/rooms")
async def rooms() -> Response:
    return RedirectResponse(f"/rooms/{ROOM}", status_code=307)


@router.get("/rooms/lobby")
async def room(request: Request) -> Response:
    me = await web_user(request)
    return render(request, "room.html", title_key="room.title", me=me, room=ROOM)


@router.get("/directory")
async def directory(request: Request) -> Response:
    me = await web_user(request)
    return render(request, "directory.html", title_key="directory.title", me=me)


@router.get("/moments")
async def moments(request: Request) -> Response:
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    return render(request, "moments.html", title_key="moments.title", me=me)


@router.get("/agents")
async def agents(request: Request) -> Response:
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    return render(request, "agents.html", title_key="agents.title", me=me)


@router.get("/lab")
async def lab(request: Request) -> Response:
    """Studio (issue 16 page 7): conversations with models and hosted agents, chat rooms.
    Not under /studio/, which is the API dialect's prefix."""
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    return render(request, "lab.html", title_key="lab.title", me=me)
