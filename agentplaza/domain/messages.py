"""Messages: content rules, the stored message, and the shapes clients receive.

The delivered shape is the one the agentim SDK parses everywhere (pending, WS, sync, webhook):
`from` (not `sender_id`), nested `content.body`, an integer `seq`, a non-null `thread_id`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from agentplaza.domain.clock import iso_from_us
from agentplaza.domain.errors import ErrorCode, Invalid
from agentplaza.domain.ids import AccountId, MessageId, ThreadId, is_message_id

IDEMPOTENCY_KEY_MAX_CHARS = 128


class MessageFormat(StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    JSON = "json"
    IMAGE = "image"


class MessageType(StrEnum):
    REQUEST = "request"
    RESPONSE = "response"
    EVENT = "event"
    """A notification delivered through the inbox (friend request, moment like…): its body is
    a JSON object whose keys, `type` among them, are the delivered object's top-level keys."""


class Scene(StrEnum):
    DM = "dm"
    GROUP = "group"


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    id: MessageId
    sender_id: AccountId
    recipient_id: AccountId | None
    thread_id: ThreadId
    reply_to: MessageId | None
    type: MessageType
    format: MessageFormat
    body: str
    created_at_us: int
    signature: str | None = None
    """Hex DER ECDSA signature over the UTF-8 body, verified before storing (docs/signatures.md)."""
    signer_public_key: str | None = None
    """The PEM key `signature` was verified with: the sender may change its key later."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryContext:
    """Server-computed security context of one delivery; never settable by the sender."""

    recipient_id: AccountId
    scene: Scene
    sender_relation: str
    trust_level: str
    intent: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class InboxItem:
    """One message in one recipient's inbox, at that recipient's `seq`."""

    message: Message
    context: DeliveryContext
    seq: int
    acked: bool


_FORMATS: dict[object, MessageFormat] = {f.value: f for f in MessageFormat}
"""Format by name: a dict look-up is a tenth of `MessageFormat(fmt)`'s cost (0.05 vs 0.7 µs)."""


def validate_content(fmt: str, body: Any, *, max_bytes: int) -> tuple[MessageFormat, str]:
    """The (format, body) to store; the body is kept byte-exact when it is a string."""
    message_format = _FORMATS.get(fmt) if isinstance(fmt, str) else None
    if message_format is None:
        allowed = ", ".join(f.value for f in MessageFormat)
        raise Invalid(f"content.format must be one of: {allowed}", ErrorCode.INVALID_CONTENT)
    if isinstance(body, dict | list) and message_format is MessageFormat.JSON:
        body = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    if not isinstance(body, str):
        raise Invalid("content.body must be a string", ErrorCode.INVALID_CONTENT)
    if not body:
        raise Invalid("content.body must not be empty", ErrorCode.INVALID_CONTENT)
    if "\x00" in body:  # PostgreSQL text cannot hold it; refused on every engine alike
        raise Invalid(
            "content.body may not contain NUL (U+0000) characters", ErrorCode.INVALID_CONTENT
        )
    try:
        size = len(body.encode("utf-8"))
    except UnicodeEncodeError:  # a lone surrogate (`"\ud800"` in the JSON) is not storable text
        raise Invalid("content.body is not valid Unicode text", ErrorCode.INVALID_CONTENT) from None
    if size > max_bytes:
        raise Invalid(f"content.body is larger than {max_bytes} bytes", ErrorCode.INVALID_CONTENT)
    if message_format is MessageFormat.JSON:
        _require_json(body)
    elif message_format is MessageFormat.IMAGE:
        _require_image(body)
    return message_format, body


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _require_json(body: str) -> Any:
    try:
        # parse_constant: Python accepts NaN/Infinity, JSON (RFC 8259) and other parsers do not.
        return json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise Invalid(
            "content.body must be valid JSON for format json", ErrorCode.INVALID_CONTENT
        ) from None


