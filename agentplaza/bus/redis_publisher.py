"""RedisPublisher: the publishing side of the Redis bus (bus/redis.py), on a connection of
its own with one exchange in flight.

Publishes queue up; one sender task sends each loop turn's worth as one batch (what arrives
meanwhile forms the next, like group commit). Against one PUBLISH round trip each (300-byte
payloads, 100 channels, msg/s, median of 5): 1 publisher awaiting each: batched 6.7k, direct
9.9k; 10 concurrent: 31.5k vs 15.2k; 200 concurrent: 59.8k vs failing (redis-py's pool stops
at 100 connections). A batch of two or more is one EVAL (PUBLISH_SCRIPT), not a pipeline of
PUBLISHes: one reply to read instead of one each. Process CPU per message, the bus alone (a
subscribed RedisBus in the same process, uvloop, 2 runs each), pipeline → script: 10
concurrent publish() loops 26.4, 26.1 → 20.6, 15.5 µs (Redis +1-2 µs); a loop of
publish_many of 49: 16.2, 15.7 → 5.2, 4.9 µs (with the reader's drain, in bus/redis.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from redis.asyncio import ConnectionPool
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from agentplaza.bus.base import BusError

TIMEOUT_SECS = 1.0  # connect, PUBLISH and PING; a publish must fail fast, not hang
MAX_BATCH = 1024  # publishes per exchange
PUBLISH_SCRIPT = "for i = 1, #ARGV, 2 do redis.call('PUBLISH', ARGV[i], ARGV[i + 1]) end"
"""A batch of publishes as one command, ARGV = channel, payload, channel, payload, …: one
reply to read instead of one per PUBLISH (measured above)."""

_Publication = tuple[str, bytes, "asyncio.Future[None]"]


@contextmanager
def translate_errors(action: str) -> Iterator[None]:
    """The one place redis-py exceptions become BusError."""
    try:
        yield
    except (RedisError, OSError) as exc:  # OSError includes socket errors and TimeoutError
        raise BusError(f"redis {action} failed: {exc}") from exc


class RedisPublisher:
    def __init__(self, url: str, *, client_name: str) -> None:
        # No retries: a PUBLISH whose reply was lost may have been delivered, and sending it
        # again would break at-most-once. No socket timeout: _exchange bounds each exchange.
        self._conn: AbstractConnection = ConnectionPool.from_url(
            url,
            retry=Retry(NoBackoff(), 0),
            client_name=client_name,
            socket_connect_timeout=TIMEOUT_SECS,
            socket_keepalive=True,
        ).make_connection()  # type: ignore[no-untyped-call]
        self._outbox: list[_Publication] = []
        self._sender: asyncio.Task[None] | None = None
        self._closed = False

    async def publish_many(self, messages: Sequence[tuple[str, bytes]]) -> None:
        """Publish each (channel, payload) in order; BusError if any of them failed."""
        if self._closed:
            raise BusError("redis bus closed")
        if not messages:
            return
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in messages]
        self._outbox.extend(
            (channel, payload, done)
            for (channel, payload), done in zip(messages, futures, strict=True)
        )
        if self._sender is None:
            self._sender = loop.create_task(self._send())
        try:
            # A lone one (a DM, a group's fan-out) needs no asyncio.wait machinery.
            await (futures[0] if len(futures) == 1 else asyncio.wait(futures))
        except asyncio.CancelledError:
            for done in futures:  # the sender skips them (_settle), as it did a lone publish
                done.cancel()
            raise
        # Every outcome read (none left "never retrieved"); the first failure is raised.
        failures = [done.exception() for done in futures]
        for failure in failures:
            if failure is not None:
                raise failure

    async def close(self) -> None:
        self._closed = True
        if self._sender is not None:
            self._sender.cancel()
            with suppress(asyncio.CancelledError):
                await self._sender
        outbox, self._outbox = self._outbox, []
        _settle(outbox, BusError("redis bus closed"))
        await self._conn.disconnect()

    async def _send(self) -> None:
        """Send the outbox, up to MAX_BATCH publishes per exchange, until it is empty."""
        batch: list[_Publication] = []
        conn = self._conn
        try:
            while self._outbox:
                batch = self._outbox[:MAX_BATCH]
                del self._outbox[:MAX_BATCH]
                if len(batch) == 1:  # a DM's: a plain PUBLISH costs Redis less
                    command = conn.pack_command("PUBLISH", batch[0][0], batch[0][1])
                else:
                    args: list[str | bytes] = []
                    for channel, payload, _ in batch:
                        args += (channel, payload)
                    command = conn.pack_command("EVAL", PUBLISH_SCRIPT, 0, *args)
                try:
                    with translate_errors("PUBLISH"):
                        await _exchange(conn, command)
                except BusError as exc:
                    _settle(batch, exc)
                else:
                    _settle(batch, None)
                batch = []
        except BaseException:
            _settle(batch, BusError("redis bus closed while publishing"))
            raise
        finally:
            self._sender = None


async def _exchange(conn: AbstractConnection, command: list[bytes]) -> None:
    """Send one command on `conn` and read its reply, within TIMEOUT_SECS in all. On the
    connection itself rather than through redis-py's client (pool checkout, retry wrapper,
    and a task per write for the socket timeout): a PUBLISH round trip 150 → 114 µs of
    process CPU (uvloop, 20,000 in a row, a 2-core VM; issue 17). Any failure drops the
    connection, so that a late reply is never read as the next command's; the next exchange
    connects again."""
    try:
        async with asyncio.timeout(TIMEOUT_SECS):
            await conn.send_packed_command(command, check_health=False)
            await conn.read_response()
    except BaseException:
        await conn.disconnect(nowait=True)
        raise


def _settle(batch: list[_Publication], error: BusError | None) -> None:
    for _, _, done in batch:
        if done.done():  # its publisher was cancelled
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)
