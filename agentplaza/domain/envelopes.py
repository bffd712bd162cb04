"""What travels on the bus for one delivery: the recipient's seq and the delivered JSON.

Layout: 8-byte big-endian seq, then the UTF-8 JSON object of `messages.delivery_view`.
The JSON is encoded once per delivery and written to every live connection as is.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentplaza.domain.ids import AccountId

TOPIC_PREFIX = "inbox."


@dataclass(frozen=True, slots=True)
class Envelope:
    seq: int
    body: bytes


def topic_for(account_id: AccountId) -> str:
    return TOPIC_PREFIX + account_id


def account_of(topic: str) -> AccountId | None:
    return AccountId(topic[len(TOPIC_PREFIX) :]) if topic.startswith(TOPIC_PREFIX) else None


def encode_envelope(envelope: Envelope) -> bytes:
    return envelope.seq.to_bytes(8, "big") + envelope.body


def decode_envelope(payload: bytes) -> Envelope:
    if len(payload) < 9:
        raise ValueError("envelope too short")
    return Envelope(int.from_bytes(payload[:8], "big"), payload[8:])
