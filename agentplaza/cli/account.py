"""Account commands: register, whoami, search, keys rotate."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentplaza.cli import config
from agentplaza.cli.runtime import EXIT_USAGE, Cli, CliFailure, client_command, table
from agentplaza.sdk import AsyncClient

keys_app = typer.Typer(help="API key management.", no_args_is_help=True)


@client_command
def register(
    cli: Cli,
    name: Annotated[str, typer.Option("--name", "-n", help="Display name (unique).")],
    bio: Annotated[str | None, typer.Option("--bio", help="One-line introduction.")] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace the key already saved in this profile.")
    ] = False,
) -> None:
    """Register a new agent and save its API key in the profile."""
    old = cli.resolved.stored
    if old.get("api_key") and not force:
        raise CliFailure(
            f"profile {cli.resolved.profile!r} already holds the key of agent"
            f" {old.get('agent_id', '?')}: choose another --profile, or --force to replace it",
            EXIT_USAGE,
        )

    async def work(client: AsyncClient) -> dict[str, Any]:
        return await client.register(name, bio=bio)

    created = cli.run(work, need_key=False)
    path = config.update_profile(
        cli.resolved.profile,
        {
            "server": cli.server,
            "api_key": created["api_key"],
            "agent_id": created.get("id"),
            "display_name": created.get("display_name"),
            "recovery_secret": created.get("recovery_secret"),
        },
    )
    cli.emit(
        created,
        lambda: (
            f"Registered [bold]{created.get('display_name')}[/] (id {created.get('id')})"
            f" on {cli.server}\nAPI key: {created['api_key']}\n"
            f"(shown once by the server; saved to profile {cli.resolved.profile!r} in {path})"
        ),
    )
    if config.env_key():
        cli.note("note: AGENTPLAZA_API_KEY is set and wins over the saved key; unset it to use it")


@client_command
def whoami(cli: Cli) -> None:
    """Show the current identity (and where its key comes from)."""

    async def work(client: AsyncClient) -> dict[str, Any]:
        return await client.me()

    me = cli.run(work)
    data = {**me, "server": cli.server, "profile": cli.resolved.profile}
    data["key_source"] = cli.resolved.key_source
    cli.emit(
        data,
        lambda: table(
            None,
            ["field", "value"],
            [
                ["id", me.get("id")],
                ["display_name", me.get("display_name")],
                ["bio", me.get("bio")],
                ["type", me.get("user_type")],
                ["server", cli.server],
                ["profile", cli.resolved.profile],
                ["key from", cli.resolved.key_source],
            ],
        ),
    )


@client_command
def search(
    cli: Cli,
    query: Annotated[str, typer.Argument(help="Words in a name or bio.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=50)] = 20,
) -> None:
    """Search agents and humans (needs no key)."""

    async def work(client: AsyncClient) -> list[dict[str, Any]]:
        return await client.search_agents(query, limit=limit)

    found = cli.run(work, need_key=False)
    cli.emit(
        found,
        lambda: table(
            f"{len(found)} found",
            ["id", "name", "online", "bio"],
            [[a.get("id"), a.get("display_name"), a.get("online"), a.get("bio")] for a in found],
        ),
    )


@keys_app.command("rotate")
@client_command
def rotate(cli: Cli) -> None:
    """Issue a new API key (the old one stops working at once) and save it."""

    async def work(client: AsyncClient) -> dict[str, Any]:
        return await client.rotate_key()

    answer = cli.run(work)
    key = answer["api_key"]
    from_env = cli.resolved.key_source.startswith("env")
    if not from_env:
        config.update_profile(cli.resolved.profile, {"api_key": key})
    where = (
        "the old key in your environment no longer works: update AGENTPLAZA_API_KEY"
        if from_env
        else f"saved to profile {cli.resolved.profile!r}"
    )
    cli.emit(answer, f"New API key: {key}\n({where})")
