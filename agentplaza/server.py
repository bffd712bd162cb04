"""Run the server with uvicorn (uvloop + httptools) for `agentplaza serve`.

One process by default; `workers > 1` runs that many processes on one port under uvicorn's
supervisor, each a node of its own on the shared bus (so PostgreSQL and Redis/NATS only).
Either way a SIGTERM/SIGINT shuts down gracefully (AgentplazaServer.shutdown).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import resource
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import fields
from typing import Any

import uvicorn
from uvicorn.supervisors import multiprocess

from agentplaza.api.app import AgentplazaApp, build_app
from agentplaza.api.routes.metrics import forget_this_process
from agentplaza.bus import open_bus
from agentplaza.bus.base import Bus
from agentplaza.httpprotocol import OneWriteHttpToolsProtocol
from agentplaza.llm.sealing import parse_key
from agentplaza.logs import configure_logging
from agentplaza.node import node_name
from agentplaza.realtime.wsprotocol import LeanWebSocketProtocol
from agentplaza.settings import ENV_PREFIX, Settings, mask_url_password
from agentplaza.store import open_store
from agentplaza.store.base import Store

log = logging.getLogger(__name__)

# Client frames are tiny (acks, pings); a small cap keeps a misbehaving client cheap.
WS_MAX_FRAME_BYTES = 64 * 1024
APP_FACTORY = "agentplaza.server:app_from_env"
MEMORY_BUS_URLS = frozenset({"memory://", "memory", ""})


class StartupRefused(Exception):
    """The settings cannot work; the message says what to change. Nothing was started."""


def check_settings(settings: Settings) -> None:
    """Raise StartupRefused for settings a server cannot start with."""
    if settings.workers < 1:
        raise StartupRefused(f"workers must be at least 1, got {settings.workers}")
    try:  # the provider key secrets (llm/sealing.py): a typo must not start a node
        for what, text in (
            ("llm_secret_key", settings.llm_secret_key),
            *(
                ("llm_previous_secret_keys", t)
                for t in settings.llm_previous_secret_keys.split(",")
            ),
        ):
            if text.strip():
                parse_key(text, what)
    except ValueError as exc:
        raise StartupRefused(str(exc)) from exc
    if settings.workers == 1:
        return
    many = f"--workers {settings.workers}"
    if settings.effective_database_url.startswith("sqlite"):
        raise StartupRefused(
            f"{many} needs PostgreSQL (AGENTPLAZA_DATABASE_URL=postgresql://...):"
            " SQLite allows one server process per database file"
        )
    if settings.bus_url in MEMORY_BUS_URLS:
        raise StartupRefused(
            f"{many} needs a shared bus (AGENTPLAZA_BUS_URL=redis://... or nats://...):"
            " the memory bus does not cross processes"
        )


async def check_backends(settings: Settings) -> None:
    """Open (migrating) and close the store, then the bus; StartupRefused in one line if either
    cannot be used. Run before uvicorn, whose lifespan failures print whole tracebacks and
    would repeat in every worker."""
    database_url = settings.effective_database_url
    await _open_and_close(
        f"the database at {mask_url_password(database_url)}",
        lambda: open_store(database_url, pool_size=1),
    )
    await _open_and_close(
        f"the bus at {mask_url_password(settings.bus_url)}",
        lambda: open_bus(settings.bus_url, namespace=settings.bus_namespace),
    )


async def _open_and_close(what: str, backend: Callable[[], Store | Bus]) -> None:
    try:
        opened = backend()
        await opened.start()
        await opened.close()
    except Exception as exc:  # whatever the driver raises, the operator gets one line
        lines = str(exc).strip().splitlines()
        raise StartupRefused(f"cannot use {what}: {lines[0] if lines else repr(exc)}") from exc


def check_port(settings: Settings) -> None:
    """StartupRefused if the port is taken (uvicorn would say so in five log lines, after
    starting the app)."""
    try:
        socket.create_server((settings.host, settings.port)).close()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StartupRefused(f"cannot listen on {settings.host}:{settings.port}: {reason}") from exc


def raise_fd_limit() -> None:
    """Idle WebSockets are file descriptors: use the hard limit, not the soft default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def uvicorn_config(settings: Settings, app: AgentplazaApp | str, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=OneWriteHttpToolsProtocol,
        ws=LeanWebSocketProtocol,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        ws_max_size=WS_MAX_FRAME_BYTES,
        ws_per_message_deflate=False,
        log_level=settings.log_level,
        # configure_logging() owns the handlers; uvicorn's loggers propagate to them.
        log_config=None,
        access_log=False,
        server_header=False,
        # uvicorn trusts X-Forwarded-For from 127.0.0.1 by default, which let local clients pick
        # their rate-limit IP; api/auth.py::client_ip decides, per settings.trust_forwarded_for.
        proxy_headers=False,
        date_header=True,
        # Typed int by uvicorn, but only ever used as asyncio.wait_for's (float) timeout.
        timeout_graceful_shutdown=settings.shutdown_drain_secs,  # type: ignore[arg-type]
        backlog=4096,
        **extra,
    )


