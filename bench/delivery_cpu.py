#!/usr/bin/env python3
"""CPU per delivery of the delivery side alone: Publisher.publish -> bus -> Hub -> sinks.

One process publishes group messages (or DMs) with services/publishing.py's Publisher on a real
bus and receives them with realtime/hub.py's Hub, into sinks that only count: no store, no
HTTP, no WebSocket. Prints this process's CPU (time.process_time) per delivery and, with
--broker-pid, the broker's (its /proc utime + stime, so run a broker of your own):

    redis-server --port 8249 --save '' --daemonize yes --pidfile /tmp/r.pid
    python bench/delivery_cpu.py --bus-url redis://127.0.0.1:8249/0 --broker-pid $(cat /tmp/r.pid)
    python bench/delivery_cpu.py --kind dm --senders 10 --messages 20000 --members 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agentplaza.bus import open_bus
from agentplaza.cluster.memory import MemoryClusterState
from agentplaza.domain import ids
from agentplaza.domain.credentials import Credential
from agentplaza.domain.envelopes import Envelope
from agentplaza.domain.ids import AccountId, ThreadId
from agentplaza.domain.messages import (
    DeliveryContext,
    InboxItem,
    Message,
    MessageFormat,
    MessageType,
    Scene,
)
from agentplaza.realtime.hub import Hub
from agentplaza.services.publishing import Publisher

T0 = 1_800_000_000_000_000


class Tally:
    """Deliveries pushed to every sink; `done` is set at `expected`."""

    def __init__(self) -> None:
        self.count = 0
        self.expected = -1
        self.done = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        if self.count == self.expected:
            self.done.set()


class CountingSink:
    transport = "count"
    credential: Credential | None = None

    def __init__(self, account_id: AccountId, tally: Tally) -> None:
        self.account_id = account_id
        self._tally = tally

    def push(self, envelope: Envelope) -> None:
        self._tally.add()

    async def resync(self) -> None:
        pass

    def heartbeat(self) -> None:
        pass

    async def close(self, reason: str) -> None:
        pass

    def revoke(self) -> None:
        pass


def batches(kind: str, messages: int, accounts: list[AccountId]) -> list[list[InboxItem]]:
    sender = AccountId("99999")
    out = []
    for n in range(messages):
        to = accounts[1:] if kind == "group" else [accounts[n % len(accounts)]]
        message = Message(
            id=ids.new_message_id(T0 // 1000 + n, os.urandom(10)),
            sender_id=sender,
            recipient_id=None if kind == "group" else to[0],
            thread_id=ids.dm_thread_id(sender, to[0]) if kind == "dm" else ThreadId("g1234567890"),
            reply_to=None,
            type=MessageType.REQUEST,
            format=MessageFormat.TEXT,
            body="hello " + "x" * 100,
            created_at_us=T0 + n,
        )
        scene = Scene.GROUP if kind == "group" else Scene.DM
        out.append(
            [
                InboxItem(
                    message=message,
                    context=DeliveryContext(
                        recipient_id=a, scene=scene, sender_relation="member", trust_level="minimal"
                    ),
                    seq=n + 1,
                    acked=False,
                )
                for a in to
            ]
        )
    return out


def broker_ticks(pid: int | None) -> int:
    if pid is None:
        return 0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


async def run(args: argparse.Namespace) -> None:
    bus = open_bus(args.bus_url, namespace=args.namespace)
    await bus.start()
    hub = Hub(bus, MemoryClusterState(), heartbeat_interval_secs=3600)
    await hub.start()
    accounts = [AccountId(str(10001 + n)) for n in range(args.members)]
    tally = Tally()
    sinks = [CountingSink(a, tally) for a in accounts]
    for sink in sinks:
        await hub.attach(sink)
    runtime: Any = SimpleNamespace(bus=bus, monotonic=time.monotonic)
    publisher = Publisher(runtime, committed=lambda _: None)
    work = batches(args.kind, args.messages, accounts)
    total = tally.expected = sum(len(b) for b in work)

    async def sender(first: int) -> None:
        for batch in work[first :: args.senders]:
            await publisher.publish(batch)

    await asyncio.sleep(0.2)
    ticks, cpu, wall = broker_ticks(args.broker_pid), time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender(k) for k in range(args.senders)))
    await tally.done.wait()
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    ticks = broker_ticks(args.broker_pid) - ticks
    print(
        f"{args.kind} senders={args.senders} deliveries={total}"
        f" node_us={cpu / total * 1e6:.2f} broker_us={ticks * 1e4 / total:.2f}"
        f" wall_us={wall / total * 1e6:.2f}"
    )
    await hub.stop()
    await bus.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--bus-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--namespace", default=f"delivery-cpu-{os.getpid()}")
    p.add_argument("--broker-pid", type=int, default=None)
    p.add_argument("--kind", choices=["group", "dm"], default="group")
    p.add_argument("--members", type=int, default=50, help="group size, or DM recipients")
    p.add_argument("--senders", type=int, default=1, help="concurrent publish loops")
    p.add_argument("--messages", type=int, default=2000)
    args = p.parse_args()
    try:
        import uvloop

        uvloop.run(run(args))
    except ImportError:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
