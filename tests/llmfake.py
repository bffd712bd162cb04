"""A scripted model server on loopback: the one fake of issue 15's tests.

`FakeLLM` is a real HTTP/1.1 server (stdlib asyncio, its own event loop in a background
thread, an ephemeral port on 127.0.0.1), so a plaza server running as a subprocess reaches it
like any provider. It speaks the OpenAI chat-completions and the Anthropic Messages protocols,
streamed (SSE) and not, and `GET /v1/models` (the Anthropic shape when the request carries
`anthropic-version`). Base URLs: OpenAI clients `fake.url + "/v1"`, Anthropic `fake.url`.

    def test_x(fake_llm: FakeLLM) -> None:
        fake_llm.script(Reply(text="hi there"), Reply(tool_calls=[Call("now", {})]))
        fake_llm.fail_next(status=429, times=2, retry_after=0)
        ...
        assert fake_llm.requests[-1].body["messages"][0]["role"] == "system"

Unscripted requests get `fake.default(request)`: "echo: <last user message>". Every request
(failed ones too) is recorded in `fake.requests`. `fake.hold()` makes new requests wait
(before the response headers) until `fake.release()`; `Reply(hold_after=n)` pauses a stream
after n deltas until the next `release()`. Each connection serves one request
(`Connection: close`), so a client that closes a response closes the socket, which the server
sees at once: `fake.disconnects` counts responses abandoned before their end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.llm import fakehttp, wire
from tests.llm.fakehttp import Recorded as Recorded  # re-exported: tests import it from here
from tests.llm.wire import Piece


@dataclass(frozen=True, slots=True)
class Call:
    """A scripted tool call; `arguments` (a dict is JSON-encoded) is streamed in small chunks."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    text: str = ""
    tool_calls: Sequence[Call] = ()
    thinking: str = ""
    input_tokens: int | None = None
    """Reported usage; by default about a token per 4 characters of the request / a token per
    streamed delta."""
    output_tokens: int | None = None
    stop_reason: str | None = None
    """"stop" | "tool_calls" | "length" (mapped to each wire); default from the content."""
    tokens_per_sec: float | None = None
    """Pace of the deltas; default `fake.tokens_per_sec` (None: as fast as possible)."""
    hold_after: int | None = None
    """Pause after this many deltas until `fake.release()` is next called."""
    break_after: int | None = None
    """Drop the connection (no end of stream) after this many deltas."""
    error_after: int | None = None
    """After this many deltas (fewer than the reply has), send an error event inside the
    stream (Anthropic: `overloaded_error`; OpenAI: a `data: {"error": ...}` line), and end it."""
    args_chunk: int = 7
    """Tool call arguments are streamed this many characters at a time."""


def echo(request: Recorded) -> Reply:
    """The default reply: the last user message (or tool result) echoed back."""
    return Reply(text=f"echo: {last_user_text(request)}")


