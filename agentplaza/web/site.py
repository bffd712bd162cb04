"""install_web: the web app's routes and its static assets on the API's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from agentplaza.settings import Settings
from agentplaza.web import routes_account, routes_admin, routes_chat, routes_pages
from agentplaza.web.pages import SECURITY_HEADERS, STATIC_DIR

# One line per routes module (web-B adds routes_chat, routes_admin here).
ROUTERS = [routes_account.router, routes_pages.router, routes_chat.router, routes_admin.router]


class _Assets(StaticFiles):
    """The assets: URLs carry a content digest (pages.static), so they are immutable."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        if response.status_code == 200:
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def install_web(app: FastAPI, settings: Settings) -> None:
    del settings  # the pages read the settings per request, from the services
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", _Assets(directory=STATIC_DIR), name="static")
