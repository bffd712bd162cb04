"""DirectBatcher: PostgreSQL's direct messages, gathered while earlier ones are in flight and
written several to a statement (store/queries/postgres_dm_batch.py).

Like the SQLite store's group commit: at most BATCHES_IN_FLIGHT statements run at once; the
DMs that arrive meanwhile wait and go together in the next one. A lone DM on an idle node
goes at once, alone (the next loop turn, with whatever arrived in the same turn). Against one
statement per DM: PostgreSQL's CPU per DM falls 2–3× at batches of 5–10 and the node's with
the round trips (bench/README.md, issue 17's seventh round).

Only a DM decided on remembered facts joins a batch (and none to a recipient with an active
webhook: the single path writes its outbox row); the caller sends any other DM, or one the
batch did not write (its facts changed, or its idempotency key is a replay), by the single
path (`None` here).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.messages import DeliveryContext, Message
from agentplaza.domain.permissions import DirectFacts
from agentplaza.metrics import STORE_DM_BATCH_SIZE
from agentplaza.store.errors import Unavailable
from agentplaza.store.queries.direct_facts import facts_from_row
from agentplaza.store.queries.postgres_dm_batch import BatchedDirect
from agentplaza.store.queries.postgres_fast import KnownFacts
from agentplaza.store.records import Appended

log = logging.getLogger(__name__)

BATCHES_IN_FLIGHT = 2
MAX_BATCH = 64
"""DMs per statement: its JSON stays small, and one slow batch holds few senders."""

WriteBatch = Callable[[list[BatchedDirect]], Awaitable[list[Appended | None]]]


@dataclass(slots=True)
class _Waiting:
    entry: BatchedDirect
    done: asyncio.Future[Appended | None]


class DirectBatcher:
    def __init__(self, write: WriteBatch, known: KnownFacts) -> None:
        self._write = write
        self._known = known  # the store's memory of each pair's facts (postgres_fast.py)
        self._queue: list[_Waiting] = []
        self._in_flight: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def append(
        self,
        message: Message,
        decide: Callable[[DirectFacts], DeliveryContext],
        idempotency_key: str | None,
    ) -> Appended | None:
        """Write `message` in a batch; None when it was not (send it by the single path)."""
        sender, recipient = message.sender_id, message.recipient_id
        assert recipient is not None, "a direct message has a recipient"
        facts = self._known.get((sender, recipient))
        if facts is None or facts[-1]:  # facts unknown, or a webhook to write an outbox row for
            return None
        try:
            context = decide(facts_from_row(sender, recipient, facts))
        except AgentplazaError:  # perhaps refused on stale facts: the single path reads them
            return None
        done: asyncio.Future[Appended | None] = asyncio.get_running_loop().create_future()
        entry = BatchedDirect(message, context, facts, idempotency_key)
        self._queue.append(_Waiting(entry, done))
        self._schedule()
        appended = await done
        if appended is None and idempotency_key is None:
            # Its facts changed: forget them, the single path reads them. (With a key it may
            # be a replay instead, and the facts good: the single path re-checks them anyway.)
            self._known.pop((sender, recipient), None)
        return appended

    def _schedule(self) -> None:
        if not self._scheduled and self._queue and len(self._in_flight) < BATCHES_IN_FLIGHT:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._start)

    def _start(self) -> None:
        self._scheduled = False
        loop = asyncio.get_running_loop()
        while self._queue and len(self._in_flight) < BATCHES_IN_FLIGHT:
            batch = self._take()
            if not batch:
                break
            task = loop.create_task(self._run(batch))
            self._in_flight.add(task)
            task.add_done_callback(self._finished)

    def _take(self) -> list[_Waiting]:
        """The oldest waiting DMs, at most MAX_BATCH, no two to the same recipient, in the
        same thread or with the same sender and idempotency key (the statement writes one seq
        per recipient, each thread row and key once); the others wait, in order, for the
        next batch. DMs whose sender went away (cancelled) are dropped: nothing was written
        for them, and nobody waits for them."""
        batch: list[_Waiting] = []
        rest: list[_Waiting] = []
        taken: set[tuple[str, ...]] = set()  # recipients, threads and keys in the batch
        for waiting in self._queue:
            if waiting.done.done():
                continue
            message, key = waiting.entry.message, waiting.entry.idempotency_key
            assert message.recipient_id is not None
            claims: set[tuple[str, ...]] = {
                ("to", message.recipient_id),
                ("thread", message.thread_id),
            }
            if key is not None:
                claims.add(("key", message.sender_id, key))
            if len(batch) >= MAX_BATCH or not claims.isdisjoint(taken):
                rest.append(waiting)
                continue
            batch.append(waiting)
            taken |= claims
        self._queue = rest
        return batch

    async def _run(self, batch: list[_Waiting]) -> None:
        STORE_DM_BATCH_SIZE.observe(len(batch))
        try:
            results = await self._write([w.entry for w in batch])
        except Unavailable as exc:  # the database is away: every one of them fails alike
            for waiting in batch:
                if not waiting.done.done():
                    waiting.done.set_exception(exc)
            return
        except Exception:
            # One DM may have sunk the statement (what validation missed): none of them was
            # written; each goes again alone, so only that one fails.
            log.exception("a batch of %d direct messages failed; sending each alone", len(batch))
            results = [None] * len(batch)
        for waiting, appended in zip(batch, results, strict=True):
            if not waiting.done.done():
                waiting.done.set_result(appended)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._schedule()
