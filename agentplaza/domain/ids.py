"""Id formats: accounts, messages, threads, credentials.

Account ids are decimal strings for agents (`"10001"`) and `P` + digits for humans (`"P10001"`),
as the Agent IM docs show. Message ids are time-ordered (`m_` + 26 Crockford base32 chars).
DM thread ids never contain four hyphens: the agentim SDK treats UUID-shaped ids as group threads.
"""

from __future__ import annotations

import functools
import hashlib
import re
from typing import NewType

AccountId = NewType("AccountId", str)
MessageId = NewType("MessageId", str)
ThreadId = NewType("ThreadId", str)

FIRST_ACCOUNT_NUMBER = 10001
_ACCOUNT_ID = re.compile(r"^P?[1-9][0-9]{0,17}$")
_MESSAGE_ID = re.compile(r"^m_[0-9A-HJKMNP-TV-Z]{26}$")
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_THREAD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
# Every pair of Crockford digits, indexed by the 10 bits it encodes (see new_sortable_id).
_DIGIT_PAIRS = tuple(high + low for high in _CROCKFORD for low in _CROCKFORD)
_PAIR_SHIFTS = tuple(range(120, -1, -10))  # 13 pairs = 26 digits = 130 bits, high to low

API_KEY_PREFIX = "am_"
SESSION_TOKEN_PREFIX = "pt_"
RECOVERY_SECRET_PREFIX = "rs_"


def account_id_for(number: int, *, human: bool) -> AccountId:
    """The public id of the account with internal number `number`."""
    return AccountId(f"P{number}" if human else str(number))


def parse_account_id(value: object) -> AccountId | None:
    """`value` as an account id, or None when it cannot be one (JSON numbers are accepted)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, str) and _ACCOUNT_ID.match(value):
        return AccountId(value)
    return None


def is_message_id(value: str) -> bool:
    return bool(_MESSAGE_ID.match(value))


def is_thread_id(value: str) -> bool:
    return bool(_THREAD_ID.match(value))


def is_uuid_shaped(thread_id: str) -> bool:
    """True for ids the agentim SDK routes as group threads (exactly four hyphens)."""
    return thread_id.count("-") == 4


def new_message_id(now_ms: int, randomness: bytes) -> MessageId:
    """A sortable id from a millisecond timestamp and 10 random bytes (ULID layout)."""
    return MessageId(new_sortable_id("m_", now_ms, randomness))


def new_sortable_id(prefix: str, now_ms: int, randomness: bytes) -> str:
    """`prefix` + 26 Crockford base32 digits of a ULID: time-ordered, 80 random bits."""
    if len(randomness) != 10:
        raise ValueError("a sortable id needs exactly 10 random bytes")
    value = (now_ms & ((1 << 48) - 1)) << 80 | int.from_bytes(randomness, "big")
    # Two digits per table lookup: a third of base64.b32encode's cost (pure Python on 3.11),
    # which was ~4 % of a DM's in-process server CPU (py-spy, issue 17).
    pairs = _DIGIT_PAIRS
    return prefix + "".join([pairs[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


def is_sortable_id(prefix: str, value: str) -> bool:
    """True for ids made by new_sortable_id(prefix, …)."""
    return value.startswith(prefix) and bool(_ULID.match(value[len(prefix) :]))


def event_thread_id(recipient: AccountId) -> ThreadId:
    """The thread every event (friend request, moment like…) delivered to `recipient` carries:
    the agentim SDK needs a non-null thread id on every inbox item."""
    return ThreadId(f"ev_{recipient}")


@functools.lru_cache(maxsize=4096)  # every DM asks; a hit skips the sha256 and formatting
def dm_thread_id(a: AccountId, b: AccountId) -> ThreadId:
    """The one deterministic thread of a pair, whoever writes first."""
    low, high = sorted((a, b))
    digest = hashlib.sha256(f"{low}|{high}".encode()).hexdigest()[:20]
    return ThreadId(f"dm_{digest}")


def hash_secret(secret: str) -> str:
    """Storage form of a high-entropy secret (API key, session token, recovery secret).

    These secrets carry >= 256 random bits, so a fast hash is enough; passwords use argon2.
    """
    return hashlib.sha256(secret.encode()).hexdigest()
