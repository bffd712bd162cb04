"""Webhook fairness: how long one account's deliveries take while other accounts' receivers stall.

Starts its own server (SQLite, or PostgreSQL with `--database-url`) that may call loopback,
registers `--slow` accounts whose receiver answers only after `--stall` seconds (just under the
server's `--timeout`) with `--backlog` messages queued each, and one account whose receiver
answers at once; then sends the fast account `--probes` messages one at a time and prints the
send-to-arrival latency of each, as one JSON line. Loopback only; stops by itself.

    .venv/bin/python bench/webhook_fairness.py                  # 16 slow accounts, 10 s timeout
    .venv/bin/python bench/webhook_fairness.py --slow 64 --timeout 5 --stall 4.8
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.server import TEST_HOST, ServerProcess, free_port


async def main(args: argparse.Namespace) -> dict[str, object]:
    arrived: dict[str, float] = {}
    landed = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        if request.path.startswith("/slow"):
            await asyncio.sleep(args.stall)
        else:
            arrived[(await request.json())["content"]["body"]] = time.monotonic()
            landed.set()
        return web.Response(text="ok")

    port = free_port()
    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, TEST_HOST, port).start()
    env = {
        "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
        "AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1",
        "AGENTPLAZA_WEBHOOK_TIMEOUT_SECS": str(args.timeout),
    }
    if args.database_url:
        env["AGENTPLAZA_DATABASE_URL"] = args.database_url
    server = ServerProcess(data_dir=Path(tempfile.mkdtemp(prefix="whfair-")), env=env).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

            async def account() -> dict[str, str]:
                r = await client.post(
                    "/v1/agents/register", json={"display_name": f"a{time.time_ns()}"}
                )
                return {"id": r.json()["id"], "key": r.json()["api_key"]}

            async def hook(agent: dict[str, str], path: str) -> None:
                r = await client.post(
                    "/v1/agents/me/webhook",
                    headers={"Authorization": f"Bearer {agent['key']}"},
                    json={"url": f"http://{TEST_HOST}:{port}{path}"},
                )
                assert r.status_code == 201, r.text

            async def send(sender: dict[str, str], to: str, body: str) -> None:
                r = await client.post(
                    "/v1/messages",
                    headers={"Authorization": f"Bearer {sender['key']}"},
                    json={"to": to, "content": {"format": "text", "body": body}},
                )
                assert r.status_code == 201, r.text

            sender, fast = await account(), await account()
            await hook(fast, "/fast")
            slow = [await account() for _ in range(args.slow)]
            for n, agent in enumerate(slow):
                await hook(agent, f"/slow{n}")
            for agent in slow:
                for m in range(args.backlog):
                    await send(sender, agent["id"], f"slow-{m}")
            await asyncio.sleep(0.5)  # the slow receivers now hold their attempts
            latencies = []
            for p in range(args.probes):
                body = f"probe-{p}"
                start = time.monotonic()
                await send(sender, fast["id"], body)
                while body not in arrived and time.monotonic() - start < 120:
                    landed.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(landed.wait(), 1.0)
                latencies.append(round(arrived.get(body, float("inf")) - start, 3))
    finally:
        server.stop()
        await runner.cleanup()
    return {
        "slow_accounts": args.slow,
        "backlog": args.backlog,
        "timeout_secs": args.timeout,
        "stall_secs": args.stall,
        "fast_latency_secs": latencies,
        "fast_latency_median_secs": statistics.median(latencies),
        "fast_latency_max_secs": max(latencies),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=16)
    parser.add_argument("--backlog", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--stall", type=float, default=9.5)
    parser.add_argument("--probes", type=int, default=5)
    parser.add_argument("--database-url", default="")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