class FakeLLM:
    def __init__(self) -> None:
        self.tokens_per_sec: float | None = None
        self.models: list[str] = ["fake-small", "fake-large"]
        self.api_key: str | None = None
        """When set, requests without this key get a 401 in the provider's own shape."""
        self.default: Callable[[Recorded], Reply] = echo
        self.requests: list[Recorded] = []
        self.disconnects = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.completed = 0
        self._queue: deque[Reply] = deque()
        self._by_model: dict[str, deque[Reply]] = {}
        self._failures: deque[tuple[int, float | None, str]] = deque()
        self._held = False
        self._releases = 0
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    # --- scripting (called from the test's thread) --------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, *replies: Reply, model: str | None = None) -> None:
        """Queue replies, in order; with `model`, only for requests naming that model (those
        fall back to the shared queue, then to `default`)."""
        (self._queue if model is None else self._by_model.setdefault(model, deque())).extend(
            replies
        )

    def fail_next(
        self, status: int = 500, times: int = 1, *, retry_after: float | None = None,
        message: str = "scripted failure",
    ) -> None:  # fmt: skip
        """The next `times` requests (of any kind) answer `status` with the provider's error
        body, and a Retry-After header when given."""
        self._failures.extend([(status, retry_after, message)] * times)

    def hold(self) -> None:
        self._held = True

    def release(self) -> None:
        self._held = False
        self._releases += 1

    @property
    def chat_requests(self) -> list[Recorded]:
        """The recorded chat requests (not /v1/models)."""
        return [r for r in self.requests if r.method == "POST"]

    async def until(self, condition: Callable[[], bool], within: float = 10.0) -> None:
        """Poll `condition` (e.g. `lambda: fake.in_flight == 2`) until true, or time out."""
        async with asyncio.timeout(within):
            while not condition():  # noqa: ASYNC110 (state of another thread's loop)
                await asyncio.sleep(0.01)

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> FakeLLM:
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-llm", daemon=True)
        self._thread.start()
        self._server = self._call(
            asyncio.start_server(self._serve, "127.0.0.1", 0, limit=2**22, backlog=1024)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def shutdown() -> None:
            assert self._server is not None
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()

        self._call(shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # --- serving (the server's thread) -------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await fakehttp.read_request(reader)
            if request is not None:
                gone = asyncio.Event()
                watcher = asyncio.create_task(fakehttp.watch_eof(reader, gone))
                try:
                    await self._respond(request, writer, gone)
                finally:
                    watcher.cancel()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _respond(
        self, request: Recorded, writer: asyncio.StreamWriter, gone: asyncio.Event
    ) -> None:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            finished = await self._answer(request, writer, gone)
        finally:
            self.in_flight -= 1
        if finished:
            self.completed += 1
        else:
            self.disconnects += 1

    async def _answer(
        self, request: Recorded, writer: asyncio.StreamWriter, gone: asyncio.Event
    ) -> bool:
        """Write the response; False if the client went away first."""
        while self._held:
            if await fakehttp.gone_within(gone, 0.01):
                return False
        releases = self._releases  # `hold_after` waits for a release() after this point
        kind = request.kind
        key = request.headers.get("x-api-key") or request.headers.get("authorization", "")[7:]
        if self.api_key is not None and key != self.api_key:
            return await fakehttp.send_error(writer, kind, 401, None, "invalid x-api-key / API key")
        if self._failures:
            status, retry_after, message = self._failures.popleft()
            return await fakehttp.send_error(writer, kind, status, retry_after, message)
        if request.method == "GET":
            if request.path.rstrip("/").endswith("/models"):
                models = wire.anthropic_models if kind == "anthropic" else wire.openai_models
                return await fakehttp.send_json(writer, 200, models(self.models))
            return await fakehttp.send_json(writer, 404, {"error": {"message": "not found"}})
        if not request.path.endswith(("/chat/completions", "/messages")):
            return await fakehttp.send_json(writer, 404, {"error": {"message": "not found"}})
        body = request.body if isinstance(request.body, dict) else {}
        reply = self._next_reply(request, str(body.get("model", "")))
        pieces = _pieces(reply)
        stop = reply.stop_reason or ("tool_calls" if reply.tool_calls else "stop")
        usage = {
            "input_tokens": reply.input_tokens or max(1, len(json.dumps(body)) // 4),
            "output_tokens": reply.output_tokens if reply.output_tokens is not None
            else len(pieces),
        }  # fmt: skip
        model, rid = str(body.get("model", "fake")), f"fake-{uuid.uuid4().hex[:12]}"
        if not body.get("stream"):
            make = wire.anthropic_message if kind == "anthropic" else wire.openai_completion
            return await fakehttp.send_json(
                writer, 200, make(pieces, model=model, rid=rid, stop=stop, usage=usage)
            )
        if kind == "anthropic":
            frames = list(
                wire.anthropic_events(pieces, model=model, rid=rid, stop=stop, usage=usage)
            )
        else:
            include = bool((body.get("stream_options") or {}).get("include_usage"))
            frames = list(
                wire.openai_chunks(
                    pieces, model=model, rid=rid, stop=stop, usage=usage if include else None
                )
            )
        rate = reply.tokens_per_sec or self.tokens_per_sec
        head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
        writer.write(head + b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n")
        await writer.drain()
        deltas = 0
        for frame, is_delta in frames:
            if gone.is_set():
                return False
            if is_delta:
                deltas += 1
                if reply.error_after is not None and deltas > reply.error_after:
                    error = (
                        wire.anthropic_stream_error
                        if kind == "anthropic"
                        else wire.openai_stream_error
                    )
                    frame = error("scripted stream error")
                    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(frame), frame))
                    await writer.drain()
                    return True
                if reply.break_after is not None and deltas > reply.break_after:
                    writer.transport.abort()
                    return False
                if reply.hold_after is not None and deltas == reply.hold_after + 1:
                    while self._releases <= releases:
                        if await fakehttp.gone_within(gone, 0.01):
                            return False
                if rate and await fakehttp.gone_within(gone, 1 / rate):
                    return False
            writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def _next_reply(self, request: Recorded, model: str) -> Reply:
        queue = self._by_model.get(model)
        if queue:
            return queue.popleft()
        if self._queue:
            return self._queue.popleft()
        return self.default(request)


# --- helpers -------------------------------------------------------------------------------


def _pieces(reply: Reply) -> list[Piece]:
    pieces = [Piece("thinking", w) for w in _words(reply.thinking)]
    pieces += [Piece("text", w) for w in _words(reply.text)]
    for n, call in enumerate(reply.tool_calls):
        args = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
        cid = call.id or f"call_{uuid.uuid4().hex[:10]}"
        step = max(1, reply.args_chunk)
        for i in range(0, max(len(args), 1), step):
            pieces.append(Piece("args", args[i : i + step], n, cid, call.name))
    return pieces


def _words(text: str) -> list[str]:
    """A delta per word (with its following whitespace): the fake's notion of a token."""
    return re.findall(r"\s*\S+\s*", text) if text.strip() else ([text] if text else [])


def last_user_text(request: Recorded) -> str:
    """The text of the request's last message (a user message or a tool result)."""
    body = request.body if isinstance(request.body, dict) else {}
    messages = body.get("messages") or [{}]
    return _text_of(messages[-1].get("content"))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict):
                parts.append(block.get("text") or _text_of(block.get("content")))
        return " ".join(p for p in parts if p)
    return ""


@contextlib.contextmanager
def running_fake() -> Iterator[FakeLLM]:
    """A FakeLLM serving for the duration of the block (for scripts and benchmarks)."""
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_llm() -> Iterator[FakeLLM]:
    """A fresh scripted model server per test (its own port: a request left over from an
    earlier test cannot consume this test's script)."""
    with running_fake() as fake:
        yield fake


@dataclass(frozen=True, slots=True)
class RealLLM:
    """An OpenAI-compatible server named by AGENTPLAZA_TEST_LLM_URL (e.g. Ollama's
    http://127.0.0.1:11434/v1)."""

    base_url: str
    model: str
    api_key: str = field(repr=False, default="unused")


def real_llm_or_skip() -> RealLLM:
    """The real server to test against, or skip the test saying how to enable it."""
    url = os.environ.get("AGENTPLAZA_TEST_LLM_URL")
    if not url:
        pytest.skip(
            "AGENTPLAZA_TEST_LLM_URL not set: point it at an OpenAI-compatible base URL "
            "(e.g. http://127.0.0.1:11434/v1 for Ollama; optional AGENTPLAZA_TEST_LLM_MODEL, "
            "AGENTPLAZA_TEST_LLM_KEY) to run these tests against a real model"
        )
    return RealLLM(
        base_url=url.rstrip("/"),
        model=os.environ.get("AGENTPLAZA_TEST_LLM_MODEL", "llama3.2:1b"),
        api_key=os.environ.get("AGENTPLAZA_TEST_LLM_KEY", "unused"),
    )
