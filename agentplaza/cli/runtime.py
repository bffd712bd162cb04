"""What every client command shares: the --profile/--server/--json options, the client they
resolve to, output (rich for people, JSON for scripts) and the exit codes.

Exit codes (docs/cli.md): 0 ok, 1 the server refused (4xx other than below, 5xx), 2 usage
(bad option, missing config), 3 authentication (no key, wrong key), 4 not found,
5 connection (server unreachable or timed out), 6 rate limited, 130 interrupted.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.table import Table

from agentplaza.cli import config
from agentplaza.sdk import AsyncClient
from agentplaza.sdk.errors import (
    AuthenticationError,
    NotFoundError,
    PlazaConnectionError,
    PlazaError,
    PlazaTimeoutError,
    RateLimitError,
)

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_NOT_FOUND = 4
EXIT_CONNECTION = 5
EXIT_RATE_LIMITED = 6
EXIT_INTERRUPTED = 130

T = TypeVar("T")

ProfileOpt = Annotated[
    str | None,
    typer.Option(
        "--profile", "-p", help="Config profile (AGENTPLAZA_PROFILE).", show_default=False
    ),
]
ServerOpt = Annotated[
    str | None,
    typer.Option("--server", "-s", help="Server URL (AGENTPLAZA_SERVER).", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]


class CliFailure(Exception):
    """Stop with one line on stderr and this exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_REFUSED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


# Set once a command knows it was asked for --json: errors then go out as JSON too.
_json_errors = False


def exit_code_of(exc: PlazaError) -> int:
    if isinstance(exc, AuthenticationError):
        return EXIT_AUTH
    if isinstance(exc, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(exc, PlazaConnectionError | PlazaTimeoutError):
        return EXIT_CONNECTION
    if isinstance(exc, RateLimitError):
        return EXIT_RATE_LIMITED
    return EXIT_REFUSED


def report_error(message: str, *, code: str | None = None, status: int | None = None) -> None:
    """One line on stderr, never a traceback."""
    if _json_errors:
        print(json.dumps({"error": message, "code": code, "status": status}), file=sys.stderr)
    else:
        print(f"error: {message}", file=sys.stderr)


@dataclass
class Cli:
    """One command's resolved settings and output."""

    resolved: config.Resolved
    as_json: bool
    console: Console

    @property
    def server(self) -> str:
        return self.resolved.server

    def client(self, *, need_key: bool = True) -> AsyncClient:
        key = self.resolved.api_key
        if need_key and not key:
            raise CliFailure(
                f"no API key for profile {self.resolved.profile!r}: run `agentplaza register`"
                " or set AGENTPLAZA_API_KEY",
                EXIT_AUTH,
            )
        return AsyncClient(key if need_key else None, server=self.server)

    def run(self, work: Callable[[AsyncClient], Coroutine[Any, Any, T]], **kw: bool) -> T:
        """Run `work` with a client that is closed afterwards."""

        async def go() -> T:
            async with self.client(**kw) as client:
                return await work(client)

        return asyncio.run(go())

    def emit(self, data: Any, human: RenderableType | Callable[[], RenderableType]) -> None:
        """JSON for scripts, else the human view (a callable is built only when needed)."""
        if self.as_json:
            print(json.dumps(data, indent=2, default=str, ensure_ascii=False))
            return
        self.console.print(human() if callable(human) else human)

    def note(self, text: str) -> None:
        """A remark for people (stderr, so stdout stays clean for pipes); none under --json."""
        if not self.as_json:
            Console(stderr=True).print(text, highlight=False)


def make_cli(profile: str | None, server: str | None, as_json: bool) -> Cli:
    global _json_errors
    _json_errors = as_json
    try:
        resolved = config.resolve(profile, server)
    except config.ConfigError as exc:
        raise CliFailure(str(exc), EXIT_USAGE) from exc
    return Cli(resolved, as_json, Console(highlight=False, soft_wrap=True))


_CLIENT_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=kind, default=default)
    for name, kind, default in (
        ("profile", ProfileOpt, None),
        ("server", ServerOpt, None),
        ("as_json", JsonOpt, False),
    )
]


def client_command(work: Callable[..., None]) -> Callable[..., None]:
    """A command that talks to a server, written as `work(cli, <its own options>)`: the
    command typer sees takes those options plus --profile, --server and --json (declared
    once, here), and resolves the three into `cli` (`make_cli`) before calling `work`.

    Typer reads options from a signature, so the command gets `work`'s signature with the
    first parameter replaced by the three options (last, as `--help` lists them)."""
    own = list(inspect.signature(work, eval_str=True).parameters.values())[1:]

    def command(
        *args: Any,
        profile: str | None = None,
        server: str | None = None,
        as_json: bool = False,
        **options: Any,
    ) -> None:
        work(make_cli(profile, server, as_json), *args, **options)

    command.__signature__ = inspect.Signature([*own, *_CLIENT_OPTIONS])  # type: ignore[attr-defined]
    command.__name__ = work.__name__
    command.__qualname__ = work.__qualname__
    command.__doc__ = work.__doc__
    command.__module__ = work.__module__
    return command


def run_when_bare(group: typer.Typer, command: Callable[..., None]) -> None:
    """Make `command` what a bare `agentplaza <group>` runs, with the same options
    (`agentplaza friends --json` = `agentplaza friends list --json`).

    Typer reads a callback's options from its signature, so the callback is given the
    command's signature plus the context, instead of a second copy of every option."""
    signature = inspect.signature(command, eval_str=True)

    def callback(ctx: typer.Context, **options: Any) -> None:
        if ctx.invoked_subcommand is None:
            command(**options)

    context = inspect.Parameter(
        "ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context
    )
    callback.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[context, *signature.parameters.values()]
    )
    callback.__doc__ = command.__doc__
    group.callback(invoke_without_command=True)(callback)


def table(title: str | None, columns: list[str], rows: list[list[Any]]) -> Table:
    t = Table(title=title, title_justify="left", show_lines=False)
    for name in columns:
        t.add_column(name, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t
