"""Sinks: one live client connection on this node, whatever its transport.

`OrderedSink` holds the delivery rules shared by the push transports: frames go out in seq
order, never twice, and a gap (a publication the bus dropped, or one that raced the
catch-up read) is filled from the store before anything after it is written. When the bus
says it may have lost publications (RESYNC), the hub asks every sink to `resync()`: an
OrderedSink then writes whatever the store has after its last written seq.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from agentplaza.domain.credentials import Credential
from agentplaza.domain.envelopes import Envelope
from agentplaza.domain.ids import AccountId
from agentplaza.services.publishing import encode_delivery
from agentplaza.store.base import Store

log = logging.getLogger(__name__)
CATCH_UP_PAGE = 500
REVOKED = "credentials revoked"
"""The close reason of a connection whose credential was revoked (docs/credentials.md)."""


class Sink(Protocol):
    account_id: AccountId
    transport: str
    """Which client transport this is ("websocket", "sse", "longpoll"), for metrics."""
    credential: Credential | None
    """What the connection authenticated with; revoking it ends the connection."""

    def push(self, envelope: Envelope) -> None:
        """Hand over one delivery. Never blocks; a sink that cannot keep up closes itself."""

    async def resync(self) -> None:
        """Deliveries may have been lost on the bus: recover them from the store.

        Returns promptly (the hub awaits it for every sink): the store read may run later,
        but it starts after this call, so it sees everything committed before it.
        """

    def heartbeat(self) -> None:
        """Called every heartbeat interval; transports that need keep-alives write one."""

    async def close(self, reason: str) -> None: ...

    def revoke(self) -> None:
        """The credential was revoked: deliver nothing more, end the connection (soon)."""


class OrderedSink:
    """Base of WS/SSE sinks: subclasses set `transport` and implement `write` (one delivery),
    `write_heartbeat` and `close`.

    Every write after the catch-up happens in one task at a time (`_task`: a flush or a
    heartbeat), which is what keeps live pushes, gap fills and resyncs in order and unique.
    """

    transport: str

    def __init__(
        self,
        account_id: AccountId,
        store: Store,
        *,
        queue_max: int,
        queue_max_bytes: int = 0,
        credential: Credential | None = None,
    ) -> None:
        """`queue_max` caps the deliveries waiting for a stalled client, `queue_max_bytes`
        (0: no cap) their total size: 1,000 large messages are tens of MB per socket."""
        self.account_id = account_id
        self.credential = credential
        self._store = store
        self._queue_max = queue_max
        self._queue_max_bytes = queue_max_bytes
        self._pending: deque[Envelope] = deque()
        self._pending_bytes = 0
        self._last_seq: int | None = None  # None until catch_up() has run
        self._task: asyncio.Task[None] | None = None
        self._resync = False  # a store read after _last_seq is owed
        self.closed = False

    async def write(self, body: bytes, seq: int) -> None:
        """Write one delivery: `body` is its JSON, `seq` its position (SSE puts it in `id:`)."""
        raise NotImplementedError

    def write_now(self, body: bytes, seq: int) -> bool:
        """Write one delivery at once if that cannot block, else return False (the writer
        task then awaits `write`). Transports that cannot tell write nothing here."""
        return False

    async def write_heartbeat(self) -> None:
        raise NotImplementedError

    async def close(self, reason: str) -> None:
        raise NotImplementedError

    def push(self, envelope: Envelope) -> None:
        if self.closed:
            return
        last = self._last_seq
        if self._task is None and last is not None and not self._pending and not self._resync:
            # Nothing is being written or owed: the next seq goes out here and now, without a
            # writer task (a task per delivery was a fifth of a fan-out's CPU).
            seq = envelope.seq
            if seq <= last:
                return  # written already (by a gap fill or resync, or twice sent)
            if seq == last + 1:
                try:
                    written = self.write_now(envelope.body, seq)
                except Exception:
                    self._task = asyncio.get_running_loop().create_task(self._fail("write failed"))
                    return
                if written:
                    self._last_seq = seq
                    return
        size = len(envelope.body)
        over_bytes = (
            self._queue_max_bytes > 0
            and bool(self._pending)
            and self._pending_bytes + size > self._queue_max_bytes
        )
        if len(self._pending) >= self._queue_max or over_bytes:
            # A client this far behind reconnects and resumes from its last seq. Its queue is
            # dropped now: a peer that never reads may hold the close frame back for minutes.
            self.closed = True
            self._pending.clear()
            self._pending_bytes = 0
            asyncio.get_running_loop().create_task(self.close("slow consumer"))
            return
        self._pending.append(envelope)
        self._pending_bytes += size
        self._kick()

    async def resync(self) -> None:
        """Owe a store read after the last written seq, done by the writer task.

        Before catch_up() has finished, the flag waits for it: catch_up's own read may have
        run before the lost deliveries were committed.
        """
        if self.closed:
            return
        self._resync = True
        self._kick()

    def revoke(self) -> None:
        if not self.closed:
            self.closed = True  # now, not when the close task runs: not one frame more
            self._pending.clear()
            asyncio.get_running_loop().create_task(self.close(REVOKED))

    def heartbeat(self) -> None:
        if not self.closed and self._task is None and self._last_seq is not None:
            self._task = asyncio.get_running_loop().create_task(self._beat())

    def _kick(self) -> None:
        """Start the writer task if there is work, none is running and catch-up is done."""
        if (
            (self._pending or self._resync)
            and self._task is None
            and self._last_seq is not None
            and not self.closed
        ):
            self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _beat(self) -> None:
        try:
            await self.write_heartbeat()
        except Exception:
            await self._fail("heartbeat write failed")
        finally:
            self._task = None
        self._kick()

    async def catch_up(self, *, after_seq: int | None) -> int:
        """Write the backlog, then switch to live delivery. Returns how many were written.

        `after_seq=None` writes every unacknowledged item (a fresh connection); a number
        writes every item after it, acknowledged or not (a resuming client).
        """
        cursor = after_seq or 0
        unacked_only = after_seq is None
        head: int | None = None
        written = 0
        while True:
            page = await self._store.read_inbox(
                self.account_id, after_seq=cursor, limit=CATCH_UP_PAGE, unacked_only=unacked_only
            )
            if head is None:
                head = page.head_seq
            for item in page.items:
                await self.write(encode_delivery(item), item.seq)
                cursor = item.seq
                written += 1
            if len(page.items) < CATCH_UP_PAGE:
                break
        # With nothing written, a cursor beyond the head (kept across a database reset) would
        # swallow live deliveries up to it: the server's head is the truth.
        self._last_seq = (head or 0) if written == 0 else max(cursor, head or 0)
        self._kick()
        return written

    async def _flush(self) -> None:
        try:
            while not self.closed:
                if self._resync:
                    self._resync = False  # a RESYNC arriving during the read owes another
                    await self._write_stored(before=None)
                elif self._pending:
                    envelope = self._pending.popleft()
                    self._pending_bytes -= len(envelope.body)
                    last = self._last_seq or 0
                    if envelope.seq <= last:
                        continue  # written already (by a gap fill or resync, or twice sent)
                    if envelope.seq > last + 1:
                        await self._write_stored(before=envelope.seq)
                    await self.write(envelope.body, envelope.seq)
                    self._last_seq = envelope.seq
                else:
                    break
        except Exception:
            await self._fail("write failed")
        finally:
            self._task = None

    async def _write_stored(self, *, before: int | None) -> None:
        """Write the stored items after `_last_seq` (and below `before`), ascending."""
        while not self.closed:
            last = self._last_seq or 0
            limit = CATCH_UP_PAGE if before is None else min(before - last - 1, CATCH_UP_PAGE)
            if limit <= 0:
                return
            page = await self._store.read_inbox(
                self.account_id, after_seq=last, limit=limit, unacked_only=False
            )
            for item in page.items:
                if before is not None and item.seq >= before:
                    return
                await self.write(encode_delivery(item), item.seq)
                self._last_seq = item.seq
            if len(page.items) < limit:
                return

    async def _fail(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            log.debug("closing sink for %s: %s", self.account_id, reason)
            try:
                await self.close(reason)
            except Exception:
                log.debug("close after failure also failed", exc_info=True)
