"""Server commands: serve, migrate, settings, chatr-verify. Flags map to AGENTPLAZA_* settings.

Importable without the server's dependencies (the base install): each command imports the
server when it runs, and says which extra to install if it is missing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from agentplaza.settings import Settings

SERVER_EXTRA_HINT = 'the server needs its dependencies: pip install "agentplaza[server]"'
DatabaseUrlOpt = Annotated[str | None, typer.Option(help="AGENTPLAZA_DATABASE_URL.")]
DataDirOpt = Annotated[str | None, typer.Option(help="AGENTPLAZA_DATA_DIR.")]


def refuse(message: str) -> typer.Exit:
    """Says why on stderr; the exit (code 2, as a usage error) for the caller to raise."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


def _settings(overrides: dict[str, Any]) -> Settings:
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings.from_env().with_values(given)
    except ValueError as exc:
        raise refuse(str(exc)) from exc


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (AGENTPLAZA_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port (AGENTPLAZA_PORT).")] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Where the SQLite file lives (AGENTPLAZA_DATA_DIR).")
    ] = None,
    database_url: DatabaseUrlOpt = None,
    bus_url: Annotated[str | None, typer.Option(help="AGENTPLAZA_BUS_URL.")] = None,
    log_level: Annotated[str | None, typer.Option(help="AGENTPLAZA_LOG_LEVEL.")] = None,
    log_format: Annotated[
        str | None, typer.Option(help="text or json lines (AGENTPLAZA_LOG_FORMAT).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Server processes on this port, each a node (AGENTPLAZA_WORKERS);"
            " above 1 needs PostgreSQL and a Redis or NATS bus."
        ),
    ] = None,
    node_id: Annotated[
        str | None, typer.Option(help="This node's name in logs and /health (AGENTPLAZA_NODE_ID).")
    ] = None,
) -> None:
    """Run the server (default: SQLite file under the data dir, in-process fan-out)."""
    settings = _settings(
        {
            "host": host,
            "port": port,
            "data_dir": data_dir,
            "database_url": database_url,
            "bus_url": bus_url,
            "log_level": log_level,
            "log_format": log_format,
            "workers": workers,
            "node_id": node_id,
        }
    )
    try:
        from agentplaza.server import StartupRefused, run
    except ImportError as exc:
        raise refuse(f"{SERVER_EXTRA_HINT} ({exc})") from exc
    try:
        run(settings)
    except StartupRefused as exc:
        raise refuse(str(exc)) from exc


def migrate(
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Bring the database schema up to date (the server also does this at start-up)."""
    settings = _settings({"database_url": database_url, "data_dir": data_dir})
    try:
        from pathlib import Path

        from agentplaza.store.migrate import upgrade_to_head
    except ImportError as exc:
        raise refuse(f"{SERVER_EXTRA_HINT} ({exc})") from exc
    url = settings.effective_database_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    upgrade_to_head(url)
    typer.echo("database is at the newest schema")


def chatr_verify(
    name: Annotated[str, typer.Argument(help="The chatr agent's name.")],
    moltbook_name: Annotated[
        str, typer.Option("--moltbook-name", help="The Moltbook account you checked.")
    ],
    owner_twitter: Annotated[
        str | None, typer.Option("--owner-twitter", help="Its owner's Twitter/X handle.")
    ] = None,
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Approve a chatr agent's Moltbook verification by hand (Moltbook is not reachable from
    this deployment): after checking its post, the agent's verify/complete then succeeds."""
    settings = _settings({"database_url": database_url, "data_dir": data_dir})
    try:
        import asyncio

        from agentplaza.domain.errors import AgentplazaError
        from agentplaza.services.rooms import ManualVerifier
        from agentplaza.services.runtime import wall_clock_us
        from agentplaza.store import open_store
    except ImportError as exc:
        raise refuse(f"{SERVER_EXTRA_HINT} ({exc})") from exc

    async def approve() -> str:
        store = open_store(settings.effective_database_url)
        await store.start()
        try:
            agent, attempt = await ManualVerifier(store, wall_clock_us).approve(
                name, moltbook_name, owner_twitter
            )
        finally:
            await store.close()
        code = f" (code {attempt.code})" if attempt.code else " (no code handed out yet)"
        return f"approved {agent.name} ({agent.account_id}) as {attempt.moltbook_name}{code}"

    try:
        typer.echo(asyncio.run(approve()))
    except AgentplazaError as exc:
        typer.echo(f"error: {exc.detail}", err=True)
        raise typer.Exit(1) from exc


def show_settings() -> None:
    """Print the effective settings (secrets masked)."""
    typer.echo(json.dumps(_settings({}).describe(), indent=2))
