"""The Agent's inbox bookkeeping: which deliveries were seen, which are handled, in what
order handlers run, and how far the server may be told (ack) that we are done.

- Deliveries are offered in seq order (every transport delivers so). A seq seen before
  (this run, or handled in an earlier run per the state file) is dropped.
- Handlers run concurrently up to `max_concurrency`, but one sender's messages run one at
  a time in seq order.
- A handler that raises is retried with backoff (the sender's later messages wait); the
  message stays unhandled, so a restart retries it too.
- The watermark is the seq below which everything seen is handled; the server is acked up
  to it (`POST /v1/messages/ack`), one call covering many messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable

from agentplaza.sdk.models import Message
from agentplaza.sdk.state import SeqState

log = logging.getLogger("agentplaza.sdk.agent")
RETRY_BASE_SECS = 0.5
RETRY_MAX_SECS = 60.0


class Inbox:
    def __init__(
        self,
        state: SeqState,
        handle: Callable[[Message], Awaitable[None]],
        ack_up_to: Callable[[int], Awaitable[object]],
        max_concurrency: int,
    ) -> None:
        self.state = state
        self._handle = handle
        self._ack_up_to = ack_up_to
        self._slots = asyncio.Semaphore(max_concurrency)
        self._open: list[int] = []  # heap of seqs seen and not yet handled
        self._open_set: set[int] = set()
        self.last_seen: int | None = None  # highest seq seen this run: where to resume
        self._queues: dict[str, deque[Message]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._acked: int | None = None
        self._ack_task: asyncio.Task[None] | None = None

    def resume_seq(self) -> int | None:
        """The `since_seq` for a (re)connection: after what this run saw, else after what
        earlier runs handled; None (every unacked item) for a first run."""
        return self.last_seen if self.last_seen is not None else self.state.watermark

    def offer(self, msg: Message) -> bool:
        """Registers a delivery; False when it was seen or handled before (drop it)."""
        seq = msg.seq
        if seq is None:
            return True  # nothing to track (never happens on /v1 transports)
        if seq in self._open_set or self.state.handled(seq):
            return False
        if self.last_seen is not None and seq <= self.last_seen:
            return False
        self.last_seen = seq
        heapq.heappush(self._open, seq)
        self._open_set.add(seq)
        return True

    def enqueue(self, msg: Message) -> None:
        """Runs the handler for an offered message (after the sender's earlier ones)."""
        queue = self._queues.get(msg.sender_id)
        if queue is not None:
            queue.append(msg)
            return
        self._queues[msg.sender_id] = deque([msg])
        task = asyncio.create_task(self._drain(msg.sender_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def finish(self, msg: Message) -> None:
        """Records an offered message as handled: state file first, then (later) the ack."""
        seq = msg.seq
        if seq is None or seq not in self._open_set:
            return
        self._open_set.discard(seq)
        self.state.done.add(seq)
        while self._open and self._open[0] not in self._open_set:
            heapq.heappop(self._open)
        mark = self._open[0] - 1 if self._open else self.last_seen
        if mark is not None and (self.state.watermark is None or mark > self.state.watermark):
            self.state.watermark = mark
            self.state.done = {s for s in self.state.done if s > mark}
        self.state.save()
        self._schedule_ack()

    async def _drain(self, sender: str) -> None:
        queue = self._queues[sender]
        try:
            while queue:
                msg = queue[0]
                attempt = 0
                while True:
                    async with self._slots:
                        try:
                            await self._handle(msg)
                            break
                        except asyncio.CancelledError:
                            raise
                        except Exception:
                            log.exception("handler failed for message %s; will retry", msg.id)
                    delay = min(RETRY_MAX_SECS, RETRY_BASE_SECS * 2**attempt)
                    attempt += 1
                    await asyncio.sleep(random.uniform(delay / 2, delay))
                # No await between the handler's return and this record (see SeqState.save).
                self.finish(msg)
                queue.popleft()
        finally:
            del self._queues[sender]

    def owns(self, task: asyncio.Task[object] | None) -> bool:
        """Whether `task` runs handlers of this inbox."""
        return task in self._tasks

    def _schedule_ack(self) -> None:
        if self._ack_task is None or self._ack_task.done():
            self._ack_task = asyncio.create_task(self._ack_loop())

    async def _ack_loop(self) -> None:
        """One ack call in flight at a time; it covers everything finished meanwhile."""
        while (mark := self.state.watermark) is not None and (
            self._acked is None or mark > self._acked
        ):
            try:
                await self._ack_up_to(mark)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the next finish (or restart) acks again
                log.warning("ack up to seq %s failed: %s", mark, exc)
                return
            self._acked = mark

    async def drain(self, grace_secs: float) -> None:
        """Waits (up to `grace_secs`) for running handlers, then the last ack."""
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=grace_secs)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._ack_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._ack_task, timeout=5)
