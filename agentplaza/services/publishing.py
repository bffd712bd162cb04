"""Publishing: hand committed deliveries to the bus, which carries them to the nodes holding
the recipients' connections (realtime/hub.py pushes them). See docs/realtime.md.

The store is the truth and the bus a fast path: a failed publish is logged, not raised, and
receivers recover what they missed by seq (docs/streams.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import orjson

from agentplaza.domain.envelopes import Envelope, encode_envelope, topic_for
from agentplaza.domain.messages import (
    RECIPIENT_KEYS,
    InboxItem,
    Message,
    delivery_view,
    recipient_fields,
)
from agentplaza.metrics import BUS_PUBLISH_SECONDS
from agentplaza.services.runtime import Runtime

log = logging.getLogger(__name__)
PUBLISH_FAILURE_LOG_INTERVAL_SECS = 10.0


def encode_delivery(item: InboxItem) -> bytes:
    return orjson.dumps(delivery_view(item))


def encode_deliveries(items: Sequence[InboxItem]) -> list[bytes]:
    """encode_delivery for each item; a fan-out's shared message is encoded only once.

    Each recipient's object is its own fields spliced in front of the shared ones, e.g.
    `{"to":"10002","seq":7,…` + `"id":…}`: the same JSON object as delivery_view (key
    order aside), at a fraction of the cost for a 50-member group.
    """
    if len(items) == 1:
        return [encode_delivery(items[0])]
    encoded = []
    shared_for: Message | None = None
    shared = b""
    for item in items:
        if item.message is not shared_for:
            shared_for = item.message
            view = delivery_view(item)
            for own in RECIPIENT_KEYS:
                view.pop(own, None)
            shared = orjson.dumps(view)
        own_fields = orjson.dumps(recipient_fields(item))
        encoded.append(own_fields[:-1] + b"," + shared[1:])
    return encoded


class Publisher:
    def __init__(
        self, runtime: Runtime, *, committed: Callable[[Sequence[InboxItem]], None]
    ) -> None:
        """`committed` sees each committed batch first (services/webhooks.py: it wakes the
        webhook worker at once rather than at its next poll)."""
        self._rt = runtime
        self._committed = committed
        self._unlogged_failures = 0
        self._failure_logged_at = float("-inf")

    async def publish(self, items: Sequence[InboxItem]) -> None:
        """Tell the nodes holding the recipients' connections; call after the commit."""
        if not items:
            return
        self._committed(items)
        started = time.perf_counter()
        messages = [
            (topic_for(item.context.recipient_id), encode_envelope(Envelope(item.seq, body)))
            for item, body in zip(items, encode_deliveries(items), strict=True)
        ]
        try:
            # One call for the whole fan-out: on Redis one pipeline, not one round trip each.
            await self._rt.bus.publish_many(messages)
        except Exception as exc:
            self._failed(items, exc)
        # Once per batch, not per recipient: a 50-member fan-out would pay 50 observations.
        BUS_PUBLISH_SECONDS.observe(time.perf_counter() - started)

    def _failed(self, items: Sequence[InboxItem], exc: Exception) -> None:
        # The store has the message; receivers recover it by seq (sync, reconnect, gap fill).
        # With the bus down every send fails here: one line per interval, not per send.
        item = items[-1]
        self._unlogged_failures += len(items)
        now = self._rt.monotonic()
        if now - self._failure_logged_at >= PUBLISH_FAILURE_LOG_INTERVAL_SECS:
            log.warning(
                "bus publish failing (%d since the last report; last: %s seq %d): %s",
                self._unlogged_failures,
                item.context.recipient_id,
                item.seq,
                exc,
            )
            self._unlogged_failures = 0
            self._failure_logged_at = now
