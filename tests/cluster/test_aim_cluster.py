"""AIM TCP in a cluster: an AIM connection on one node gets what is sent through another, and
`--workers N` processes all serve the AIM port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable

import pytest

from tests.api.helpers import send
from tests.cluster.conftest import Cluster, clients
from tests.conftest import register
from tests.realtime.aimclient import ACK, ERROR, MESSAGE, sdk_connection, sdk_frame
from tests.realtime.test_aim import metric, pending
from tests.server import AIM_HOST, free_port

pytestmark = pytest.mark.slow
NO_LIMITS = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}


async def test_aim_client_on_b_gets_what_is_sent_through_a(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(**NO_LIMITS)
    a = cluster.start_node()  # 127.0.0.2, no AIM
    b = cluster.start_node(host=AIM_HOST, aim_port=free_port(AIM_HOST))
    async with clients(a) as (via_a,):
        sender, receiver = await register(via_a), await register(via_a)
        offline = [await send(via_a, sender, receiver, f"offline-{i}") for i in range(3)]
        conn = await sdk_connection(b, receiver.api_key)
        try:
            backlog = [await sdk_frame(conn) for _ in offline]
            assert [f["payload"]["id"] for f in backlog] == [m["id"] for m in offline]
            await asyncio.sleep(0.3)  # B subscribed the bus for `receiver`
            live = [await send(via_a, sender, receiver, f"live-{i}") for i in range(20)]
            got = [await sdk_frame(conn) for _ in live]
            assert [f["type"] for f in got] == [MESSAGE] * 20
            assert [f["payload"]["id"] for f in got] == [m["id"] for m in live]
            seqs = [f["payload"]["seq"] for f in backlog + got]
            assert seqs == list(range(seqs[0], seqs[0] + 23))

            # And the other way: a send over AIM on B is pending for its recipient on A.
            ack = await asyncio.wait_for(conn.send_message(sender.id, "via aim on b"), 5)
            assert ack["type"] == ACK
            assert [m["id"] for m in await pending(via_a, sender)] == [ack["payload"]["id"]]

            # Rotating the key through A ends the AIM connection on B.
            rotated = await via_a.post("/v1/agents/me/rotate-key", headers=receiver.headers)
            assert rotated.status_code == 200, rotated.text
            revoked = await sdk_frame(conn)
            assert (revoked["type"], revoked["payload"]["code"]) == (ERROR, "invalid_credentials")
            with pytest.raises(asyncio.IncompleteReadError):
                await sdk_frame(conn)
        finally:
            conn.close()


async def test_every_worker_serves_the_aim_port(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(AGENTPLAZA_WORKERS="2", AGENTPLAZA_LOG_LEVEL="info", **NO_LIMITS)
    srv = cluster.start_node(host=AIM_HOST, aim_port=free_port(AIM_HOST))
    deadline = time.monotonic() + 10
    while srv.log().count("AIM TCP listening on") < 2:  # both workers bound it
        assert time.monotonic() < deadline and "is taken" not in srv.log(), srv.log()
        await asyncio.sleep(0.1)
    async with clients(srv) as (http,):
        sender = await register(http)
        receivers = [await register(http) for _ in range(8)]
        conns = [await sdk_connection(srv, r.api_key) for r in receivers]
        try:
            await asyncio.sleep(0.3)
            for r, conn in zip(receivers, conns, strict=True):
                body = uuid.uuid4().hex
                await send(http, sender, r, body)
                frame = await sdk_frame(conn)
                assert frame["payload"]["content"]["body"] == body
            # Whichever worker answers the scrape sums both workers' connections (each
            # publishes its gauge every 2 s).
            deadline = time.monotonic() + 10
            while True:
                text = (await http.get("/metrics")).text
                if metric(text, "agentplaza_connections", transport="aim") == len(conns):
                    break
                assert time.monotonic() < deadline, text
                await asyncio.sleep(0.5)
        finally:
            for conn in conns:
                conn.close()
