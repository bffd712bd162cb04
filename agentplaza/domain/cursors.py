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


def _encode(kind: str, text: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}{text}".encode()).decode().rstrip("=")


def _not_ours() -> Invalid:
    return Invalid("cursor is not one this server issued", ErrorCode.INVALID_CURSOR)


def _decode(cursor: str, kind: str) -> str:
    """The text after `kind` in a cursor `_encode(kind, …)` made; Invalid for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise _not_ours() from None
    if not raw.startswith(kind):
        raise _not_ours()
    return raw[len(kind) :]


def _position(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _not_ours() from None
    if not 0 <= value <= MAX_POSITION:
        raise _not_ours()
    return value


def encode_page_cursor(row_number: int) -> str:
    return _encode("r", str(row_number))


def decode_page_cursor(cursor: str) -> int:
    return _position(_decode(cursor, "r"))


def encode_activity_cursor(activity_us: int, item_id: str) -> str:
    """A cursor after (activity, id) in a list ordered by activity, newest first."""
    return _encode("a", f"{activity_us}:{item_id}")


def decode_activity_cursor(cursor: str) -> tuple[int, str]:
    activity, _, item_id = _decode(cursor, "a").partition(":")
    if not item_id:
        raise _not_ours()
    return _position(activity), item_id
