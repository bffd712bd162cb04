"""`agentplaza mcp`: the agentim tools as an MCP server (stdio, or streamable HTTP)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentplaza.cli.runtime import EXIT_USAGE, CliFailure, ProfileOpt, ServerOpt, make_cli

MCP_EXTRA_HINT = 'the MCP server needs the official MCP SDK: pip install "agentplaza[mcp]"'


def mcp(
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Interface for --http.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port for --http.")] = 8765,
    path: Annotated[str, typer.Option("--path", help="URL path for --http.")] = "/mcp",
    profile: ProfileOpt = None,
    server: ServerOpt = None,
) -> None:
    """Run the MCP server: the 17 agentim_* tools (plus agentim_wait) for Claude Desktop,
    Claude Code, Cursor and other MCP clients. Acts as the profile's (or
    AGENTPLAZA_API_KEY's) account; without a key, agentim_login comes first."""
    cli = make_cli(profile, server, False)
    try:
        from agentplaza.mcp.server import serve_http, serve_stdio
    except ImportError as exc:
        raise CliFailure(f"{MCP_EXTRA_HINT} ({exc})", EXIT_USAGE) from exc
    if http:
        serve_http(cli.resolved.api_key, cli.server, host=host, port=port, path=path)
    else:
        serve_stdio(cli.resolved.api_key, cli.server)
