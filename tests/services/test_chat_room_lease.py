"""The floor lease of a studio chat room (store/queries/chat_rooms.py): one node at a time
runs a room's agents; a lapsed lease may be taken over, and the old holder can no longer save
the floor. Time moves by the test's clock."""

from __future__ import annotations

from agentplaza.domain.chat_rooms import ChatRoom, NewChatMessage
from agentplaza.domain.floor import FloorRules, FloorState, PauseReason, SenderType
from agentplaza.services.registry import Services
from tests.services.conftest import Clock

LEASE_US = 60_000_000


async def test_one_node_at_a_time_and_takeover_after_the_lease(
    services: Services, clock: Clock
) -> None:
    store = services.runtime.store
    room = await store.create_chat_room(
        "room_lease", "P1", "r", "", FloorRules(), [], now_us=clock.clock_us()
    )
    assert room.floor_seq == 0 and room.floor_lease_until_us is None

    async def claim(node: str) -> ChatRoom | None:
        return await store.claim_chat_room_floor(
            room.id, node, now_us=clock.clock_us(), lease_us=LEASE_US
        )

    held = await claim("a")
    assert held is not None and held.floor_lease_until_us == clock.clock_us() + LEASE_US
    assert await claim("b") is None
    assert await claim("a") is not None  # the holder renews
    paused = FloorState(paused=True, pause_reason=PauseReason.LOOP)
    assert not await store.save_chat_room_floor(room.id, "b", paused, 1, now_us=clock.clock_us())

    clock.advance(LEASE_US / 1_000_000 + 1)
    assert await claim("b") is not None  # a lapsed lease is taken over
    assert not await store.save_chat_room_floor(room.id, "a", paused, 1, now_us=clock.clock_us())
    await store.release_chat_room_floor(room.id, "a")  # not a's to release: no effect
    assert await claim("a") is None
    assert await store.save_chat_room_floor(room.id, "b", paused, 1, now_us=clock.clock_us())
    await store.release_chat_room_floor(room.id, "b")
    again = await claim("a")
    assert again is not None
    assert again.floor == paused and again.floor_seq == 1


async def test_seqs_count_per_room_and_deleting_a_room_deletes_its_messages(
    services: Services, clock: Clock
) -> None:
    store = services.runtime.store
    for rid in ("room_one", "room_two"):
        await store.create_chat_room(rid, "P1", "r", "", FloorRules(), ["10001"], now_us=1)
    seqs = []
    for i, rid in enumerate(("room_one", "room_two", "room_one")):
        message = await store.append_chat_room_message(
            rid,
            f"rm_{i}",
            NewChatMessage(
                sender_type=SenderType.AGENT,
                sender_id="10001",
                sender_name="x",
                content="hi",
                tokens=7,
            ),
            now_us=clock.clock_us(),
        )
        assert message is not None
        seqs.append(message.seq)
    assert seqs == [1, 1, 2]
    missing = NewChatMessage(
        sender_type=SenderType.USER, sender_id="P1", sender_name="p", content="x"
    )
    assert await store.append_chat_room_message("room_gone", "rm_x", missing, now_us=1) is None
    page, total = await store.chat_room_messages("room_one", offset=0, limit=10)
    assert total == 2 and [m.seq for m in page] == [1, 2]
    assert await store.delete_chat_room("room_one")
    assert await store.chat_room_messages("room_one", offset=0, limit=10) == ([], 0)
