"""HTTP settings both provider kinds share: timeouts, one TLS context for the process, the
server-sent-events framing of their streams, and what a timeout is called."""

from __future__ import annotations

import functools
import ssl
from collections.abc import AsyncIterable, AsyncIterator

import httpx
import httpx2

from agentplaza.llm.base import ProviderConfig

CONNECT_TIMEOUT_CAP = 10.0
"""A provider that does not accept a connection within this many seconds is not answering."""


def timeout_of(config: ProviderConfig) -> httpx2.Timeout:
    """`timeout_secs` bounds each network wait (connect, each read between chunks), not the
    whole answer: a long answer that keeps streaming is never cut off."""
    return httpx2.Timeout(
        config.timeout_secs, connect=min(config.timeout_secs, CONNECT_TIMEOUT_CAP)
    )


def timeout_message(exc: BaseException, timeout_secs: float) -> str:
    """Which of `timeout_of`'s limits fired, with its real value. The SDKs wrap the httpx
    exception (`__cause__`); a stream's read timeout surfaces unwrapped. (Under load the 10 s
    connect limit fired while the message quoted the 90 s read limit.)"""
    cause: BaseException = exc
    while not isinstance(cause, (httpx.TimeoutException, httpx2.TimeoutException)):
        if cause.__cause__ is None:
            return f"the provider did not answer within {timeout_secs:g} s"
        cause = cause.__cause__
    connect = min(timeout_secs, CONNECT_TIMEOUT_CAP)
    if isinstance(cause, (httpx.ConnectTimeout, httpx2.ConnectTimeout)):
        return f"the provider did not accept a connection within {connect:g} s (connect timeout)"
    if isinstance(cause, (httpx.PoolTimeout, httpx2.PoolTimeout)):
        return f"no connection to the provider was free within {timeout_secs:g} s (pool timeout)"
    if isinstance(cause, (httpx.WriteTimeout, httpx2.WriteTimeout)):
        return f"the provider did not take the request within {timeout_secs:g} s (write timeout)"
    return f"the provider sent nothing for {timeout_secs:g} s (read timeout)"


async def sse_events(lines: AsyncIterable[str]) -> AsyncIterator[tuple[str, str]]:
    """(event name or "", data) of each server-sent event in `lines` (the response's lines, without
    their line ends), framed as the SSE spec says: `data:` lines are joined with "\\n", an
    empty line ends an event, `:` lines (comments, keep-alives) and `id:`/`retry:` are
    ignored, one space after the colon is dropped. Events without data are skipped; an event
    not ended by an empty line when the stream ends is discarded (spec; the packages do too),
    so a cut-off stream is noticed by the missing end marker, not by half a JSON."""
    event = ""
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "", []
            continue
        if line[0] == ":":
            continue
        field, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if field == "data":
            data.append(value)
        elif field == "event":
            event = value


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle loaded once. Each SDK client would otherwise build its own context, which
    was nearly all of the ~60-100 ms a client took to create (measured: 0.5 ms with this)."""
    return httpx2.create_ssl_context()
