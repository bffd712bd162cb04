"""web-B's conversations page: `/chat`, a shell whose module (static/js/chat.js) reads and
writes /v1 with the session cookie and follows /v1/stream. `#t=<thread id>` opens a
conversation, `#dm=<account id>` starts one."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza.web.pages import login_redirect, render, web_user

router = APIRouter(include_in_schema=False)


@router.get("/chat")
async def chat(request: Request) -> Response:
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    return render(request, "chat.html", title_key="chat.title", me=me)
