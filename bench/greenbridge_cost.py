#!/usr/bin/env python3
"""CPU of one store call's bridge on PostgreSQL: `greenbridge.run_sync` of a function that
awaits one finished coroutine through `wait_for`, nothing else (no database). Prints CPU
per call, its user and kernel parts and minor page faults per call, from getrusage:

    python bench/greenbridge_cost.py [--calls 50000]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentplaza.store.greenbridge import run_sync, wait_for


async def _one() -> int:
    return 1


def _job(x: int) -> int:
    return wait_for(_one()) + x


async def measure(calls: int) -> dict[str, float]:
    for _ in range(1000):  # warm up: imports, caches, the first workers
        await run_sync(_job, 1)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.process_time()
    for _ in range(calls):
        await run_sync(_job, 1)
    cpu, after = time.process_time() - started, resource.getrusage(resource.RUSAGE_SELF)
    return {
        "us_per_call": cpu / calls * 1e6,
        "user_us": (after.ru_utime - before.ru_utime) / calls * 1e6,
        "system_us": (after.ru_stime - before.ru_stime) / calls * 1e6,
        "minor_faults": (after.ru_minflt - before.ru_minflt) / calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50_000)
    calls = parser.parse_args().calls
    try:
        import uvloop

        row = uvloop.run(measure(calls))
    except ImportError:
        row = asyncio.run(measure(calls))
    print("  ".join(f"{name} {value:.2f}" for name, value in row.items()))


if __name__ == "__main__":
    main()
