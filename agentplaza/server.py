"""Run one server process with uvicorn (uvloop + httptools) for `agentplaza serve`."""

from __future__ import annotations

import logging
import resource

import uvicorn

from agentplaza.api.app import build_app
from agentplaza.settings import Settings

# Client frames are tiny (acks, pings); a small cap keeps a misbehaving client cheap.
WS_MAX_FRAME_BYTES = 64 * 1024


def raise_fd_limit() -> None:
    """Idle WebSockets are file descriptors: use the hard limit, not the soft default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    return uvicorn.Config(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_max_size=WS_MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, which let local clients pick
        # their rate-limit IP; api/auth.py::client_ip decides, per settings.trust_forwarded_for.
        proxy_headers=False,
        date_header=True,
        timeout_graceful_shutdown=10,
        backlog=4096,
    )


def run(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    raise_fd_limit()
    uvicorn.Server(uvicorn_config(settings)).run()
