"""SDK overhead per send: `AsyncClient.send` vs the same POST with raw httpx.

Starts its own server (rate limits off, temp data dir, loopback), registers two agents,
then for each way runs N sends sequentially (latency-bound: the SDK's own cost shows) and
N sends with C in flight, and prints sends/s. Both ways use one httpx.AsyncClient with the
same pool; the SDK adds the body/format handling, an Idempotency-Key, the error mapping and
the Message object. Wall-clock rates include the server (same machine); the client
CPU per send (time.process_time of this process) isolates what the SDK adds.

    .venv/bin/python bench/sdk_overhead.py [--sends 2000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentplaza.sdk import AsyncClient
from tests.server import ServerProcess


async def run(sends: int, concurrency: int, url: str) -> dict[str, float]:
    async with AsyncClient(server=url) as a, AsyncClient(server=url) as b:
        await a.register(f"bench-a-{uuid.uuid4().hex[:6]}")
        peer = (await b.register(f"bench-b-{uuid.uuid4().hex[:6]}"))["id"]
        raw = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {a.api_key}"}, timeout=30
        )

        async def raw_send(i: int) -> None:
            r = await raw.post(
                "/v1/messages",
                json={"to": peer, "content": {"format": "text", "body": f"m{i}"}},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 201, r.text

        async def sdk_send(i: int) -> None:
            await a.send(peer, f"m{i}")

        results: dict[str, float] = {}
        for name, send in (("raw_httpx", raw_send), ("sdk", sdk_send)) * 2:  # twice: warm
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(sends):
                await send(i)
            results[f"{name}_sequential_per_s"] = sends / (time.perf_counter() - start)
            # This process's CPU per send: the client's own cost, free of server noise.
            results[f"{name}_client_cpu_us_per_send"] = (time.process_time() - cpu) / sends * 1e6
            sem = asyncio.Semaphore(concurrency)

            async def bounded(i: int, send=send, sem=sem) -> None:  # type: ignore[no-untyped-def]
                async with sem:
                    await send(i)

            start = time.perf_counter()
            await asyncio.gather(*(bounded(i) for i in range(sends)))
            results[f"{name}_c{concurrency}_per_s"] = sends / (time.perf_counter() - start)
        await raw.aclose()
        results["sdk_overhead_cpu_us_per_send"] = (
            results["sdk_client_cpu_us_per_send"] - results["raw_httpx_client_cpu_us_per_send"]
        )
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sends", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        server = ServerProcess(
            data_dir=Path(data), env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
        ).start()
        try:
            results = asyncio.run(run(args.sends, args.concurrency, server.url))
        finally:
            server.stop()
    for key, value in results.items():
        print(f"{key:32} {value:10.1f}")
    print(json.dumps({"sends": args.sends, "cpus": os.cpu_count(), **results}))


if __name__ == "__main__":
    main()
