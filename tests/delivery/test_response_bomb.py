"""A receiver answering with a compression bomb cannot grow the server's memory: the worker asks
for an uncompressed answer and reads raw bytes under `webhook_max_response_bytes`, never
decoding them (docs/webhooks.md, "Success, retries, giving up")."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
from aiohttp import web

from tests.api.helpers import send, wait_until
from tests.conftest import register
from tests.delivery.receivers import HOOK_ENV, hook, receiver, webhook_state
from tests.server import ServerProcess

BOMB_MIB = 256  # decompressed size: the old worker inflated it in one piece, then copied it
RSS_BOUND_KIB = 50 * 1024


def _gzip(chunks: list[bytes]) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    return b"".join(packer.compress(c) for c in chunks) + packer.flush()


@functools.cache
def stacked_gzip_bomb() -> bytes:
    """gzip(gzip(BOMB_MIB MiB of zeros)), built a MiB at a time: about a kilobyte."""
    zeros = bytes(1 << 20)
    return _gzip([_gzip([zeros] * BOMB_MIB)])


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/<pid>/status")


async def test_a_gzip_bomb_answer_is_never_decompressed(
    server_factory: Callable[..., ServerProcess],
) -> None:
    bomb = stacked_gzip_bomb()
    assert len(bomb) < 4096
    srv = server_factory(HOOK_ENV)
    assert srv.proc is not None
    answers = iter([500, 200])

    async def answer_with_bomb(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Encoding": "gzip, gzip", "Content-Type": "application/json"}
        return web.Response(status=next(answers), body=bomb, headers=headers)

    async with receiver() as recv, httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        await hook(client, bob, recv.url("/bomb"))

        def delivered(n: int) -> Callable[[], Awaitable[bool]]:
            async def check() -> bool:
                return bool((await webhook_state(client, bob))["delivered"] == n)

            return check

        await send(client, alice, bob.id, "warm up")  # a plain delivery first: the baseline
        await wait_until(delivered(1), 15.0, "the first delivery")
        before = peak_rss_kib(srv.proc.pid)

        recv.answer = answer_with_bomb
        await send(client, alice, bob.id, "bomb")
        await wait_until(delivered(2), 15.0, "the delivery answered with a bomb")
        grown = peak_rss_kib(srv.proc.pid) - before
        assert grown < RSS_BOUND_KIB, f"peak RSS grew by {grown} KiB"

        got = await webhook_state(client, bob)
        assert (got["pending"], got["failed"]) == (0, 0)
        # The 500 failed the first attempt; its body was not decoded into last_error.
        assert got["last_error"].startswith("HTTP 500: (gzip, gzip-encoded body not read)")
        assert len(recv.on("/bomb")) == 3
        assert all(h.headers["Accept-Encoding"] == "identity" for h in recv.hits)
