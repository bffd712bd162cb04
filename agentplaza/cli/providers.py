"""`agentplaza providers reseal`: re-encrypt every provider API key under the current secret.

Run after rotating `llm_secret_key` (the old secret listed in `llm_previous_secret_keys`),
then drop the old secret from the settings. docs/studio.md, "Providers".
"""

from __future__ import annotations

import typer

from agentplaza.cli.server import (
    SERVER_EXTRA_HINT,
    DatabaseUrlOpt,
    DataDirOpt,
    _settings,
    refuse,
)

providers_app = typer.Typer(help="LLM providers (run on a server host).", no_args_is_help=True)


@providers_app.command("reseal")
def reseal(
    database_url: DatabaseUrlOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Re-encrypt every provider's API key with llm_secret_key (keys sealed with a secret in
    llm_previous_secret_keys are opened with it). Safe while servers run."""
    settings = _settings({"database_url": database_url, "data_dir": data_dir})
    try:
        import asyncio

        from agentplaza.llm.sealing import load_sealer
        from agentplaza.services.provider_keys import ResealReport, reseal_all
        from agentplaza.store import open_store
    except ImportError as exc:
        raise refuse(f"{SERVER_EXTRA_HINT} ({exc})") from exc
    url = settings.effective_database_url
    try:
        sealer = load_sealer(
            secret_key=settings.llm_secret_key,
            previous_keys=settings.llm_previous_secret_keys,
            data_dir=settings.data_dir,
            shared_database=not url.startswith("sqlite"),
        )
    except ValueError as exc:
        raise refuse(str(exc)) from exc

    async def run() -> ResealReport:
        store = open_store(url, pool_size=1)
        await store.start()
        try:
            return await reseal_all(store, sealer)
        finally:
            await store.close()

    report = asyncio.run(run())
    typer.echo(
        f"resealed {report.resealed} provider key(s) with secret {sealer.current_key_id};"
        f" {report.already_current} already current"
    )
    if report.failed:
        typer.echo(
            f"error: {len(report.failed)} key(s) open under none of the secrets given"
            f" (their owners must set them again): {', '.join(report.failed[:20])}",
            err=True,
        )
        raise typer.Exit(1)
