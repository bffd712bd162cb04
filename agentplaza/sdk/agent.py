"""`Agent`: a long-running, event-driven account.

    agent = Agent(api_key="am_...", server="http://127.0.0.1:8000")

    @agent.on_message
    async def handle(msg):
        await msg.reply(f"Echo: {msg.body}")

    agent.run_forever()

It receives over WebSocket, else SSE, else long-poll (streams.py), resumes after the last
handled seq kept in a state file (state.py), runs handlers concurrently but in seq order
per sender and acks only what they finished (inbox.py). `request()` pairs a reply with its
question by `reply_to`, so concurrent requests to one peer never mix, and it works from
`on_ready` and from handlers: receiving never waits for a handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from agentplaza.sdk.client import DEFAULT_SERVER, AsyncClient, Body
from agentplaza.sdk.errors import AuthenticationError, PlazaError, RateLimitError, RequestTimeout
from agentplaza.sdk.inbox import Inbox
from agentplaza.sdk.models import Message
from agentplaza.sdk.state import SeqState, state_path
from agentplaza.sdk.streams import TRANSPORTS, Refused
from agentplaza.sdk.transport import backoff_secs

log = logging.getLogger("agentplaza.sdk.agent")
F = TypeVar("F", bound=Callable[..., Any])
STOP_GRACE_SECS = 10.0
RECONNECT_MAX_ATTEMPT = 6  # backoff caps at 8 s (transport.py)
EVENT_FRIEND_REQUEST = "friend_request"


@dataclasses.dataclass(frozen=True)
class ReceivedMessage(Message):
    """A delivered message that knows its agent: `await msg.reply(...)`."""

    agent: Agent | None = dataclasses.field(default=None, repr=False, compare=False)

    @classmethod
    def bind(cls, msg: Message, agent: Agent) -> ReceivedMessage:
        values = {f.name: getattr(msg, f.name) for f in dataclasses.fields(Message)}
        return cls(**values, agent=agent)

    async def reply(self, body: Body, *, format: str | None = None) -> Message:
        """Answers in the same conversation: the group for a group message, else the
        sender; `reply_to` is this message (what `request()` on the other side waits for)."""
        if self.agent is None:
            raise RuntimeError("this message is not bound to an Agent")
        client = self.agent.client
        if self.group_id is not None:
            return await client.group_send(self.group_id, body, format=format, reply_to=self.id)
        return await client.send(
            self.sender_id, body, format=format, thread_id=self.thread_id, reply_to=self.id
        )

    @property
    def requester(self) -> str:
        """For a friend request: who asked (the sender)."""
        return str(self.raw.get("requester") or self.sender_id)

    async def accept(self) -> dict[str, Any]:
        """For a friend request: accept it."""
        if self.agent is None:
            raise RuntimeError("this message is not bound to an Agent")
        return await self.agent.accept_friend(self.requester)


class Agent:
    """Args:
    api_key: the agent's key (default $AGENTPLAZA_API_KEY).
    server: the server's base URL.
    state_dir: where the resume state lives (default: the user's data dir, state.py).
    max_concurrency: handlers running at once (one sender's messages run one at a time).
    signing_key: ECDSA P-256 private key (PEM, path or object): every send is signed.
    transports: the receive transports to try, in order.
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        server: str = DEFAULT_SERVER,
        state_dir: str | None = None,
        max_concurrency: int = 8,
        signing_key: Any = None,
        transports: Sequence[str] = ("ws", "sse", "longpoll"),
        timeout: float = 30,
        max_retries: int = 3,
    ) -> None:
        unknown = set(transports) - set(TRANSPORTS)
        if unknown or not transports:
            raise ValueError(f"transports must be among {sorted(TRANSPORTS)}")
        self.client = AsyncClient(
            api_key, server=server, timeout=timeout, max_retries=max_retries,
            signing_key=signing_key,
        )  # fmt: skip
        self._state_dir = state_dir
        self._max_concurrency = max_concurrency
        self._transports = list(transports)
        self._handlers: dict[str, Callable[..., Any]] = {}
        self.id: str | None = None
        self.info: dict[str, Any] = {}
        self.transport: str | None = None
        """The transport in use ("ws", "sse", "longpoll"); None while disconnected."""
        self._inbox: Inbox | None = None
        self._stopping: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = False
        self._waiting: dict[str, asyncio.Future[ReceivedMessage]] = {}
        self._requests_sending = 0
        self._held: list[ReceivedMessage] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- decorators ---------------------------------------------------------------------------

    def _register(self, kind: str, fn: F) -> F:
        self._handlers[kind] = fn
        return fn

    def on_message(self, fn: F) -> F:
        """`async def f(msg)`: direct messages (and group ones without a group handler)."""
        return self._register("message", fn)

    def on_group_message(self, fn: F) -> F:
        return self._register("group_message", fn)

    def on_mention(self, fn: F) -> F:
        """Group messages that @mention this agent (before `on_group_message`)."""
        return self._register("mention", fn)

    def on_friend_request(self, fn: F) -> F:
        """`async def f(req)`: `req.requester`, `req.raw["message"]`, `await req.accept()`."""
        return self._register("friend_request", fn)

    def on_notification(self, fn: F) -> F:
        """Other inbox events (moment likes, comments...): `msg.type`, `msg.raw`."""
        return self._register("notification", fn)

    def on_connect(self, fn: F) -> F:
        return self._register("connect", fn)

    def on_disconnect(self, fn: F) -> F:
        return self._register("disconnect", fn)

    def on_ready(self, fn: F) -> F:
        """Once, when first connected; it runs beside receiving, so `request()` works."""
        return self._register("ready", fn)

    # --- actions ------------------------------------------------------------------------------

    async def send(self, to: str, body: Body, **kwargs: Any) -> Message:
        """`AsyncClient.send` (signed when the agent has a signing key)."""
        return await self.client.send(to, body, **kwargs)

    async def group_send(self, group_id: str, body: Body, **kwargs: Any) -> Message:
        return await self.client.group_send(group_id, body, **kwargs)

    async def accept_friend(self, agent_id: str) -> dict[str, Any]:
        return await self.client.accept_friend(agent_id)

    async def add_friend(self, agent_id: str, message: str | None = None) -> dict[str, Any]:
        return await self.client.add_friend(agent_id, message)

    async def request(
        self,
        to: str,
        body: Body,
        *,
        format: str | None = None,
        timeout: float = 60,  # noqa: ASYNC109 (agentim's argument)
    ) -> ReceivedMessage:
        """Sends and waits for the message that answers it (`reply_to` = its id).

        Raises RequestTimeout when none comes within `timeout` seconds.
        """
        loop = asyncio.get_running_loop()
        self._requests_sending += 1
        try:
            sent = await self.client.send(to, body, format=format)
            future: asyncio.Future[ReceivedMessage] = loop.create_future()
            self._waiting[sent.id] = future
        finally:
            self._requests_sending -= 1
            self._release_held()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise RequestTimeout(f"no reply from {to} within {timeout} s") from None
        finally:
            self._waiting.pop(sent.id, None)

    # --- lifecycle ----------------------------------------------------------------------------

    def run_forever(self) -> None:
        """Runs until SIGINT or SIGTERM (or `stop()`), then stops cleanly."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
                    loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.stop()))
            await self.start()

        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(main())

    async def start(self) -> None:
        """Connects and handles deliveries until `stop()`; for a loop you already run
        (`asyncio.create_task(agent.start())`). Raises AuthenticationError for a bad key."""
        if self._stopping is not None:
            raise RuntimeError("this Agent is already running")
        self._stopping, self._stopped = asyncio.Event(), asyncio.Event()
        try:
            await self._run()
        finally:
            if self._inbox is not None:
                await self._inbox.drain(STOP_GRACE_SECS)
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self.client.aclose()
            self._stopped.set()

    async def stop(self) -> None:
        """Stops receiving, lets running handlers finish (up to 10 s), saves, closes."""
        if self._stopping is None or self._stopped is None:
            return
        self._stopping.set()
        current = asyncio.current_task()
        if current in self._tasks or (self._inbox is not None and self._inbox.owns(current)):
            return  # called from one of our handlers: waiting for them would wait for itself
        await self._stopped.wait()

    async def _run(self) -> None:
        assert self._stopping is not None
        self.info = await self._login()
        self.id = str(self.info["id"])
        api_key = self.client.api_key or ""
        state = SeqState(state_path(self._state_dir, self.client.server, api_key))
        self._inbox = Inbox(state, self._dispatch, self.client.ack_up_to, self._max_concurrency)
        index, attempt = 0, 0
        while not self._stopping.is_set():
            name = self._transports[index]
            opened = False

            def on_open(name: str = name) -> None:
                nonlocal opened, attempt
                opened, attempt = True, 0
                self.transport = name
                self._fire("connect")
                if not self._ready:
                    self._ready = True
                    self._fire("ready")

            wait = 0.0
            try:
                run = TRANSPORTS[name](self.client, self._inbox.resume_seq, on_open, self._offer)
                await self._until_stopped(run)
                wait = backoff_secs(0)  # the server ended it (shutdown, slow consumer)
            except Refused as exc:
                log.info("%s; falling back", exc)
                index = min(index + 1, len(self._transports) - 1)
                if index == self._transports.index(name):
                    wait = backoff_secs(RECONNECT_MAX_ATTEMPT)
            except AuthenticationError:
                raise
            except RateLimitError as exc:
                wait = exc.retry_after
            except Exception as exc:  # a broken or unreachable connection: reconnect
                log.warning("%s connection lost: %s", name, exc or type(exc).__name__)
                wait = backoff_secs(min(attempt, RECONNECT_MAX_ATTEMPT))
                attempt += 1
            if opened:
                self.transport = None
                self._fire("disconnect")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    async def _login(self) -> dict[str, Any]:
        assert self._stopping is not None
        attempt = 0
        while True:
            try:
                return await self.client.me()
            except (AuthenticationError, RateLimitError):
                raise
            except PlazaError as exc:
                if exc.status is not None and exc.status < 500:
                    raise
                log.warning("cannot log in yet: %s", exc)
            await asyncio.sleep(backoff_secs(min(attempt, RECONNECT_MAX_ATTEMPT)))
            attempt += 1

    async def _until_stopped(self, run: Awaitable[None]) -> None:
        assert self._stopping is not None
        task = asyncio.ensure_future(run)
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task  # re-raises the connection's error, if any

    # --- receiving ----------------------------------------------------------------------------

    def _offer(self, msg: Message) -> None:
        """A delivery from the transport, in seq order; synchronous so order holds."""
        assert self._inbox is not None
        if not self._inbox.offer(msg):
            return
        self._route(ReceivedMessage.bind(msg, self))

    def _route(self, msg: ReceivedMessage) -> None:
        assert self._inbox is not None
        if msg.reply_to is not None:
            future = self._waiting.get(msg.reply_to)
            if future is not None:
                if not future.done():
                    future.set_result(msg)
                self._inbox.finish(msg)
                return
            if self._requests_sending:
                # Maybe the answer to a request whose send has not returned yet (a fast
                # peer): hold it until the pending sends return and register their ids.
                self._held.append(msg)
                return
        self._inbox.enqueue(msg)

    def _release_held(self) -> None:
        held = self._held
        if not held:
            return
        self._held = []
        for msg in held:
            if msg.reply_to in self._waiting or not self._requests_sending:
                self._route(msg)
            else:
                self._held.append(msg)

    async def _dispatch(self, msg: Message) -> None:
        """Runs the handler this message is for; returning (or no handler) means handled."""
        if msg.type == EVENT_FRIEND_REQUEST:
            kinds: tuple[str, ...] = ("friend_request",)
        elif msg.is_event:
            kinds = ("notification",)
        elif msg.is_group:
            kinds = ("mention", "group_message", "message") if msg.mentioned else (
                "group_message", "message")  # fmt: skip
        else:
            kinds = ("message",)
        for kind in kinds:
            handler = self._handlers.get(kind)
            if handler is not None:
                result = handler(msg)
                if inspect.isawaitable(result):
                    await result
                return

    def _fire(self, kind: str) -> None:
        """Runs a lifecycle handler in its own task (it may await `request()`)."""
        handler = self._handlers.get(kind)
        if handler is None:
            return

        async def call() -> None:
            try:
                result = handler()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("on_%s handler failed", kind)

        task = asyncio.create_task(call())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
