"""A contended group's sends are stored by one node, its home, whichever node they came
through (services/group_homes.py): the forwarded send answers as a local one would, its
refusals included, and a home that stops or dies hands its groups to the nodes left without a
send failing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.api.helpers import assert_error
from tests.api.test_groups import create_group, group_send, received
from tests.cluster.conftest import Cluster, clients
from tests.conftest import register
from tests.realtime.test_websocket import next_message, open_ws
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent

pytestmark = pytest.mark.slow
ENV = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
ROUTED = "agentplaza_group_sends_routed_total"
SERVED = "agentplaza_group_sends_served_total"
ANSWERED = 'outcome="answered"'


async def metric(http: httpx.AsyncClient, name: str, labels: str = "") -> float:
    """The value of one series of GET /metrics (0 when it is not there yet)."""
    response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    series = f"{name}{{{labels}}}" if labels else name
    for line in response.text.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[1])
    return 0.0


async def hear_each_other(*nodes: httpx.AsyncClient, count: int) -> None:
    deadline = time.monotonic() + 10.0
    for http in nodes:
        while await metric(http, "agentplaza_cluster_nodes") != count:
            assert time.monotonic() < deadline, "the nodes did not hear each other"
            await asyncio.sleep(0.1)


@asynccontextmanager
async def two_nodes(
    cluster_factory: Callable[..., Cluster],
) -> AsyncIterator[tuple[list[ServerProcess], list[httpx.AsyncClient]]]:
    """Two nodes that hear each other, and a client of each."""
    cluster = cluster_factory(**ENV)
    nodes = [cluster.start_node(), cluster.start_node()]
    async with clients(*nodes) as pair:
        await hear_each_other(*pair, count=2)
        yield nodes, pair


async def contended_home(
    pair: list[httpx.AsyncClient], sender: TestAgent, gid: str
) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
    """(the group's home, the other node), the group made contended: sends arrive at both
    nodes, and then the home stores what the other forwards (its served count grows)."""
    deadline = time.monotonic() + 20.0
    while True:
        served = [await metric(http, SERVED) for http in pair]
        for http in pair:  # arrivals at both nodes, reported within REPORT_INTERVAL_SECS
            assert (await group_send(http, sender, gid, "contend")).status_code == 201
        await asyncio.sleep(0.6)
        for http in pair:
            assert (await group_send(http, sender, gid, "probe")).status_code == 201
        grew = [
            await metric(http, SERVED) > before for http, before in zip(pair, served, strict=True)
        ]
        if any(grew):
            return (pair[0], pair[1]) if grew[0] else (pair[1], pair[0])
        assert time.monotonic() < deadline, "the group never went to its home"


@asynccontextmanager
async def chatter(
    home: httpx.AsyncClient, sender: TestAgent, gid: str, *, home_goes: bool = False
) -> AsyncIterator[None]:
    """Sends arriving at the home all along: the group stays contended (else the other node
    goes back to storing its own sends CONTENDED_SECS after the last report of them).
    `home_goes`: the home is stopped or killed meanwhile, which ends the chatter quietly."""

    async def chat() -> None:
        while True:
            try:
                response = await group_send(home, sender, gid, "chatter")
            except httpx.TransportError:
                if home_goes:
                    return
                raise
            if home_goes and response.status_code != 201:
                return
            assert response.status_code == 201, response.text
            await asyncio.sleep(0.1)

    task = asyncio.get_running_loop().create_task(chat())
    try:
        yield
    finally:
        task.cancel()
        (outcome,) = await asyncio.gather(task, return_exceptions=True)
    if outcome is not None and not isinstance(outcome, asyncio.CancelledError):  # None: ended
        raise AssertionError(f"a chatter send failed: {outcome!r}")


async def test_sends_through_both_nodes_are_stored_by_the_home_in_order_once(
    cluster_factory: Callable[..., Cluster],
) -> None:
    async with two_nodes(cluster_factory) as ((_, b), pair):
        owner, left, right, reader = [await register(pair[0]) for _ in range(4)]
        gid = (await create_group(pair[0], owner, [left, right, reader]))["id"]
        home, other = await contended_home(pair, owner, gid)
        served, answered = await metric(home, SERVED), await metric(other, ROUTED, ANSWERED)

        async def burst(sender: TestAgent, tag: str) -> list[str]:
            ids = []
            for n in range(30):  # alternating nodes: half of them forwarded
                response = await group_send(pair[n % 2], sender, gid, f"{tag}-{n}")
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            return ids

        async with open_ws(b, reader) as ws, chatter(home, owner, gid):
            await asyncio.sleep(0.3)  # B subscribed the bus for `reader`
            sent = await asyncio.gather(burst(left, "l-"), burst(right, "r-"))
            got = [await next_message(ws)]  # the backlog first, from seq 1
            while sum(m["content"]["body"][:2] in ("l-", "r-") for m in got) < 60:
                got.append(await next_message(ws))
        assert [m["seq"] for m in got] == list(range(1, len(got) + 1))
        for tag, ids in zip(("l-", "r-"), sent, strict=True):
            assert [m["id"] for m in got if m["content"]["body"].startswith(tag)] == ids
        history = await received(pair[1], reader)
        burst_ids = [m["id"] for m in history if m["content"]["body"][:2] in ("l-", "r-")]
        assert sorted(burst_ids) == sorted(sent[0] + sent[1])  # once each
        forwarded = await metric(other, ROUTED, ANSWERED) - answered
        assert await metric(home, SERVED) - served == forwarded >= 15
        assert await metric(home, ROUTED, ANSWERED) == 0
        assert await metric(other, ROUTED, 'outcome="unknown"') == 0


async def test_the_home_refuses_as_the_node_it_came_through_would(
    cluster_factory: Callable[..., Cluster],
) -> None:
    async with two_nodes(cluster_factory) as (_, pair):
        owner, member, outsider = [await register(pair[0]) for _ in range(3)]
        gid = (await create_group(pair[0], owner, [member]))["id"]
        home, other = await contended_home(pair, owner, gid)
        async with chatter(home, owner, gid):
            answered = await metric(other, ROUTED, ANSWERED)
            for http in (home, other):  # private group, not a member: it does not exist
                assert_error(await group_send(http, outsider, gid), 404, "group_not_found")
            muted = await home.post(f"/v1/groups/{gid}/mute/{member.id}", headers=owner.headers)
            assert muted.status_code == 200, muted.text
            for http in (home, other):
                assert_error(await group_send(http, member, gid), 403, "muted")
            # Both refusals through the other node came back from the home.
            assert await metric(other, ROUTED, ANSWERED) - answered == 2

            key = {"Idempotency-Key": "one-send"}
            content = {"content": {"format": "text", "body": "once"}}
            path = f"/v1/groups/{gid}/messages"
            first = await other.post(path, headers=owner.headers | key, json=content)
            again = await home.post(path, headers=owner.headers | key, json=content)
        assert first.status_code == 201, first.text
        assert again.status_code in (200, 201), again.text
        assert again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_a_home_that_goes_away_hands_its_groups_to_the_node_left(
    cluster_factory: Callable[..., Cluster], how: str
) -> None:
    async with two_nodes(cluster_factory) as (nodes, pair):
        owner, member = [await register(pair[0]) for _ in range(2)]
        gid = (await create_group(pair[0], owner, [member]))["id"]
        home, other = await contended_home(pair, owner, gid)
        gone = nodes[pair.index(home)]
        bodies = [f"after-{n}" for n in range(5)]
        async with chatter(home, owner, gid, home_goes=True):  # contended until the home goes
            await asyncio.sleep(0.3)
            if how == "stop":
                gone.stop()
            else:
                gone.kill()
            started = time.monotonic()
            for body in bodies:
                response = await group_send(other, owner, gid, body)
                assert response.status_code == 201, response.text
        # A stopped home says so at once; a killed one is missed within its announcements'
        # timeout (3.5 s) and the send waiting for it is stored here.
        assert time.monotonic() - started < (3 if how == "stop" else 8)
        await hear_each_other(other, count=1)
        got = [m["content"]["body"] for m in await received(other, member)]
        assert got[-5:] == bodies
        # A stopped home said "down": nothing waited for it. The first send after a kill
        # waited for the dead home, was given up on and stored here.
        assert await metric(other, ROUTED, 'outcome="unknown"') == (1 if how == "kill" else 0)
