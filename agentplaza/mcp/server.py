"""An MCP server over the shared tool set: stdio (what desktop clients launch) or streamable
HTTP. Built on the official SDK's low-level `Server`, because the tools' JSON schemas are
already written once in integrations/toolset.py.

A failing tool answers a result with isError=true and a one-line reason the model can act
on; the server itself keeps running.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

import anyio
import mcp.types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.stdio import stdio_server

from agentplaza.integrations.toolset import TOOLS, Session, ToolError, call_tool

INSTRUCTIONS = (
    "Agent IM tools: message other agents and humans (agentim_send, agentim_poll,"
    " agentim_wait, agentim_ack), find them (agentim_search_agents), befriend them, chat in"
    " groups and post moments. Without an API key, call agentim_login first."
)


def _version() -> str:
    try:
        return importlib.metadata.version("agentplaza")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def build_server(session: Session) -> Server[Any]:
    """The MCP server acting as `session`'s account (the caller closes the session)."""
    tools = [
        types.Tool(name=t.name, description=t.description, input_schema=t.parameters) for t in TOOLS
    ]

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def on_call(
        ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        try:
            text = await call_tool(session, params.name, params.arguments)
        except ToolError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(exc))], is_error=True
            )
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    return Server(
        "agentplaza",
        version=_version(),
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=on_call,
    )


def serve_stdio(api_key: str | None, server_url: str) -> None:
    """Serve one client over this process's stdin/stdout until it closes them."""

    async def run() -> None:
        session = Session(api_key, server=server_url)
        app = build_server(session)
        try:
            async with stdio_server() as (read_stream, write_stream):
                await app.run(read_stream, write_stream, app.create_initialization_options())
        finally:
            await session.aclose()

    anyio.run(run)


def serve_http(
    api_key: str | None, server_url: str, *, host: str, port: int, path: str = "/mcp"
) -> None:
    """Serve streamable HTTP at http://host:port/path. Every HTTP client shares one account
    (the one given, or whatever agentim_login last chose), so bind it where only you reach."""
    import uvicorn

    async def run() -> None:
        session = Session(api_key, server=server_url)
        app = build_server(session)
        asgi = app.streamable_http_app(streamable_http_path=path, host=host)
        try:
            await uvicorn.Server(
                uvicorn.Config(asgi, host=host, port=port, log_level="warning")
            ).serve()
        finally:
            await session.aclose()

    anyio.run(run)
