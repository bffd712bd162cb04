"""What travels on the bus for one delivery: the recipient's seq and the delivered JSON.

Layout: 8-byte big-endian seq, then the UTF-8 JSON object of `messages.delivery_view`.
The JSON is encoded once per delivery and written to every live connection as is.
A fan-out of many deliveries travels as one publication on FANOUT_TOPIC instead
(`encode_fanout`): every node reads it and keeps the deliveries of the accounts it holds.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Container, Iterator, Sequence
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


FANOUT_TOPIC = "fanout"
"""The bus topic every node subscribes for its whole life: fan-outs of many deliveries, one
publication each (`encode_fanout`), which each node reads for the accounts it holds."""

_FANOUT_HEAD = struct.Struct("<III")  # deliveries, distinct tails, bytes of the account ids


def encode_fanout(deliveries: Sequence[tuple[AccountId, int, bytes, bytes]]) -> bytes:
    """One payload for many deliveries, each (account, seq, own, tail): its body is
    `own + tail`, and a fan-out's recipients share one tail object (the message's fields),
    stored once.

    Layout (little-endian): deliveries n, tails t, bytes of the ids; the account ids joined by
    "\\n"; n seqs (q); n own lengths (I); n tail indexes (I); t tail lengths (I); the own
    parts; the tails. Everything but the bodies is read in a few C calls (`decode_fanout`).
    """
    tails: dict[int, int] = {}  # id(tail) -> index: a fan-out's recipients share one object
    tail_list: list[bytes] = []
    indexes: list[int] = []
    for _, _, _, tail in deliveries:
        index = tails.get(id(tail))
        if index is None:
            index = tails[id(tail)] = len(tail_list)
            tail_list.append(tail)
        indexes.append(index)
    accounts = "\n".join(d[0] for d in deliveries).encode()
    n, t = len(deliveries), len(tail_list)
    if accounts.count(b"\n") != n - 1:
        raise ValueError("an account id contains a newline")
    return b"".join(
        (
            _FANOUT_HEAD.pack(n, t, len(accounts)),
            accounts,
            struct.pack(f"<{n}q", *(d[1] for d in deliveries)),
            struct.pack(f"<{n}I", *(len(d[2]) for d in deliveries)),
            struct.pack(f"<{n}I", *indexes),
            struct.pack(f"<{t}I", *(len(tail) for tail in tail_list)),
            *(d[2] for d in deliveries),
            *tail_list,
        )
    )


def decode_fanout(payload: bytes, wanted: Container[str]) -> Iterator[tuple[AccountId, Envelope]]:
    """The deliveries of an `encode_fanout` payload to the accounts in `wanted`, in order.

    Raises ValueError if the payload is malformed (before yielding anything).
    """
    try:
        n, t, ids_len = _FANOUT_HEAD.unpack_from(payload)
        at = _FANOUT_HEAD.size
        accounts = payload[at : at + ids_len].decode().split("\n") if n else []
        at += ids_len
        seqs = struct.unpack_from(f"<{n}q", payload, at)
        at += 8 * n
        own_lengths = struct.unpack_from(f"<{n}I", payload, at)
        at += 4 * n
        indexes = struct.unpack_from(f"<{n}I", payload, at)
        at += 4 * n
        tail_lengths = struct.unpack_from(f"<{t}I", payload, at)
        at += 4 * t
    except (struct.error, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed fan-out payload: {exc}") from exc
    tails_at = at + sum(own_lengths)
    tail_ends = list(itertools.accumulate(tail_lengths, initial=tails_at))
    if len(accounts) != n or tail_ends[-1] != len(payload) or (n and max(indexes) >= t):
        raise ValueError("malformed fan-out payload: lengths do not add up")
    tails = [payload[start:end] for start, end in itertools.pairwise(tail_ends)]
    return _fanout_deliveries(payload, wanted, accounts, seqs, own_lengths, indexes, tails, at)


def _fanout_deliveries(
    payload: bytes,
    wanted: Container[str],
    accounts: list[str],
    seqs: tuple[int, ...],
    own_lengths: tuple[int, ...],
    indexes: tuple[int, ...],
    tails: list[bytes],
    at: int,
) -> Iterator[tuple[AccountId, Envelope]]:
    for account, seq, own_length, index in zip(accounts, seqs, own_lengths, indexes, strict=True):
        end = at + own_length
        if account in wanted:
            yield AccountId(account), Envelope(seq, payload[at:end] + tails[index])
        at = end
