"""web-B's operator dashboard: `/admin`, for the humans named by `admin_users` (403 page for
everyone else). Its module (static/js/admin.js) polls GET /v1/admin/stats, which checks again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from agentplaza.domain.admins import is_admin, parse_admin_users
from agentplaza.web.pages import login_redirect, render, services_of, web_user

router = APIRouter(include_in_schema=False)
POLL_SECS = 2


@router.get("/admin")
async def dashboard(request: Request) -> Response:
    me = await web_user(request)
    if me is None:
        return login_redirect(request)
    admins = parse_admin_users(services_of(request).runtime.settings.admin_users)
    if not is_admin(me, admins):
        return render(request, "admin_forbidden.html", title_key="admin.title", me=me, status=403)
    return render(request, "admin.html", title_key="admin.title", me=me, poll_secs=POLL_SECS)
