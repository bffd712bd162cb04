"""GroupBatcher: PostgreSQL's group messages, one statement per group at a time on a node, the
sends that arrive meanwhile written together in the next (store/queries/postgres_group_batch.py).

Concurrent sends to one group serialize on its members' rows in PostgreSQL anyway; queued
here instead, they no longer wait on each other's row locks (whose waits and re-checks cost
PostgreSQL more CPU than the writes: group of 50, 5 senders, 14,200 → 19,600 deliveries/s from
the queue alone), and several share a statement, its lock hold and its WAL flush.

A message joins a batch when it is decided on its sender's remembered facts and has no
@mentions (postgres_group.py's remembered path); any other message, a batch of one, and a
message the batch did not write (its facts changed, or its key is a replay) take the single
path (`SendAlone`), still in the group's turn. Sends to different groups do not wait for
each other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from agentplaza.domain.errors import AgentplazaError
from agentplaza.domain.groups import GroupDecision, GroupSendFacts
from agentplaza.domain.messages import Message
from agentplaza.metrics import STORE_GROUP_BATCH_SIZE
from agentplaza.store.errors import Unavailable
from agentplaza.store.queries.postgres_group import KnownGroups
from agentplaza.store.queries.postgres_group_batch import BatchedGroupMessage
from agentplaza.store.records import Appended

log = logging.getLogger(__name__)

MAX_BATCH = 64
"""Messages per statement: its JSON stays small (a group of 50: ~3 KB per message, and its body)."""

Decide = Callable[[GroupSendFacts], GroupDecision]
WriteBatch = Callable[[str, list[BatchedGroupMessage]], Awaitable[list[Appended | None]]]
SendAlone = Callable[[Message, Decide, str | None], Awaitable[Appended]]


@dataclass(slots=True)
class _Waiting:
    message: Message
    decide: Decide
    idempotency_key: str | None
    done: asyncio.Future[Appended]
    batched: BatchedGroupMessage | None = None
    """Set by `_take` once decided on remembered facts."""


class GroupBatcher:
    def __init__(self, write_batch: WriteBatch, send_alone: SendAlone, known: KnownGroups):
        self._write_batch = write_batch
        self._send_alone = send_alone
        self._known = known  # the store's memory of each (group, sender)'s facts
        self._queues: dict[str, list[_Waiting]] = {}  # a group's waiting sends, while it has any
        self._drains: set[asyncio.Task[None]] = set()

    async def append(
        self, message: Message, decide: Decide, idempotency_key: str | None
    ) -> Appended:
        loop = asyncio.get_running_loop()
        waiting = _Waiting(message, decide, idempotency_key, loop.create_future())
        queue = self._queues.get(message.thread_id)
        if queue is not None:
            queue.append(waiting)
        else:
            self._queues[message.thread_id] = [waiting]
            task = loop.create_task(self._drain(message.thread_id))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        return await waiting.done

    async def _drain(self, group: str) -> None:
        """The group's turn: its waiting sends, batch after batch, until none is left."""
        queue = self._queues[group]
        try:
            while queue:
                batch = self._take(queue)
                if len(batch) > 1:
                    await self._run_batch(group, batch)
                elif batch:
                    await self._run_alone(batch[0])
        finally:
            del self._queues[group]
            for waiting in queue:  # only if this task was cancelled (the loop is closing)
                waiting.done.cancel()

    def _take(self, queue: list[_Waiting]) -> list[_Waiting]:
        """From the oldest: one send that cannot join a batch, alone; or the batchable sends,
        at most MAX_BATCH, one per sender (its thread row and key are written once). The others
        wait, in order, for the next turn. Sends whose sender went away are dropped: nothing
        was written for them."""
        batch: list[_Waiting] = []
        rest: list[_Waiting] = []
        senders: set[str] = set()
        for n, waiting in enumerate(queue):
            if waiting.done.done():
                continue
            if len(batch) >= MAX_BATCH or waiting.message.sender_id in senders:
                rest.append(waiting)
            elif waiting.batched is not None or self._decide(waiting):
                batch.append(waiting)
                senders.add(waiting.message.sender_id)
            elif batch:
                rest.append(waiting)  # not batchable: it goes alone in a later turn
            else:
                rest.extend(queue[n + 1 :])  # not batchable, and the oldest: alone, now
                queue[:] = rest
                return [waiting]
        queue[:] = rest
        return batch

    def _decide(self, waiting: _Waiting) -> bool:
        """Decide `waiting` on its sender's remembered facts; False if it cannot be batched."""
        message = waiting.message
        entry = self._known.get((message.thread_id, message.sender_id))
        if entry is None:
            return False
        facts, guard = entry
        try:
            deliveries, notifications = waiting.decide(facts)
        except AgentplazaError:  # perhaps refused on stale facts: the single path reads them
            return False
        if notifications:
            return False
        ordered = tuple(sorted(deliveries, key=lambda d: d.recipient_id))
        waiting.batched = BatchedGroupMessage(message, ordered, guard, waiting.idempotency_key)
        return True

    async def _run_batch(self, group: str, batch: list[_Waiting]) -> None:
        STORE_GROUP_BATCH_SIZE.observe(len(batch))
        entries = [w.batched for w in batch if w.batched is not None]
        try:
            results = await self._write_batch(group, entries)
        except Unavailable as exc:  # the database is away: every one of them fails alike
            for waiting in batch:
                _settle(waiting, exc)
            return
        except asyncio.CancelledError:
            for waiting in batch:
                waiting.done.cancel()
            raise
        except Exception:
            # One message may have sunk the statement (what validation missed): none was
            # written; each goes again alone, so only that one fails.
            log.exception("a batch of %d group messages failed; sending each alone", len(batch))
            results = [None] * len(batch)
        for waiting, appended in zip(batch, results, strict=True):
            if appended is not None:
                _settle(waiting, appended)
                continue
            if waiting.idempotency_key is None:
                # Its facts changed: forget them, the single path reads them. (With a key it
                # may be a replay instead: the single path answers it.)
                self._known.pop((group, waiting.message.sender_id), None)
            await self._run_alone(waiting)

    async def _run_alone(self, waiting: _Waiting) -> None:
        if waiting.done.done():
            return
        try:
            appended = await self._send_alone(
                waiting.message, waiting.decide, waiting.idempotency_key
            )
        except asyncio.CancelledError:
            waiting.done.cancel()
            raise
        except Exception as exc:
            _settle(waiting, exc)
            return
        _settle(waiting, appended)


def _settle(waiting: _Waiting, outcome: Appended | BaseException) -> None:
    if waiting.done.done():
        return
    if isinstance(outcome, BaseException):
        waiting.done.set_exception(outcome)
    else:
        waiting.done.set_result(outcome)
