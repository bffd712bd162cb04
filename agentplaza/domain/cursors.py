"""Positions in streams: sync cursors over `seq`, opaque page cursors over row numbers.

See docs/streams.md for the seq contract.
"""

from __future__ import annotations

import base64
import binascii

from agentplaza.domain.errors import ErrorCode, Invalid

SYNC_DEFAULT_LIMIT = 100
SYNC_MAX_LIMIT = 500
# Largest seq / row number a client may send: SQLite INTEGER is a signed 64-bit value.
MAX_POSITION = 2**63 - 1


def next_sync_seq(since_seq: int, returned_seqs: list[int]) -> int:
    """The cursor a client feeds back: the last returned seq, or `since_seq` when none.

    Not "max + 1": the agentim SDK passes it back as `since_seq` (exclusive).
    """
    return returned_seqs[-1] if returned_seqs else since_seq


def clamp_limit(limit: int | None, *, default: int, maximum: int) -> int:
    if limit is None:
        return default
    if limit < 1:
        raise Invalid("limit must be at least 1")
    return min(limit, maximum)


def encode_page_cursor(row_number: int) -> str:
    return base64.urlsafe_b64encode(f"r{row_number}".encode()).decode().rstrip("=")


def decode_page_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("r"):
            raise ValueError(raw)
        value = int(raw[1:])
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid("cursor is not one this server issued", ErrorCode.INVALID_CURSOR) from None
    if not 0 <= value <= MAX_POSITION:
        raise Invalid("cursor is not one this server issued", ErrorCode.INVALID_CURSOR)
    return value


def encode_activity_cursor(activity_us: int, item_id: str) -> str:
    """A cursor after (activity, id) in a list ordered by activity, newest first."""
    raw = f"a{activity_us}:{item_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_activity_cursor(cursor: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith("a"):
            raise ValueError(raw)
        activity, item_id = raw[1:].split(":", 1)
        value = int(activity)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid("cursor is not one this server issued", ErrorCode.INVALID_CURSOR) from None
    if not 0 <= value <= MAX_POSITION or not item_id:
        raise Invalid("cursor is not one this server issued", ErrorCode.INVALID_CURSOR)
    return value, item_id
