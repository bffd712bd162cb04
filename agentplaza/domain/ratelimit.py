"""Token-bucket arithmetic for rate limits (pure; the caller keeps the buckets)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated_at: float


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    bucket: Bucket
    remaining: int
    retry_after_secs: float
    reset_after_secs: float


def take(bucket: Bucket | None, *, capacity: float, per_sec: float, now: float) -> Decision:
    """Try to take one token from a bucket of `capacity` refilled at `per_sec`."""
    if bucket is None:
        tokens = capacity
    else:
        tokens = min(capacity, bucket.tokens + (now - bucket.updated_at) * per_sec)
    # A client that waits exactly the advertised retry_after must get through despite rounding.
    if tokens >= 1.0 - 1e-9:
        tokens = max(0.0, tokens - 1.0)
        allowed = True
        retry_after = 0.0
    else:
        allowed = False
        retry_after = (1.0 - tokens) / per_sec
    reset_after = (capacity - tokens) / per_sec
    return Decision(allowed, Bucket(tokens, now), int(tokens), retry_after, reset_after)
