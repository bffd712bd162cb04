"""NatsBus: core NATS publish/subscribe between nodes (at most once, like every bus).

Core NATS, not JetStream: at most once is the contract, and the store is the durable log.
nats-py reconnects by itself (forever, RECONNECT_WAIT_SECS apart) and replays the
subscriptions, then flushes, then calls `reconnected_cb`: that is when the bus owes its
consumer a RESYNC. It also owes one when nats-py reports a slow consumer (a subscription's
pending limit overflowed and messages were dropped) or when the events() buffer overflows.

While disconnected, publish raises BusError at once instead of letting nats-py buffer for
replay after the reconnect: the caller has the message in the store already, and a late
replay would only arrive after the RESYNC that made it redundant.

Wire subject: `<namespace>.<topic>` (topics look like `inbox.10001`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import Error as NatsError
from nats.errors import SlowConsumerError

from agentplaza.bus.base import BusError, EventBuffer, check_namespace

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECS = 2
START_TIMEOUT_SECS = 5.0  # start() gives up (nats-py itself would retry forever)
RECONNECT_WAIT_SECS = 0.25
PING_INTERVAL_SECS = 10  # with 2 outstanding pings: a dead server is noticed within ~30 s
FLUSH_TIMEOUT_SECS = 2
# Per subscription. Our callback only appends to the events() buffer, so these fill only
# when the event loop is starved; then nats-py drops and reports a slow consumer (RESYNC).
SUB_PENDING_MSGS = 65_536
SUB_PENDING_BYTES = 64 * 1024 * 1024
# Unflushed publish bytes before a publish waits for the socket (backpressure on bursts).
PENDING_BYTES = 8 * 1024 * 1024
MAX_BUFFERED = 65_536


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """The one place nats-py exceptions become BusError."""
    try:
        yield
    except (NatsError, OSError) as exc:  # OSError includes socket errors and TimeoutError
        raise BusError(f"nats {action} failed: {exc!r}") from exc


class NatsBus:
    def __init__(self, url: str, *, namespace: str, max_buffered: int = MAX_BUFFERED) -> None:
        self._url = url
        self._namespace = check_namespace(namespace)
        self._prefix = namespace + "."
        self._subs: dict[str, Subscription] = {}
        self._buffer = EventBuffer(max_buffered, accept=self._subs.__contains__)
        self._nc: Client | None = None
        self._lock = asyncio.Lock()  # one subscription per topic, even under concurrent calls

    async def start(self) -> None:
        nc = Client()
        try:
            with translate_errors("connect"):
                await asyncio.wait_for(
                    nc.connect(
                        servers=[self._url],
                        name=f"agentplaza-bus:{self._namespace}",
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,
                        reconnect_time_wait=RECONNECT_WAIT_SECS,  # type: ignore[arg-type]
                        connect_timeout=CONNECT_TIMEOUT_SECS,
                        ping_interval=PING_INTERVAL_SECS,
                        max_outstanding_pings=2,
                        pending_size=PENDING_BYTES,
                    ),
                    START_TIMEOUT_SECS,
                )
        except BaseException as exc:
            await nc.close()
            if isinstance(exc, BusError) and isinstance(exc.__cause__, TimeoutError):
                raise BusError(
                    f"nats connect failed: no server ready at {self._url}"
                    f" within {START_TIMEOUT_SECS:.0f} s"
                ) from exc.__cause__
            raise
        self._nc = nc

    async def close(self) -> None:
        if self._nc is not None:
            nc, self._nc = self._nc, None
            self._subs.clear()
            await nc.close()
        self._buffer.close()

    async def ping(self) -> float:
        nc = self._connected()
        started = time.perf_counter()
        with translate_errors("PING"):
            await nc.flush(timeout=FLUSH_TIMEOUT_SECS)
        return time.perf_counter() - started

    async def publish(self, topic: str, payload: bytes) -> None:
        nc = self._connected()
        with translate_errors("publish"):
            await nc.publish(self._prefix + topic, payload)

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        # nats-py buffers publishes and flushes them together: no round trip per message.
        nc = self._connected()
        with translate_errors("publish"):
            for topic, payload in messages:
                await nc.publish(self._prefix + topic, payload)

    async def subscribe(self, topics: Iterable[str]) -> None:
        nc = self._started()
        added = False
        async with self._lock:
            for topic in dict.fromkeys(topics):
                if topic in self._subs:
                    continue
                with translate_errors("subscribe"):
                    self._subs[topic] = await nc.subscribe(
                        self._prefix + topic,
                        cb=self._on_message,
                        pending_msgs_limit=SUB_PENDING_MSGS,
                        pending_bytes_limit=SUB_PENDING_BYTES,
                    )
                added = True
        if added and nc.is_connected:
            await self._confirm_subscriptions(nc)

    async def _confirm_subscriptions(self, nc: Client) -> None:
        """Returns once the server has the SUBs, so it routes here what is published next.

        A PONG answers every command sent before its PING, but nats-py writes the PING to
        the socket at once and queued commands (the SUBs) only when its flusher task runs:
        the first PING can overtake the SUBs. The flusher runs while the first PONG is
        awaited, so the second PING follows the SUBs on the wire (without it, publications
        right after subscribe() were lost with no RESYNC: a CI flake until 2026-12-07).
        """
        try:
            for _ in range(2):
                await nc.flush(timeout=FLUSH_TIMEOUT_SECS)
        except (NatsError, OSError) as exc:
            # A failing connection: nats-py replays the SUBs on reconnect and RESYNCs. A
            # slow one: what is published before the server reads the SUBs is not routed
            # here, and nothing RESYNCs; said at warning level so that a missed delivery
            # can be traced to it.
            log.warning("nats: the server did not confirm new subscriptions: %r", exc)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        self._started()
        async with self._lock:
            for topic in dict.fromkeys(topics):
                sub = self._subs.pop(topic, None)  # events() stops yielding it now
                if sub is not None:
                    with translate_errors("unsubscribe"):
                        await sub.unsubscribe()

    def events(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._buffer.events()

    def _started(self) -> Client:
        if self._nc is None:
            raise RuntimeError("NatsBus not started")
        return self._nc

    def _connected(self) -> Client:
        nc = self._started()
        if not nc.is_connected:
            raise BusError("nats is not connected (reconnecting)")
        return nc

    async def _on_message(self, msg: Msg) -> None:
        self._buffer.put(msg.subject[len(self._prefix) :], msg.data)

    async def _on_error(self, exc: Exception) -> None:
        if isinstance(exc, SlowConsumerError):
            if not self._buffer.resync_owed:  # once per episode, not per dropped message
                log.warning("nats bus dropped messages (slow consumer on %s)", exc.subject)
            self._buffer.lost()
        else:
            log.debug("nats bus error: %r", exc)

    async def _on_disconnected(self) -> None:
        if self._nc is not None:  # not our own close()
            log.warning("nats bus disconnected; reconnecting")

    async def _on_reconnected(self) -> None:
        log.info("nats bus reconnected; %d subscriptions restored", len(self._subs))
        self._buffer.lost()
