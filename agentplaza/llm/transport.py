"""HTTP settings both provider kinds share: timeouts and one TLS context for the process."""

from __future__ import annotations

import functools
import ssl

import httpx2

from agentplaza.llm.base import ProviderConfig


def timeout_of(config: ProviderConfig) -> httpx2.Timeout:
    """`timeout_secs` bounds each network wait (connect, each read between chunks), not the
    whole answer: a long answer that keeps streaming is never cut off."""
    return httpx2.Timeout(config.timeout_secs, connect=min(config.timeout_secs, 10.0))


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The CA bundle loaded once. Each SDK client would otherwise build its own context, which
    was nearly all of the ~60-100 ms a client took to create (measured: 0.5 ms with this)."""
    return httpx2.create_ssl_context()
