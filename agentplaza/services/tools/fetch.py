"""`http_fetch`: GET a text page from an allow-listed host, through the webhooks' SSRF guard.

Off unless the `llm_http_fetch_allowed_hosts` setting names hosts (then offered, and only those
host names are fetched). Even an allow-listed host is refused when its URL or any address it
resolves to is not public (domain/webhooks.py: loopback, private, link-local, metadata …), and
the addresses checked are the ones the connection uses (services/checked_http.py: no DNS
rebinding). GET only, no redirects followed (a 3xx is reported with its Location), no proxies
from the environment, the body read raw (never decompressed) up to FETCH_MAX_BYTES, text types
only. The registry bounds the whole call with the tool timeout.
"""

from __future__ import annotations

import httpx
from pydantic import BaseModel, ConfigDict, Field

from agentplaza import __version__
from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.webhooks import WEBHOOK_URL_MAX_CHARS, check_resolved, parse_webhook_url
from agentplaza.services.checked_http import (
    Check,
    CheckedNetworkBackend,
    CheckedTransport,
    Resolve,
)
from agentplaza.services.tools.registry import Tool, ToolContext, ToolFailed
from agentplaza.services.webhooks import resolve_host

FETCH_MAX_BYTES = 12_000
"""Read no more of a body: with the status line and the note it stays under the registry's
RESULT_MAX_CHARS, so the model is told the page was cut, and where."""
USER_AGENT = f"agentplaza-http-fetch/{__version__}"
_TEXT_TYPES = frozenset(
    {"application/json", "application/xml", "application/xhtml+xml", "application/javascript"}
)


class HttpFetchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(
        min_length=1, max_length=WEBHOOK_URL_MAX_CHARS, description="An http(s) URL to GET."
    )


def parse_allowed_hosts(raw: str) -> frozenset[str]:
    """The setting's comma-separated host names, lower-case, without a trailing dot."""
    return frozenset(h.strip().rstrip(".").lower() for h in raw.split(",") if h.strip())


def http_fetch_tool(
    allowed_hosts: frozenset[str],
    *,
    resolve: Resolve = resolve_host,
    check: Check = check_resolved,
) -> Tool[HttpFetchArgs]:
    """The tool for a non-empty allow-list. `resolve` and `check` are the webhook worker's
    unless a test gives its own (a fixed resolver; a check that lets loopback through)."""
    hosts = ", ".join(sorted(allowed_hosts))
    # One client for the process, built here (at startup): building its TLS contexts takes
    # ~100-200 ms of CPU, which per call would stall every stream on the event loop. It keeps
    # no idle connection, so it holds nothing between calls and needs no closing.
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=0)
    client = httpx.AsyncClient(
        transport=CheckedTransport(CheckedNetworkBackend(resolve, check), limits=limits),
        follow_redirects=False,  # a redirect could lead past the allow-list
        trust_env=False,
        timeout=None,  # the registry's deadline covers the whole call
        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
    )

    async def http_fetch(args: HttpFetchArgs, ctx: ToolContext) -> str:
        try:
            target = parse_webhook_url(args.url, allow_private=False)
        except AgentplazaError as exc:
            raise ToolFailed(f"refused: {exc.detail}") from None
        if target.host not in allowed_hosts:
            raise ToolFailed(f"refused: host {target.host!r} is not allowed (allowed: {hosts})")
        try:
            return await _get(client, target.url)
        except AgentplazaError as exc:  # the address check at connect time
            raise ToolFailed(f"refused: {exc.detail}") from None
        except httpx.HTTPError as exc:
            raise ToolFailed(f"fetch failed: {type(exc).__name__}: {exc}") from None

    return Tool(
        name="http_fetch",
        category="web",
        description=f"GET a text web page or API response (text, JSON, XML) from: {hosts}.",
        args=HttpFetchArgs,
        handler=http_fetch,
    )


async def _get(client: httpx.AsyncClient, url: str) -> str:
    async with client.stream("GET", url) as response:
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("location", "")
            raise ToolFailed(f"HTTP {status}: redirect to {location[:500]!r} not followed")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in {"", "identity"}:
            raise ToolFailed(f"HTTP {status}: {encoding}-encoded body not read")
        media = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media and not _is_text(media):
            raise ToolFailed(f"HTTP {status}: {media} is not text")
        received = bytearray()
        truncated = False
        async for chunk in response.aiter_raw():
            received += chunk[: FETCH_MAX_BYTES - len(received)]
            if len(received) >= FETCH_MAX_BYTES:
                truncated = True
                break
        charset = response.charset_encoding or "utf-8"
    try:
        text = bytes(received).decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        text = bytes(received).decode("utf-8", "replace")
    if truncated:
        text += f"\n[truncated at {FETCH_MAX_BYTES} bytes]"
    if not 200 <= status < 300:
        raise ToolFailed(f"HTTP {status}: {text[:2000]}")
    return f"HTTP {status} {media or 'text/plain'}\n\n{text}"


def _is_text(media: str) -> bool:
    return media.startswith("text/") or media in _TEXT_TYPES or media.endswith(("+json", "+xml"))