def _require_image(body: str) -> None:
    try:
        image = json.loads(body, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        image = None
    url = image.get("url") if isinstance(image, dict) else None
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise Invalid(
            'image body must be JSON {"url": "<absolute http(s) URL>", ...}',
            ErrorCode.INVALID_CONTENT,
        )


def parse_message_type(raw: str | None, reply_to: str | None) -> MessageType:
    """The sender's `type`: request or response (a reply by default); never an event."""
    if not raw:
        return MessageType.RESPONSE if reply_to else MessageType.REQUEST
    if raw not in (MessageType.REQUEST, MessageType.RESPONSE):
        raise Invalid("type must be `request` or `response`")
    return MessageType(raw)


def parse_reply_to(raw: str | None) -> MessageId | None:
    if not raw:
        return None
    if not is_message_id(raw):
        raise Invalid("reply_to must be a message id", ErrorCode.INVALID_ID)
    return MessageId(raw)


def validate_idempotency_key(key: str) -> str:
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX_CHARS or not key.isprintable():
        raise Invalid(f"idempotency key must be 1-{IDEMPOTENCY_KEY_MAX_CHARS} printable characters")
    return key


def message_view(message: Message) -> dict[str, Any]:
    """The message as its sender (or a thread reader) sees it: no per-recipient fields."""
    # `_value_`, not `.value`: the enum's `value` is a Python-level property, ~10x slower,
    # and a DM renders this view twice (its response and its delivery).
    view: dict[str, Any] = {
        "id": message.id,
        "type": message.type._value_,
        "from": message.sender_id,
        "content": {"format": message.format._value_, "body": message.body},
        "thread_id": message.thread_id,
        "created_at": iso_from_us(message.created_at_us),
    }
    if message.recipient_id is not None:
        view["to"] = message.recipient_id
    elif message.thread_id.count("-") == 4:  # a group message: its thread is the group
        view["group_id"] = message.thread_id
    if message.reply_to is not None:
        view["reply_to"] = message.reply_to
    if message.signature is not None:
        # Only verified signatures are stored, so `signature_verified` is always true here;
        # the key is the one it was verified with, for a recipient that checks it again.
        view["signature"] = message.signature
        view["signature_verified"] = True
        view["sender_public_key"] = message.signer_public_key
    return view


RECIPIENT_KEYS = ("to", "seq", "scene", "sender_relation", "trust_level", "intent")
"""The keys of a delivered object that differ between the recipients of one message."""


def recipient_fields(item: InboxItem) -> dict[str, Any]:
    """What one recipient's copy of a message adds: its seq and security context."""
    ctx = item.context
    fields: dict[str, Any] = {
        "to": ctx.recipient_id,
        "seq": item.seq,
        "scene": ctx.scene._value_,  # not `.value`: see message_view
        "sender_relation": ctx.sender_relation,
        "trust_level": ctx.trust_level,
    }
    if ctx.intent is not None:
        fields["intent"] = ctx.intent
    return fields


def delivery_view(item: InboxItem) -> dict[str, Any]:
    """The message as one recipient receives it, with its `seq` and security context."""
    view = message_view(item.message)
    if item.message.type is MessageType.EVENT:
        # The agentim SDK reads an event's fields at the top level (`type`, `requester`…).
        view.update(json.loads(item.message.body))
    view.update(recipient_fields(item))
    return view


def ai_message_fields(message: Message) -> dict[str, Any]:
    """seeds/000's message: `from_ai_id`, `content` (a string), a unix `timestamp`, `to_ai_id`
    or, for a group message, `group_id`, and the `signature` when it was signed (stored only
    once verified). The /ai dialect and /ai webhooks add their own fields to it."""
    view: dict[str, Any] = {
        "id": message.id,
        "from_ai_id": message.sender_id,
        "content": message.body,
        "timestamp": message.created_at_us // 1_000_000,
    }
    if message.recipient_id is not None:
        view["to_ai_id"] = message.recipient_id
    else:  # a group message: its thread is the group
        view["group_id"] = message.thread_id
    if message.signature is not None:
        view["signature"] = message.signature
    return view
