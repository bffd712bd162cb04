"""Sinks: one live client connection on this node, whatever its transport.

`OrderedSink` holds the delivery rules shared by the push transports: frames go out in seq
order, never twice, and a gap (a publication the bus dropped, or one that raced the
catch-up read) is filled from the store before anything after it is written.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from agentplaza.domain.envelopes import Envelope
from agentplaza.domain.ids import AccountId
from agentplaza.services.messaging import encode_delivery
from agentplaza.store.base import Store

log = logging.getLogger(__name__)
CATCH_UP_PAGE = 500


class Sink(Protocol):
    account_id: AccountId

    def push(self, envelope: Envelope) -> None:
        """Hand over one delivery. Never blocks; a sink that cannot keep up closes itself."""

    def heartbeat(self) -> None:
        """Called every heartbeat interval; transports that need keep-alives write one."""

    async def close(self, reason: str) -> None: ...


class OrderedSink:
    """Base of WS/SSE sinks: subclasses implement `write` (one delivery) and `close`."""

    def __init__(self, account_id: AccountId, store: Store, *, queue_max: int) -> None:
        self.account_id = account_id
        self._store = store
        self._queue_max = queue_max
        self._pending: deque[Envelope] = deque()
        self._last_seq: int | None = None  # None until catch_up() has run
        self._task: asyncio.Task[None] | None = None
        self.closed = False

    async def write(self, body: bytes) -> None:
        raise NotImplementedError

    async def write_heartbeat(self) -> None:
        raise NotImplementedError

    async def close(self, reason: str) -> None:
        raise NotImplementedError

    def push(self, envelope: Envelope) -> None:
        if self.closed:
            return
        if len(self._pending) >= self._queue_max:
            # A client this far behind reconnects and resumes from its last seq. Its queue is
            # dropped now: a peer that never reads may hold the close frame back for minutes.
            self.closed = True
            self._pending.clear()
            asyncio.get_running_loop().create_task(self.close("slow consumer"))
            return
        self._pending.append(envelope)
        if self._last_seq is not None and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush())

    def heartbeat(self) -> None:
        if not self.closed and self._task is None and self._last_seq is not None:
            self._task = asyncio.get_running_loop().create_task(self._beat())

    async def _beat(self) -> None:
        try:
            await self.write_heartbeat()
        except Exception:
            await self._fail("heartbeat write failed")
        finally:
            self._task = None
        if self._pending and not self.closed:
            self._task = asyncio.get_running_loop().create_task(self._flush())

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
                await self.write(encode_delivery(item))
                cursor = item.seq
                written += 1
            if len(page.items) < CATCH_UP_PAGE:
                break
        # With nothing written, a cursor beyond the head (kept across a database reset) would
        # swallow live deliveries up to it: the server's head is the truth.
        self._last_seq = (head or 0) if written == 0 else max(cursor, head or 0)
        if self._pending and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._flush())
        return written

    async def _flush(self) -> None:
        try:
            while self._pending and not self.closed:
                envelope = self._pending.popleft()
                last = self._last_seq or 0
                if envelope.seq <= last:
                    continue
                if envelope.seq > last + 1:
                    await self._fill_gap(last, envelope.seq)
                await self.write(envelope.body)
                self._last_seq = envelope.seq
        except Exception:
            await self._fail("write failed")
        finally:
            self._task = None

    async def _fill_gap(self, last: int, upto: int) -> None:
        while last + 1 < upto:
            page = await self._store.read_inbox(
                self.account_id,
                after_seq=last,
                limit=min(upto - last - 1, CATCH_UP_PAGE),
                unacked_only=False,
            )
            if not page.items:
                return
            for item in page.items:
                if item.seq >= upto:
                    return
                await self.write(encode_delivery(item))
                last = self._last_seq = item.seq

    async def _fail(self, reason: str) -> None:
        if not self.closed:
            self.closed = True
            log.debug("closing sink for %s: %s", self.account_id, reason)
            try:
                await self.close(reason)
            except Exception:
                log.debug("close after failure also failed", exc_info=True)
