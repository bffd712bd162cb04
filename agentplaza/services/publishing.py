"""Publishing: committed deliveries handed to the bus, which carries them to the nodes holding
the recipients' connections (realtime/hub.py pushes them; docs/realtime.md).

The store is the truth and the bus a fast path: a failed publish is logged, not raised, and
receivers recover what they missed by seq (docs/streams.md). A fan-out's message is encoded
once, each recipient's own fields spliced in front of it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import orjson

from agentplaza.domain.envelopes import FANOUT_TOPIC, TOPIC_PREFIX, encode_fanout
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
FANOUT_MIN = 4
"""A batch of this many deliveries or more is one FANOUT_TOPIC publication that every node
reads; fewer go to each recipient's topic, read only by the nodes holding it."""
MAX_PUBLISHING = 1_000
"""Background publications (Publisher.publish_in_background) in flight before a send waits
for its own."""


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
    return [own + tail for own, tail in delivery_parts(items)]


def delivery_parts(items: Sequence[InboxItem]) -> list[tuple[bytes, bytes]]:
    """(own, tail) per item, its encode_delivery being `own + tail`: `own` is the recipient's
    fields without the closing `}`, `tail` the message's shared fields from the `,` on, one
    object for all the items of one message."""
    parts = []
    shared_for: Message | None = None
    shared_tail = b""
    for item in items:
        if item.message is not shared_for:
            shared_for = item.message
            view = delivery_view(item)
            for own in RECIPIENT_KEYS:
                view.pop(own, None)
            shared_tail = b"," + orjson.dumps(view)[1:]
        parts.append((orjson.dumps(recipient_fields(item))[:-1], shared_tail))
    return parts


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
        self._in_flight: set[asyncio.Task[None]] = set()

    async def publish(self, items: Sequence[InboxItem]) -> None:
        """Tell the nodes holding the recipients' connections; call after the commit."""
        if not items:
            return
        self._committed(items)
        await self._publish(items)

    async def publish_in_background(self, items: Sequence[InboxItem]) -> None:
        """`publish`, but returning before the bus has the publication, so a send is
        answered one bus round trip sooner: PostgreSQL + Redis, alternated, medians of 3, DM
        10 pairs +10 %, group of 50 × 1 sender +11 %, × 5 senders +14 % (bench/README.md,
        ninth round). The store already has the message; the bus is the fast path.

        Order holds: each bus queues a publication in its first step, and tasks take their
        first step in the order they were created. Past MAX_PUBLISHING in flight (a slow
        bus), the caller waits for its own, which pushes back on senders. `drain()` at
        shutdown lets them finish before the bus closes.
        """
        if not items:
            return
        self._committed(items)
        task = asyncio.get_running_loop().create_task(self._publish(items))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        if len(self._in_flight) > MAX_PUBLISHING:
            await asyncio.wait([task])  # not cancelled with its caller: it is committed

    async def drain(self) -> None:
        """Wait for the publications in flight (at shutdown, before the bus closes)."""
        while self._in_flight:
            await asyncio.wait(list(self._in_flight))

    async def _publish(self, items: Sequence[InboxItem]) -> None:
        started = time.perf_counter()
        messages: list[tuple[str, bytes]]
        if len(items) >= FANOUT_MIN:
            # One publication for the whole fan-out, read by every node (FANOUT_TOPIC), not
            # one per recipient. The delivery side of a 50-member group (publish, Redis, the
            # subscriber, the hub; bench/delivery_cpu.py, medians of 3, a loaded machine),
            # CPU per delivery, 49 publications -> 1: 1 sender: node 20.5 -> 12.8 µs, Redis
            # 4.8 -> 1.5 µs; 5 senders: node 13.9 -> 6.4 µs, Redis 3.1 -> 0.95 µs.
            fanout = [
                (item.context.recipient_id, item.seq, own, tail)
                for item, (own, tail) in zip(items, delivery_parts(items), strict=True)
            ]
            messages = [(FANOUT_TOPIC, encode_fanout(fanout))]
        else:
            # encode_envelope's bytes, without an Envelope per delivery.
            messages = [
                (TOPIC_PREFIX + item.context.recipient_id, item.seq.to_bytes(8, "big") + body)
                for item, body in zip(items, encode_deliveries(items), strict=True)
            ]
        try:
            # One call for the whole batch: on Redis one script call, not one round trip each.
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
