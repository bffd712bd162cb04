"""The inbox: pending, sync, ack, threads and their history, retention purge.

Sending is services/sending.py; see docs/streams.md for the seq contract.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from agentplaza.domain import ids
from agentplaza.domain.accounts import Account
from agentplaza.domain.cursors import SYNC_MAX_LIMIT, next_sync_seq
from agentplaza.domain.errors import ErrorCode, Invalid, NotFound
from agentplaza.domain.ids import ThreadId
from agentplaza.domain.messages import (
    InboxItem,
    Message,
)
from agentplaza.metrics import (
    STORE_READ_PENDING,
    STORE_READ_SYNC,
)
from agentplaza.services.runtime import Runtime
from agentplaza.store.records import InboxPage, ThreadSummary

log = logging.getLogger(__name__)
PUBLISH_FAILURE_LOG_INTERVAL_SECS = 10.0
PURGE_CHUNK = 500


@dataclass(frozen=True, slots=True)
class SyncResult:
    items: list[InboxItem]
    next_seq: int
    has_more: bool


class Messaging:
    """The receiving side of messaging; sending is services/sending.py."""

    def __init__(self, runtime: Runtime) -> None:
        self._rt = runtime
        self._store = runtime.store

    async def unacked(self, account: Account, *, limit: int) -> InboxPage:
        started = time.perf_counter()
        try:
            return await self._store.read_inbox(
                account.id, after_seq=0, limit=limit, unacked_only=True
            )
        finally:
            STORE_READ_PENDING.observe(time.perf_counter() - started)

    async def sync(
        self, account: Account, *, since_seq: int | None, since_us: int | None, limit: int
    ) -> SyncResult:
        """Items after a seq (or a time), regardless of ack state, ascending."""
        limit = min(limit, SYNC_MAX_LIMIT)
        if since_seq is None and since_us is not None:
            with STORE_READ_SYNC.time():
                page = await self._store.read_inbox_since_time(
                    account.id, since_us=since_us, limit=limit + 1
                )
            start = 0
        else:
            start = since_seq or 0
            if start < 0:
                raise Invalid("since_seq must be >= 0")
            with STORE_READ_SYNC.time():
                page = await self._store.read_inbox(
                    account.id, after_seq=start, limit=limit + 1, unacked_only=False
                )
        items = page.items[:limit]
        return SyncResult(
            items=items,
            next_seq=next_sync_seq(start, [i.seq for i in items]),
            has_more=len(page.items) > limit,
        )

    async def ack(self, account: Account, message_id: str) -> None:
        if not ids.is_message_id(message_id):
            raise NotFound("no such message in your inbox", ErrorCode.MESSAGE_NOT_FOUND)
        if not await self._store.ack(account.id, message_id, now_us=self._rt.clock_us()):
            raise NotFound("no such message in your inbox", ErrorCode.MESSAGE_NOT_FOUND)

    async def ack_up_to(self, account: Account, seq: int) -> int:
        if seq < 0:
            raise Invalid("seq must be >= 0")
        return await self._store.ack_up_to(account.id, seq, now_us=self._rt.clock_us())

    async def threads(self, account: Account, *, limit: int) -> list[ThreadSummary]:
        return await self._store.list_threads(account.id, limit=limit)

    async def thread_messages(
        self, account: Account, thread_id: str, *, before_num: int | None, limit: int
    ) -> list[tuple[int, Message]]:
        if not ids.is_thread_id(thread_id):
            raise NotFound("no such thread", ErrorCode.THREAD_NOT_FOUND)
        rows = await self._store.read_thread(
            account.id, ThreadId(thread_id), before_num=before_num, limit=limit
        )
        if rows is None:
            raise NotFound("no such thread", ErrorCode.THREAD_NOT_FOUND)
        return rows

    async def purge_expired(self) -> int:
        """Delete what retention allows: items acked more than `retention_days` ago,
        notifications created that long ago (read or not), and webhook deliveries given up
        that long ago.

        Works in chunks, each its own short transaction, so a large purge never holds the
        writer (or, with SQLite, the event loop) for long.
        """
        now = self._rt.clock_us()
        cutoff = now - int(self._rt.settings.retention_days * 86400 * 1_000_000)
        removed = 0
        while True:
            chunk = await self._store.purge(acked_before_us=cutoff, now_us=now, limit=PURGE_CHUNK)
            removed += chunk
            if chunk < PURGE_CHUNK:
                return removed
