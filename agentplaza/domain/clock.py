"""Time as the domain sees it: integer microseconds since the epoch, rendered as ISO-8601 UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from agentplaza.domain.errors import ErrorCode, Invalid

_last_second: list[tuple[int, str]] = [(-1, "")]


def iso_from_us(us: int) -> str:
    """Fixed-width `YYYY-MM-DDTHH:MM:SS.mmmZ`, so text order is time order."""
    seconds, micros = divmod(us, 1_000_000)
    cached_second, prefix = _last_second[0]
    if seconds != cached_second:
        # Every message of the same second shares the prefix; formatting it is the slow part.
        prefix = datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        _last_second[0] = (seconds, prefix)
    return f"{prefix}{micros // 1000:03d}Z"


def us_from_iso(text: str) -> int:
    """Parse an ISO-8601 timestamp (naive means UTC) into microseconds."""
    try:
        dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise Invalid(
            f"not an ISO-8601 timestamp: {text[:64]!r}", ErrorCode.INVALID_CURSOR
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1_000_000)
