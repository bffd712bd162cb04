"""Group sends stored by the group's home node while the group is contended (domain/group_homes.py
says why, when, and how the home is chosen): this node forwards such a send to the home over
the bus, and stores the sends other nodes forward to it.

On the bus (orjson arrays, the kind first):

    NODES_TOPIC       ["up", node] every ALIVE_INTERVAL_SECS, ["down", node] when stopping,
                      ["stored", node, {group: [nodes its sends arrived at]}] every
                      REPORT_INTERVAL_SECS in which it stored some
    node_topic(home)  ["send", request, from_node, author_id, author_name, message, key, now_us]
    node_topic(from)  ["sent", request, message, replayed, recipients]
                      ["refused", request, status, code, detail]  (as a local send would raise)
                      ["failed", request, detail]  (the home's store failed: 503, as here)
                      ["redo", request]  (the home is stopping: it stored nothing)

The bus is at most once, so a forward ends one of three ways: an answer; "send it here"
before the home can have stored anything (redo, or the request never published); or an
unknown outcome (no answer within FORWARD_TIMEOUT_SECS, the home gone, the bus lost
publications). An unknown outcome is also sent here: the message keeps the id it was given
on this node, which the store keeps unique, so had the home stored it after all this second
attempt fails (503) rather than storing it twice, and the client's idempotency key, if any,
makes its retry safe as always.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

import orjson

from agentplaza.bus.base import RESYNC, Bus, BusError
from agentplaza.domain.errors import (
    AgentplazaError,
    Conflict,
    ErrorCode,
    Forbidden,
    Invalid,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
)
from agentplaza.domain.group_homes import (
    ALIVE_INTERVAL_SECS,
    CONTENDED_SECS,
    NODES_TOPIC,
    REPORT_INTERVAL_SECS,
    LiveNodes,
    contended_for,
    node_topic,
)
from agentplaza.domain.ids import AccountId, MessageId, ThreadId
from agentplaza.domain.messages import Message, MessageFormat, MessageType
from agentplaza.metrics import CLUSTER_NODES, GROUP_SENDS_ROUTED, GROUP_SENDS_SERVED
from agentplaza.services.sending import Author, Sent
from agentplaza.store.errors import StoreError

log = logging.getLogger(__name__)
FORWARD_TIMEOUT_SECS = 10.0
"""A backstop for a lost request or answer: a home that stops or dies is noticed sooner (its
"down", or ALIVE_TIMEOUT_SECS of silence)."""
REPORT_MAX_GROUPS = 5_000
"""Groups per "stored" publication; more go in several."""

StoreAndPublish = Callable[[Author, Message, "str | None", int], Awaitable[Sent]]
_REFUSALS: dict[int, type[AgentplazaError]] = {
    cls.status: cls
    for cls in (Invalid, Unauthenticated, Forbidden, NotFound, Conflict, PayloadTooLarge)
}
_ANSWERED = GROUP_SENDS_ROUTED.labels("answered")
_REDO = GROUP_SENDS_ROUTED.labels("redo")
_UNSENT = GROUP_SENDS_ROUTED.labels("unsent")
_UNKNOWN = GROUP_SENDS_ROUTED.labels("unknown")


class GroupHomes:
    def __init__(
        self,
        bus: Bus,
        node: str,
        store_and_publish: StoreAndPublish,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`node` must be unique per process (two processes answering one node's topic would
        both store its requests); `store_and_publish` stores a send here
        (Sending.store_and_publish)."""
        self._bus = bus
        self._me = node
        self._topic = node_topic(node)
        self._store_and_publish = store_and_publish
        self._monotonic = monotonic
        self._live = LiveNodes(node)
        self._requests = itertools.count()
        self._pending: dict[int, tuple[str, asyncio.Future[list[Any] | None]]] = {}
        self._serving: set[asyncio.Task[None]] = set()
        self._stored: dict[str, set[str]] = {}  # since the last report: group -> origins
        self._contended: dict[str, float] = {}  # group -> until when
        self._announcing: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def node(self) -> str:
        return self._me

    def live_nodes(self) -> list[str]:
        return self._live.nodes()

    async def start(self) -> None:
        await self._bus.subscribe([NODES_TOPIC, self._topic])  # before others hear of us
        self._announcing = asyncio.get_running_loop().create_task(self._announce())

    async def stop(self) -> None:
        """Stop routing and serving: the other nodes are told at once, sends forwarded from
        here go on here, requests still arriving are answered "redo"; the sends being stored
        for others finish first."""
        self._stopping = True
        if self._announcing is not None:
            self._announcing.cancel()
            with suppress(asyncio.CancelledError):
                await self._announcing
        with suppress(BusError):
            await self._bus.publish(NODES_TOPIC, orjson.dumps(["down", self._me]))
        for request in list(self._pending):
            self._settle(request, None)
        while self._serving:
            await asyncio.wait(list(self._serving))

    def remote_home(self, group_id: str) -> str | None:
        """The node to forward a send to `group_id` to; None to store it here (call
        `storing_here` then)."""
        until = self._contended.get(group_id)
        if until is None or self._stopping or until < self._monotonic():
            return None
        home = self._live.home_of(group_id)
        return None if home == self._me else home

    def home_of(self, group_id: str) -> str:
        """The group's home among the live nodes, contended or not."""
        return self._live.home_of(group_id)

    def storing_here(self, group_id: str, origin: str | None = None) -> None:
        """A send to `group_id` that arrived at `origin` (default: this node) is being stored
        here; the next report says so."""
        if self._stopping:  # no more reports
            return
        origins = self._stored.get(group_id)
        if origins is None:
            self._stored[group_id] = {origin or self._me}
        else:
            origins.add(origin or self._me)

    async def forward(
        self, home: str, author: Author, message: Message, key: str | None, now_us: int
    ) -> Sent | None:
        """The home's answer to this send (raising its refusal), or None: store it here."""
        request = next(self._requests)
        answer: asyncio.Future[list[Any] | None] = asyncio.get_running_loop().create_future()
        self._pending[request] = (home, answer)
        try:
            payload = ["send", request, self._me, author.id, author.display_name]
            payload += [_message_fields(message), key, now_us]
            try:
                await self._bus.publish(node_topic(home), orjson.dumps(payload))
            except BusError:
                _UNSENT.inc()
                return None
            try:
                reply = await asyncio.wait_for(answer, FORWARD_TIMEOUT_SECS)
            except TimeoutError:
                reply = None
        finally:
            self._pending.pop(request, None)
        if reply is None:
            _UNKNOWN.inc()
            return None
        if reply[0] == "redo":
            _REDO.inc()
            return None
        _ANSWERED.inc()
        if reply[0] == "sent":
            return Sent(_message_of(reply[2]), bool(reply[3]), int(reply[4]))
        if reply[0] == "refused":
            error = _REFUSALS.get(reply[2], AgentplazaError)(reply[4], ErrorCode(reply[3]))
            error.status = int(reply[2])
            raise error
        raise StoreError(f"the group's home node {home} failed to store it: {reply[2]}")

    def on_bus_event(self, topic: str, payload: bytes) -> None:
        """The hub's listener hands over NODES_TOPIC, this node's topic and every RESYNC."""
        if topic == RESYNC:  # answers may be lost: whatever is pending is sent here
            for request in list(self._pending):
                self._settle(request, None)
            return
        try:
            item = orjson.loads(payload)
            kind = item[0]
            if topic == NODES_TOPIC:
                self._on_node(kind, str(item[1]), item)
            elif topic == self._topic and kind == "send":
                self._serve(item)
            elif topic == self._topic:
                self._settle(int(item[1]), item)
        except (orjson.JSONDecodeError, AttributeError, LookupError, TypeError, ValueError):
            log.warning("dropping a malformed group-homes payload on %s", topic)

    def _on_node(self, kind: str, node: str, item: list[Any]) -> None:
        if kind == "stored":
            if node == self._me:  # what it stored itself never makes a group go elsewhere
                return
            until = self._monotonic() + CONTENDED_SECS
            for group in contended_for(self._me, item[2]):
                self._contended[group] = until
            return
        if kind == "up":
            self._live.heard(node, self._monotonic())
        elif kind == "down" and self._live.left(node):
            self._home_lost(node)
        CLUSTER_NODES.set(len(self._live.nodes()))

    def _home_lost(self, node: str) -> None:
        for request, (home, _) in list(self._pending.items()):
            if home == node:
                self._settle(request, None)

    def _settle(self, request: int, reply: list[Any] | None) -> None:
        pending = self._pending.get(request)
        if pending is not None and not pending[1].done():
            pending[1].set_result(reply)

    async def _announce(self) -> None:
        up = orjson.dumps(["up", self._me])
        reports_per_announcement = round(ALIVE_INTERVAL_SECS / REPORT_INTERVAL_SECS)
        for tick in itertools.count():
            try:
                if tick % reports_per_announcement == 0:
                    await self._bus.publish(NODES_TOPIC, up)
                    self._forget_old()
                await self._report()
            except BusError as exc:
                log.debug("announcing this node failed: %s", exc)
            await asyncio.sleep(REPORT_INTERVAL_SECS)

    async def _report(self) -> None:
        if not self._stored:
            return
        stored, self._stored = list(self._stored.items()), {}
        for start in range(0, len(stored), REPORT_MAX_GROUPS):
            chunk = {
                group: list(origins) for group, origins in stored[start : start + REPORT_MAX_GROUPS]
            }
            await self._bus.publish(NODES_TOPIC, orjson.dumps(["stored", self._me, chunk]))

    def _forget_old(self) -> None:
        now = self._monotonic()
        for node in self._live.expire(now):
            self._home_lost(node)
        CLUSTER_NODES.set(len(self._live.nodes()))
        self._contended = {g: until for g, until in self._contended.items() if until >= now}

    def _serve(self, item: list[Any]) -> None:
        _, request, origin, author_id, author_name, fields, key, now_us = item
        author = Author(AccountId(author_id), str(author_name))
        message = _message_of(fields)
        task = asyncio.get_running_loop().create_task(
            self._store(str(origin), int(request), author, message, key, int(now_us))
        )
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _store(
        self, origin: str, request: int, author: Author, message: Message, key: Any, now_us: int
    ) -> None:
        reply: list[Any]
        if self._stopping:
            reply = ["redo", request]
        else:
            self.storing_here(message.thread_id, origin)
            try:
                sent = await self._store_and_publish(author, message, key, now_us)
            except AgentplazaError as exc:
                reply = ["refused", request, exc.status, exc.code.value, exc.detail]
            except Exception as exc:
                log.warning("storing a group send for %s failed: %s", origin, exc)
                reply = ["failed", request, str(exc)]
            else:
                GROUP_SENDS_SERVED.inc()
                reply = ["sent", request, _message_fields(sent.message), sent.replayed]
                reply.append(sent.recipients)
        try:
            await self._bus.publish(node_topic(origin), orjson.dumps(reply))
        except BusError as exc:  # the origin times out and tries it itself (module docstring)
            log.warning("answering %s's group send failed: %s", origin, exc)


def _message_fields(m: Message) -> list[Any]:
    return [
        m.id, m.sender_id, m.recipient_id, m.thread_id, m.reply_to, m.type, m.format, m.body,
        m.created_at_us, m.signature, m.signer_public_key,
    ]  # fmt: skip


def _message_of(fields: list[Any]) -> Message:
    mid, sender, recipient, thread, reply_to, mtype, fmt, body, created, sig, key = fields
    return Message(
        id=MessageId(mid),
        sender_id=AccountId(sender),
        recipient_id=None if recipient is None else AccountId(recipient),
        thread_id=ThreadId(thread),
        reply_to=None if reply_to is None else MessageId(reply_to),
        type=MessageType(mtype),
        format=MessageFormat(fmt),
        body=str(body),
        created_at_us=int(created),
        signature=sig,
        signer_public_key=key,
    )
