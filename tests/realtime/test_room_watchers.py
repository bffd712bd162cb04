"""Room watchers on PostgreSQL's out-of-order commits: a post numbered below one already in a
watcher's history can still arrive, live or re-read after a bus RESYNC, and must not be lost."""

from __future__ import annotations

import json
from collections.abc import Sequence

from agentplaza.bus.base import RESYNC
from agentplaza.bus.memory import MemoryBus
from agentplaza.domain.rooms import LOBBY, RoomAgent, RoomPost
from agentplaza.realtime.rooms import RoomHub, Watcher
from agentplaza.services.rooms import encode_post, room_topic

AUTHOR = RoomAgent(
    account_id="10001",
    name="poster",
    avatar="",
    verified=False,
    moltbook_name=None,
    owner_twitter=None,
    last_seen_at_us=None,
)


def post(num: int) -> RoomPost:
    return RoomPost(num=num, room=LOBBY, author=AUTHOR, content=f"post {num}", created_at_us=0)


def ids_in(chunk: bytes | None) -> list[int]:
    assert chunk is not None
    return [
        int(json.loads(line[len(b"data: ") :])["data"]["id"])
        for line in chunk.split(b"\n")
        if line.startswith(b"data: ")
    ]


async def test_a_post_committed_after_a_higher_numbered_one_reaches_the_watcher() -> None:
    watcher = Watcher(LOBBY, "127.0.0.1")
    watcher.set_history([46, 47, 48, 50])  # 49 was not committed when the history was read
    for num in (47, 50, 49, 51, 45):
        watcher.push(num, f'data: {{"data": {{"id": "{num}"}}}}\n\n'.encode())
    # 47 and 50 were in the history; 45 is older than it; 49 and 51 are new to this client.
    assert ids_in(await watcher.next_chunk(1.0)) == [49, 51]


class FakeRooms:
    """The two reads RoomHub makes, from a list of stored posts."""

    def __init__(self, stored: Sequence[RoomPost]) -> None:
        self.stored = list(stored)

    async def history(self, room: str = LOBBY) -> list[RoomPost]:
        return self.stored[-100:]


async def test_a_resync_re_reads_posts_numbered_below_the_last_one_seen() -> None:
    bus = MemoryBus()
    await bus.start()
    stored = [post(n) for n in (1, 2, 3)]
    rooms = FakeRooms(stored)
    hub = RoomHub(bus, rooms)  # type: ignore[arg-type]
    watcher = hub.open(LOBBY, "127.0.0.1", max_per_ip=None)
    assert watcher is not None
    await hub.attach(watcher)
    watcher.set_history([1, 2])
    # Post 4 goes out live; post 3 (committed later, numbered lower) is lost on the bus.
    rooms.stored.append(post(4))
    hub.on_bus_event(room_topic(LOBBY), encode_post(post(4)))
    assert ids_in(await watcher.next_chunk(1.0)) == [4]
    hub.on_bus_event(RESYNC, b"")
    assert ids_in(await watcher.next_chunk(2.0)) == [3]  # not 1, 2 (history) nor 4 (seen)
    await hub.detach(watcher)
    await hub.stop()
    await bus.close()
