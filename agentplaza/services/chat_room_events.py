"""The events of studio chat rooms: stored messages and what watchers are told, on the bus.

Every event is published under `studio_room_topic(room_id)` as the JSON frame
`{"type", "data"}` that WebSocket clients receive as is (and SSE clients as `event: type`,
`data: data`), so watchers on every node see it: realtime/studio_rooms.py fans them out.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from agentplaza.bus.base import BusError
from agentplaza.domain import chat_rooms as rules
from agentplaza.domain.chat_rooms import ChatRoomMessage, NewChatMessage
from agentplaza.domain.errors import NotFound
from agentplaza.domain.ids import new_sortable_id
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)

STUDIO_ROOM_TOPIC_PREFIX = "studio_room."
IDLE = "floor_idle"
"""An internal event (never sent to clients): the room's floor went quiet having answered
every message up to `data.floor_seq`; the SSE send ends on it."""
LAST_SEQ = 2**62
"""An IDLE `floor_seq` past every message: the room is gone."""


def studio_room_topic(room_id: str) -> str:
    return STUDIO_ROOM_TOPIC_PREFIX + room_id


def encode_event(kind: str, data: dict[str, Any]) -> bytes:
    """The frame every client gets: `{"type": kind, "data": data}`."""
    frame = {"type": kind, "data": data}
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()


class RoomEvents:
    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime

    async def append(self, room_id: str, new: NewChatMessage) -> ChatRoomMessage:
        """Store a message (committed on return), then publish it as a `message` event."""
        now = self._rt.clock_us()
        message_id = new_sortable_id("rm_", now // 1000, self._rt.random_bytes(10))
        message = await self._rt.store.append_chat_room_message(
            room_id, message_id, new, now_us=now
        )
        if message is None:
            raise NotFound(f"no chat room {room_id[:64]!r}")
        await self.publish(room_id, "message", rules.message_json(message))
        return message

    async def publish(self, room_id: str, kind: str, data: dict[str, Any]) -> None:
        """Tell the room's watchers on every node (best effort: the store holds the messages;
        a watcher that missed one sees it in its next history)."""
        try:
            await self._rt.bus.publish(studio_room_topic(room_id), encode_event(kind, data))
        except BusError:
            log.warning("chat room %s: %s event not published: bus unavailable", room_id, kind)
