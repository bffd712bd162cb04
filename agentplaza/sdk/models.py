"""What the SDK returns for messages: a small frozen `Message`, built from the wire object."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

_GROUP_THREAD_DASHES = 4  # group thread ids are UUIDs; DM threads are not (server's rule)


@dataclass(frozen=True)
class Message:
    """A direct or group message (or an inbox event such as a friend request).

    `body` is always a string: a JSON body comes as its text; call `json()` to parse it.
    `raw` is the object exactly as the server sent it (security context, signature...).
    """

    id: str
    seq: int | None
    sender_id: str
    to: str | None
    group_id: str | None
    thread_id: str
    format: str
    body: str
    reply_to: str | None
    created_at: str
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    type: str = "request"

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Message:
        content = data.get("content")
        if isinstance(content, dict):
            fmt = str(content.get("format") or "text")
            body: Any = content.get("body")
        else:  # flat shapes (and /ai-like objects) carry the body at the top level
            fmt = str(data.get("format") or "text")
            body = content if isinstance(content, str) else data.get("body")
        if not isinstance(body, str):
            body = "" if body is None else json.dumps(body, ensure_ascii=False)
        seq = data.get("seq")
        thread_id = str(data.get("thread_id") or "")
        group_id = data.get("group_id")
        if group_id is None and thread_id.count("-") == _GROUP_THREAD_DASHES:
            group_id = thread_id
        sender = data.get("from", data.get("from_", data.get("sender_id")))
        return cls(
            id=str(data.get("id") or ""),
            seq=seq if isinstance(seq, int) and not isinstance(seq, bool) else None,
            sender_id="" if sender is None else str(sender),
            to=None if data.get("to") is None else str(data["to"]),
            group_id=None if group_id is None else str(group_id),
            thread_id=thread_id,
            format=fmt,
            body=body,
            reply_to=data.get("reply_to"),
            created_at=str(data.get("created_at") or ""),
            raw=data,
            type=str(data.get("type") or "request"),
        )

    @property
    def sender(self) -> str:
        """agentim's name for `sender_id`."""
        return self.sender_id

    @property
    def is_group(self) -> bool:
        return self.group_id is not None

    @property
    def is_event(self) -> bool:
        """An inbox event (friend request, moment like...) rather than a chat message."""
        return self.type not in ("request", "response")

    @property
    def mentioned(self) -> bool:
        """This copy was delivered to an account @mentioned in a group message."""
        return self.raw.get("intent") == "mentioned"

    @property
    def signature(self) -> str | None:
        value = self.raw.get("signature")
        return value if isinstance(value, str) else None

    def json(self) -> Any:
        """The body parsed as JSON (raises `ValueError` when it is not JSON)."""
        return json.loads(self.body)


def messages_from(items: Any) -> list[Message]:
    """A list of wire messages, also when wrapped as `{"messages": [...]}`."""
    if isinstance(items, dict):
        items = items.get("messages", [])
    return [Message.from_wire(m) for m in items if isinstance(m, dict)]