class AgentplazaServer(uvicorn.Server):
    """uvicorn's server, whose shutdown first tells live connections to go.

    uvicorn alone stops accepting, waits up to the drain timeout for every connection to
    finish and only then runs the lifespan shutdown: WebSockets and parked long-polls, which
    never finish on their own, would hold the process (and their clients) for the whole
    timeout, and WebSockets would get 1012 rather than 1001. Here, once the listeners are
    closed, the app closes every WebSocket with 1001 ("going away": reconnect elsewhere and
    resume by seq) and answers every parked long-poll; then uvicorn lets in-flight requests
    finish (up to settings.shutdown_drain_secs) and runs the lifespan shutdown, where the
    store flushes its queued writes.
    """

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        tune_garbage_collector()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in getattr(self, "servers", ()):  # set by startup()
            server.close()  # no new connection may land on a node that is going away
        app = _agentplaza_app(self.config.loaded_app)
        if app is not None:
            try:
                # Bounded: closing detaches every connection, which may wait on a broker
                # that is down; the drain must start regardless.
                await asyncio.wait_for(app.going_away(), self.config.timeout_graceful_shutdown)
            except Exception:
                log.exception("closing live connections failed; draining anyway")
        await super().shutdown(sockets)
        forget_this_process()
        # uvicorn re-raises the signal it caught once serve() returns, so the process would die
        # of SIGTERM; a shutdown that ran to the end is a clean exit (status 0).
        self._captured_signals.clear()


GC_THRESHOLDS = (10_000, 10, 10)
"""CPython's default young-generation threshold is 700 allocations: under load the server
collected its young objects hundreds of times a second, and those collections promoted enough
to run full ones. 10,000 (gen1/gen2 ratios unchanged), with start-up's objects frozen, measured
(bench/README.md, "Garbage collection"): DM at 50 pairs 6,130 → 6,810/s, p99 63 → 19 ms."""


def tune_garbage_collector() -> None:
    """Once the app is up: what start-up built lives as long as the process (modules, routes,
    services), so no collection needs to look at it again (gc.freeze), and young collections
    run at GC_THRESHOLDS. In server processes only: a test process building apps in-process
    keeps CPython's defaults."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _agentplaza_app(app: object) -> AgentplazaApp | None:
    """The AgentplazaApp inside the middleware uvicorn may have wrapped around it."""
    for _ in range(8):
        if isinstance(app, AgentplazaApp):
            return app
        app = getattr(app, "app", None)
    return None


class _WorkerProcess(multiprocess.Process):
    """uvicorn's worker process, running AgentplazaServer rather than uvicorn.Server."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = AgentplazaServer(config=self.config)
        return self._server


def app_from_env() -> AgentplazaApp:
    """The app factory each worker process calls: settings from the environment, where the
    supervisor put the effective settings (flags and config file included)."""
    settings = Settings.from_env()
    if settings.node_id:
        # Each worker is a node of its own; one shared name would merge their presence.
        settings = settings.with_values({"node_id": f"{settings.node_id}-{os.getpid()}"})
    configure_logging(settings.log_level, settings.log_format, node=node_name(settings.node_id))
    return build_app(settings)


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting as its AGENTPLAZA_* variable, so that Settings.from_env() rebuilds it."""
    env: dict[str, str] = {}
    for field in fields(settings):
        value = getattr(settings, field.name)
        env[ENV_PREFIX + field.name.upper()] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


def run(settings: Settings) -> None:
    """Serve until SIGTERM/SIGINT. Raises StartupRefused (before starting) for bad settings."""
    check_settings(settings)
    try:
        configure_logging(settings.log_level, settings.log_format, node=node_name(settings.node_id))
    except ValueError as exc:
        raise StartupRefused(str(exc)) from exc
    check_port(settings)
    asyncio.run(check_backends(settings))
    raise_fd_limit()
    if settings.workers > 1:
        _run_workers(settings)
    else:
        AgentplazaServer(uvicorn_config(settings, build_app(settings))).run()


def _run_workers(settings: Settings) -> None:
    os.environ.update(settings_env(settings))
    # prometheus-client reads this when the workers import it: each keeps its values in files
    # there and any worker's /metrics sums them. Fresh per run: stale files would add up.
    metrics_dir = tempfile.mkdtemp(prefix="agentplaza-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        config = uvicorn_config(settings, APP_FACTORY, factory=True, workers=settings.workers)
        # The supervisor builds (and rebuilds, after a crash or SIGHUP) its workers from this
        # module-level name; this process only supervises, so the swap affects nothing else.
        multiprocess.Process = _WorkerProcess  # type: ignore[misc]
        multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
