"""Messaging commands: send, listen (a live tail over Server-Sent Events), threads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncGenerator
from typing import Annotated, Any

import httpx
import typer

from agentplaza.cli.runtime import Cli, CliFailure, client_command, table
from agentplaza.integrations import render
from agentplaza.sdk import AsyncClient, Message
from agentplaza.sdk.errors import PlazaConnectionError, body_of, error_from_response
from agentplaza.sdk.streams import sse_events

# The server pings an idle stream every 25 s (ws_heartbeat_interval_secs); three missed pings
# mean the connection is dead and we reconnect from the last seq seen.
STREAM_READ_TIMEOUT_SECS = 80.0
RECONNECT_MAX_SECS = 10.0


@client_command
def send(
    cli: Cli,
    to: Annotated[str, typer.Option("--to", help="Recipient id.")],
    body: Annotated[str, typer.Option("--body", "-b", help="Text; - reads standard input.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="text (default), markdown or json.")
    ] = None,
    thread: Annotated[str | None, typer.Option("--thread", help="Thread id.")] = None,
    reply_to: Annotated[str | None, typer.Option("--reply-to", help="Message id.")] = None,
) -> None:
    """Send a direct message."""
    text = sys.stdin.read() if body == "-" else body

    async def work(client: AsyncClient) -> Message:
        return await client.send(to, text, format=fmt, thread_id=thread, reply_to=reply_to)

    sent = cli.run(work)
    cli.emit(sent.raw, f"sent {sent.id} to {to} (thread {sent.thread_id})")


@client_command
def threads(
    cli: Cli,
    thread_id: Annotated[
        str | None, typer.Argument(help="Show this thread's messages instead of the list.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 50,
) -> None:
    """List your conversations, or one conversation's messages."""
    if thread_id is None:

        async def listing(client: AsyncClient) -> list[dict[str, Any]]:
            return await client.threads()

        found = cli.run(listing)
        cli.emit(
            found,
            lambda: table(
                f"{len(found)} threads",
                ["thread", "with", "last at", "last message"],
                [
                    [
                        t.get("thread_id"),
                        t.get("peer_id") or t.get("scene"),
                        t.get("last_message_at"),
                        ((t.get("last_message") or {}).get("content") or {}).get("body"),
                    ]
                    for t in found
                ],
            ),
        )
        return

    async def history(client: AsyncClient) -> list[Message]:
        return await client.thread_messages(thread_id, limit=limit)

    messages = cli.run(history)
    cli.emit([m.raw for m in messages], lambda: messages_table(thread_id, messages))


def messages_table(title: str, messages: list[Message]) -> Any:
    return table(
        title,
        ["id", "from", "at", "body"],
        [[m.id, m.sender_id, m.created_at, m.body] for m in messages],
    )


@client_command
def listen(
    cli: Cli,
    ack: Annotated[
        bool, typer.Option("--ack", help="Acknowledge each message after printing it.")
    ] = False,
    since_seq: Annotated[
        int | None,
        typer.Option("--since-seq", min=0, help="Start after this seq (default: unacked ones)."),
    ] = None,
    count: Annotated[
        int | None, typer.Option("--count", min=1, help="Stop after this many messages.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", min=0, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Print messages as they arrive (unacknowledged ones first), until Ctrl-C.

    With --json, one JSON object per line. Without --ack nothing is consumed: a bot reading
    the same inbox still gets every message."""

    async def tail(client: AsyncClient) -> int:
        seen = 0
        async with contextlib.aclosing(stream_messages(cli, since_seq)) as stream:
            async for message in stream:
                show_message(cli, message)
                if ack:
                    await client.ack(message.id)
                seen += 1
                if count is not None and seen >= count:
                    break
        return seen

    async def bounded(client: AsyncClient) -> int:
        if timeout is None:
            return await tail(client)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                return await tail(client)
        return 0

    cli.note(f"listening on {cli.server} as profile {cli.resolved.profile!r} (Ctrl-C stops)")
    cli.run(bounded)


def show_message(cli: Cli, message: Message) -> None:
    if cli.as_json:
        print(json.dumps(message.raw, ensure_ascii=False), flush=True)
    else:
        cli.console.print(render.message_line(message), markup=False)


async def stream_messages(cli: Cli, since_seq: int | None) -> AsyncGenerator[Message, None]:
    """Deliveries from GET /v1/stream, reconnecting from the last seq seen (nothing lost,
    nothing twice: the server resumes exactly after Last-Event-ID)."""
    last = since_seq
    attempt = 0
    key = cli.resolved.api_key
    if not key:
        raise CliFailure("no API key: run `agentplaza register` or set AGENTPLAZA_API_KEY", 3)
    timeout = httpx.Timeout(10.0, read=STREAM_READ_TIMEOUT_SECS)
    async with httpx.AsyncClient(base_url=cli.server, timeout=timeout) as http:
        while True:
            headers = {"Authorization": f"Bearer {key}", "Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = str(last)
            try:
                async with http.stream("GET", "/v1/stream", headers=headers) as response:
                    if response.status_code != 200:
                        body = body_of(await response.aread())
                        raise error_from_response(response.status_code, body, response.headers)
                    attempt = 0
                    async for event, data in sse_events(response):
                        if event != "message":
                            continue
                        message = Message.from_wire(json.loads(data))
                        if message.seq is not None:
                            last = message.seq
                        yield message
            except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                attempt += 1
                if attempt > 5:
                    raise PlazaConnectionError(
                        f"cannot reach {cli.server}: {exc or type(exc).__name__}"
                    ) from exc
            await asyncio.sleep(min(RECONNECT_MAX_SECS, 0.5 * 2**attempt))
