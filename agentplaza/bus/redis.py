"""RedisBus: Redis PUBLISH/SUBSCRIBE between nodes (at most once, like every bus).

Three connections to Redis (hiredis parses replies when installed, which `agentplaza[redis]`
does), none with retries, so a publish fails fast when Redis is down and is never sent twice:
one that publishes, one for PING, and one subscriber connection owned by a reader task.
Publishes are batched per event-loop turn, a batch being one PUBLISH or one script call
(bus/redis_publisher.py, with its measurements). The reader reconnects by itself (backoff up
to BACKOFF_MAX_SECS), subscribes every current topic, waits until Redis has processed that,
then owes the consumer a RESYNC. redis-py's own PubSub is not used because it reconnects and
resubscribes silently, which would hide the loss.

Wire channel: `<namespace>:<topic>`. Redis channels are global across databases, hence the
namespace. The connections are named `<namespace>:bus-pub`, `:bus-ping` and `:bus-sub`
(see CLIENT LIST).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import suppress

from redis._parsers import hiredis as _redis_hiredis
from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from agentplaza.bus.base import BusError, EventBuffer, check_namespace
from agentplaza.bus.redis_publisher import TIMEOUT_SECS, RedisPublisher, translate_errors

log = logging.getLogger(__name__)

BACKOFF_MIN_SECS = 0.05
BACKOFF_MAX_SECS = 2.0
IDLE_CHECK_SECS = 5.0  # an idle subscriber PINGs; no reply within as long again = dead
SUBSCRIBE_WAIT_SECS = 2.0
MAX_BUFFERED = 65_536


class RedisBus:
    def __init__(self, url: str, *, namespace: str, max_buffered: int = MAX_BUFFERED) -> None:
        self._url = url
        self._namespace = check_namespace(namespace)
        self._prefix = namespace + ":"
        self._topics: set[str] = set()
        self._buffer = EventBuffer(max_buffered, accept=self._topics.__contains__)
        self._publisher: Redis | None = None
        self._sub_pool: ConnectionPool | None = None
        self._conn: AbstractConnection | None = None  # the live subscriber; None while down
        # Orders SUBSCRIBE/UNSUBSCRIBE with the (re)connect's subscribe-all.
        self._lock = asyncio.Lock()
        # PING payload -> what to do when its PONG arrives: Redis answers in command order,
        # so the PONG after a SUBSCRIBE proves the subscription is in effect.
        self._barriers: dict[bytes, Callable[[], None]] = {}
        self._tokens = itertools.count()
        self._reader: asyncio.Task[None] | None = None
        self._publishing: RedisPublisher | None = None

    @property
    def subscriber_name(self) -> str:
        """CLIENT SETNAME of the subscriber connection."""
        return f"{self._namespace}:bus-sub"

    async def start(self) -> None:
        # No retries: a PUBLISH whose reply was lost may have been delivered, and sending it
        # again would break at-most-once. (The pool already replaces connections found closed.)
        self._publisher = Redis.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            client_name=f"{self._namespace}:bus-ping",
            socket_connect_timeout=TIMEOUT_SECS,
            socket_timeout=TIMEOUT_SECS,
            socket_keepalive=True,
        )
        self._publishing = RedisPublisher(self._url, client_name=f"{self._namespace}:bus-pub")
        # No retries on the subscriber: the reader reconnects, so that it notices the loss.
        # RESP2 there: messages are plain arrays. Under RESP3 (redis-py 8's default) they are
        # push frames that redis-py routes through a per-message handler that formats a
        # debug log line for each.
        self._sub_pool = ConnectionPool.from_url(
            self._url,
            retry=Retry(NoBackoff(), 0),
            client_name=self.subscriber_name,
            protocol=2,
            socket_connect_timeout=TIMEOUT_SECS,
            socket_timeout=TIMEOUT_SECS,
            socket_keepalive=True,
        )
        try:
            conn = await self._connect(resync=False)
        except BusError:
            await self._release()
            raise
        self._reader = asyncio.get_running_loop().create_task(self._run(conn))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        await self._release()
        self._buffer.close()

    async def _release(self) -> None:
        if self._publisher is not None:
            await self._publisher.aclose()
            self._publisher = None
        if self._publishing is not None:
            await self._publishing.close()
            self._publishing = None
        if self._sub_pool is not None:
            await self._sub_pool.disconnect()
            self._sub_pool = None

    async def ping(self) -> float:
        publisher = self._require()
        started = time.perf_counter()
        with translate_errors("PING"):
            await publisher.ping()
        return time.perf_counter() - started

    async def publish(self, topic: str, payload: bytes) -> None:
        await self.publish_many(((topic, payload),))

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        if self._publishing is None:
            raise RuntimeError("RedisBus not started")
        prefix = self._prefix
        await self._publishing.publish_many([(prefix + t, payload) for t, payload in messages])

    async def subscribe(self, topics: Iterable[str]) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        async with self._lock:
            new = [t for t in dict.fromkeys(topics) if t not in self._topics]
            if not new:
                return
            self._topics.update(new)
            conn = self._conn
            # While the subscriber is down, the reconnect subscribes every topic and RESYNCs.
            # Checked right before sending: a disconnected redis-py connection would reconnect
            # inside send_packed_command, silently, without the other subscriptions.
            if conn is None or not conn.is_connected:
                return
            token = self._barrier(lambda: _resolve(done))
            try:
                await conn.send_packed_command(
                    conn.pack_commands(
                        [("SUBSCRIBE", *(self._prefix + t for t in new)), ("PING", token)]
                    ),
                    check_health=False,
                )
            except (RedisError, OSError) as exc:
                # The reader sees the same dead connection and resubscribes everything.
                self._barriers.pop(token, None)
                log.debug("redis SUBSCRIBE failed (%s); the reconnect will subscribe", exc)
                return
        try:
            await asyncio.wait_for(done, SUBSCRIBE_WAIT_SECS)
        except TimeoutError:
            log.warning("redis did not confirm SUBSCRIBE within %.0f s", SUBSCRIBE_WAIT_SECS)

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        async with self._lock:
            gone = [t for t in dict.fromkeys(topics) if t in self._topics]
            if not gone:
                return
            # events() stops yielding them now; what Redis still sends is filtered out.
            self._topics.difference_update(gone)
            conn = self._conn
            if conn is None or not conn.is_connected:
                return  # the reconnect subscribes only the remaining topics
            try:
                await conn.send_command(
                    "UNSUBSCRIBE", *(self._prefix + t for t in gone), check_health=False
                )
            except (RedisError, OSError) as exc:
                log.debug("redis UNSUBSCRIBE failed (%s); the reconnect will drop them", exc)

    def events(self) -> AsyncIterator[tuple[str, bytes]]:
        return self._buffer.events()

    def _require(self) -> Redis:
        if self._publisher is None:
            raise RuntimeError("RedisBus not started")
        return self._publisher

    def _barrier(self, then: Callable[[], None]) -> bytes:
        token = b"agentplaza-%d" % next(self._tokens)
        self._barriers[token] = then
        return token

    async def _connect(self, *, resync: bool) -> AbstractConnection:
        """A new subscriber connection with every current topic subscribed (or BusError)."""
        assert self._sub_pool is not None
        # A connection of the pool's kind (TCP/TLS/unix) and URL settings, never pooled.
        conn: AbstractConnection = self._sub_pool.make_connection()  # type: ignore[no-untyped-call]
        try:
            with translate_errors("subscriber connect"):
                await conn.connect()  # type: ignore[no-untyped-call]  # redis-py: untyped
                async with self._lock:
                    commands: list[tuple[str | bytes, ...]] = []
                    if self._topics:
                        commands.append(("SUBSCRIBE", *(self._prefix + t for t in self._topics)))
                    # RESYNC only once Redis has processed the SUBSCRIBE (its PONG is next).
                    token = self._barrier(self._buffer.lost if resync else lambda: None)
                    commands.append(("PING", token))
                    await conn.send_packed_command(conn.pack_commands(commands), False)
                    self._conn = conn
        except BaseException:
            await conn.disconnect(nowait=True)
            raise
        return conn

    async def _run(self, conn: AbstractConnection) -> None:
        """The reader task: read the subscriber connection, reconnect when it fails."""
        while True:
            try:
                await self._read(conn)
            except (RedisError, OSError) as exc:
                log.warning("redis bus subscriber lost (%s); reconnecting", exc)
            finally:
                self._conn = None
                await conn.disconnect(nowait=True)
                # Waiters on the dead connection stop waiting; the reconnect takes over.
                barriers, self._barriers = self._barriers, {}
                for then in barriers.values():
                    then()
            conn = await self._reconnect()

    async def _reconnect(self) -> AbstractConnection:
        backoff = BACKOFF_MIN_SECS
        while True:
            await asyncio.sleep(backoff)
            try:
                conn = await self._connect(resync=True)
            except BusError as exc:
                log.debug("redis bus reconnect failed: %s", exc)
                backoff = min(backoff * 2, BACKOFF_MAX_SECS)
                continue
            log.info("redis bus subscriber reconnected; %d topics", len(self._topics))
            return conn

    async def _read(self, conn: AbstractConnection) -> None:
        pinged = False
        buffered = _buffered_replies(conn)
        while True:
            reply = await conn.read_response(timeout=IDLE_CHECK_SECS)
            if reply is None:  # nothing for IDLE_CHECK_SECS: is the connection alive?
                if pinged:
                    raise ConnectionError(f"no reply to PING within {IDLE_CHECK_SECS:.0f} s")
                await conn.send_command("PING", b"idle", check_health=False)
                pinged = True
                continue
            pinged = False
            self._handle(reply)
            # The replies already read off the socket, without a read_response (a timeout
            # context and three coroutines) each: a group send's fan-out arrives together.
            if buffered is not None:
                while (reply := buffered()) is not None:
                    self._handle(reply)

    def _handle(self, reply: object) -> None:
        if isinstance(reply, list) and len(reply) >= 2:
            kind = reply[0]
            if kind == b"message" and len(reply) == 3:
                channel, payload = reply[1], reply[2]
                if isinstance(channel, bytes) and isinstance(payload, bytes):
                    self._buffer.put(channel[len(self._prefix) :].decode(), payload)
            elif kind == b"pong":
                self._pong(reply[1])
            # subscribe/unsubscribe confirmations: the PONG barrier after them is what counts
        elif isinstance(reply, bytes):
            self._pong(reply)  # PING outside subscribed mode echoes its argument

    def _pong(self, token: object) -> None:
        if isinstance(token, bytes):
            then = self._barriers.pop(token, None)
            if then is not None:
                then()


def _buffered_replies(conn: AbstractConnection) -> Callable[[], object] | None:
    """The next complete reply already read off `conn`'s socket, or None when there is none,
    straight from the hiredis reader behind redis-py's parser. That parser is private to
    redis-py, hence the checks: without it (no hiredis, another redis-py) this is None and
    every reply takes a read_response."""
    parser = getattr(conn, "_parser", None)
    reader = getattr(parser, "_reader", None)
    incomplete = getattr(_redis_hiredis, "NOT_ENOUGH_DATA", None)
    if (
        not isinstance(parser, _redis_hiredis._AsyncHiredisParser)
        or reader is None
        or incomplete is None
    ):
        return None
    gets = reader.gets

    def next_reply() -> object:
        reply = gets()
        if isinstance(reply, Exception):  # an error reply: raised, as read_response does
            raise reply
        return None if reply is incomplete else reply

    return next_reply


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
