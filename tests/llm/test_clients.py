"""Both model clients against the scripted model server, through the official packages."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agentplaza.llm.base import (
    ChatMessage,
    Finished,
    ModelClient,
    ModelEvent,
    ModelRequest,
    ProviderConfig,
    ProviderError,
    ProviderKind,
    Role,
    TextDelta,
    ThinkingDelta,
    ToolCall,
    ToolCallRequested,
    Usage,
)
from agentplaza.llm.clients import open_client
from agentplaza.llm.retrying import RetryPolicy
from tests.llmfake import Call, FakeLLM, Reply

KEY = "sk-test-0123456789abcdef"
FAST = RetryPolicy(max_retries=2, base_delay=0.001, max_delay=0.01)

MakeClient = Callable[..., ModelClient]


@pytest.fixture(params=list(ProviderKind))
def kind(request: pytest.FixtureRequest) -> ProviderKind:
    return ProviderKind(request.param)


@pytest.fixture
async def make(fake_llm: FakeLLM, kind: ProviderKind) -> AsyncIterator[MakeClient]:
    """Clients of `kind` on the fake (`make(max_concurrency=1, policy=...)`), closed after."""
    clients: list[ModelClient] = []

    def factory(*, policy: RetryPolicy | None = FAST, **config: Any) -> ModelClient:
        url = fake_llm.url + "/v1" if kind is ProviderKind.OPENAI else fake_llm.url
        settings: dict[str, Any] = {"base_url": url, "api_key": KEY, "timeout_secs": 10.0}
        client = open_client(ProviderConfig(kind=kind, **(settings | config)), policy=policy)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        await client.aclose()


def ask(text: str = "hello", **fields: Any) -> ModelRequest:
    return ModelRequest(
        model="fake-small", messages=[ChatMessage(role=Role.USER, content=text)], **fields
    )


async def collect(client: ModelClient, request: ModelRequest) -> list[ModelEvent]:
    return [event async for event in client.stream(request)]


def text_of(events: list[ModelEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_text_streams_as_deltas_then_usage_and_stop(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="hi there, how are you", input_tokens=12, output_tokens=5))
    events = await collect(make(), ask())
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) == 5
    assert text_of(events) == "hi there, how are you"
    assert events[-2:] == [Usage(12, 5), Finished("stop")]


async def test_unscripted_requests_get_the_echo(fake_llm: FakeLLM, make: MakeClient) -> None:
    events = await collect(make(), ask("ping pong"))
    assert text_of(events) == "echo: ping pong"


async def test_two_parallel_tool_calls_are_assembled_from_many_chunks(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    first = {"city": "Paris", "units": "metric", "days": [1, 2, 3]}
    fake_llm.script(
        Reply(
            text="Let me check.",
            tool_calls=[Call("weather", first, id="call_1"), Call("now", "{}", id="call_2")],
            args_chunk=3,  # first's arguments arrive in ~20 fragments
        )
    )
    events = await collect(make(), ask())
    calls = [e.call for e in events if isinstance(e, ToolCallRequested)]
    assert calls == [
        ToolCall("call_1", "weather", json.dumps(first)),
        ToolCall("call_2", "now", "{}"),
    ]
    assert text_of(events) == "Let me check."
    assert events[-1] == Finished("tool_calls")
    assert isinstance(events[-2], Usage)


async def test_invalid_tool_arguments_reach_the_caller_as_text(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(tool_calls=[Call("calc", '{"expression": "2+', id="c")]))
    events = await collect(make(), ask())
    assert ToolCallRequested(ToolCall("c", "calc", '{"expression": "2+')) in events


async def test_thinking_streams_as_thinking_deltas(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.script(Reply(thinking="step one, step two", text="done"))
    events = await collect(make(), ask(thinking=True))
    thinking = "".join(e.text for e in events if isinstance(e, ThinkingDelta))
    assert thinking == "step one, step two"
    assert text_of(events) == "done"


async def test_length_stop_is_mapped(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.script(Reply(text="cut short", stop_reason="length"))
    assert (await collect(make(), ask()))[-1] == Finished("length")


async def test_retries_a_429_then_succeeds(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.fail_next(status=429, times=2, retry_after=0)
    fake_llm.script(Reply(text="finally"))
    events = await collect(make(max_retries=2), ask())
    assert text_of(events) == "finally"
    assert len(fake_llm.chat_requests) == 3


async def test_retries_5xx_with_backoff(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.fail_next(status=503, times=1)
    fake_llm.fail_next(status=500, times=1)
    events = await collect(make(), ask("again"))
    assert text_of(events) == "echo: again"
    assert len(fake_llm.chat_requests) == 3


async def test_retry_after_replaces_the_backoff(fake_llm: FakeLLM, make: MakeClient) -> None:
    # Our own backoff would wait an hour: only the provider's Retry-After: 0 lets this finish.
    slow = RetryPolicy(max_retries=1, base_delay=3600, max_delay=3600)
    fake_llm.fail_next(status=503, times=1, retry_after=0)
    async with asyncio.timeout(30):
        assert text_of(await collect(make(policy=slow), ask("x"))) == "echo: x"


async def test_gives_up_after_max_retries(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.fail_next(status=429, times=10, retry_after=0, message="slow down")
    with pytest.raises(ProviderError) as caught:
        await collect(make(max_retries=2, policy=None), ask())
    assert caught.value.status == 429
    assert "429" in caught.value.message and "slow down" in caught.value.message
    assert len(fake_llm.chat_requests) == 3


async def test_a_refused_key_is_not_retried_nor_quoted(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.fail_next(status=401, times=3, message=f"Incorrect API key provided: {KEY}")
    with pytest.raises(ProviderError) as caught:
        await collect(make(), ask())
    assert caught.value.status == 401
    assert KEY not in caught.value.message and "rejected" in caught.value.message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert len(fake_llm.chat_requests) == 1


async def test_a_timeout_is_a_provider_error(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.hold()
    with pytest.raises(ProviderError) as caught:
        await collect(make(timeout_secs=0.3), ask())
    assert "sent nothing for 0.3 s (read timeout)" in caught.value.message
    fake_llm.release()
    await fake_llm.until(lambda: fake_llm.disconnects == 1)  # we hung up; not retried
    assert len(fake_llm.chat_requests) == 1


async def test_a_failure_after_the_first_event_is_not_retried(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="one two three four five", break_after=2))
    seen: list[ModelEvent] = []
    with pytest.raises(ProviderError):
        async for event in make().stream(ask()):
            seen.append(event)
    assert text_of(seen) == "one two "
    assert len(fake_llm.chat_requests) == 1


async def test_an_error_event_before_the_first_delta_is_retried(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    # Anthropic reports overload this way (`event: error` in a 200 stream); OpenAI-compatible
    # servers send a `data: {"error": ...}` line.
    fake_llm.script(Reply(text="lost", error_after=0), Reply(text="second try"))
    assert text_of(await collect(make(), ask())) == "second try"
    assert len(fake_llm.chat_requests) == 2


async def test_a_stream_dropped_before_the_first_delta_is_retried(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="lost", break_after=0), Reply(text="second try"))
    assert text_of(await collect(make(), ask())) == "second try"
    assert len(fake_llm.chat_requests) == 2


async def test_an_error_event_after_text_is_a_provider_error(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="one two three", error_after=1))
    seen: list[ModelEvent] = []
    with pytest.raises(ProviderError) as caught:
        async for event in make().stream(ask()):
            seen.append(event)
    assert text_of(seen) == "one "
    assert "scripted stream error" in caught.value.message
    assert len(fake_llm.chat_requests) == 1


async def test_an_unreachable_provider_is_a_provider_error(kind: ProviderKind) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ProviderConfig(kind=kind, base_url=f"http://127.0.0.1:{port}/v1", api_key=KEY)
    client = open_client(config, policy=FAST)
    try:
        with pytest.raises(ProviderError) as caught:
            await collect(client, ask())
        assert caught.value.status is None and "connection" in caught.value.message
    finally:
        await client.aclose()


async def test_closing_the_stream_closes_the_upstream_response(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="a b c d e f g h", hold_after=2))
    client = make(max_concurrency=1)
    stream = client.stream(ask())
    async with contextlib.aclosing(stream):
        async for _ in stream:
            break
    await fake_llm.until(lambda: fake_llm.disconnects == 1)
    assert fake_llm.in_flight == 0
    # The cap's slot came back: the next stream runs.
    assert text_of(await collect(client, ask("next"))) == "echo: next"


async def test_cancelling_the_reader_closes_the_upstream_response(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.script(Reply(text="a b c d e f g h", hold_after=1))
    client = make(max_concurrency=1)
    first = asyncio.Event()

    async def read() -> None:
        async for _ in client.stream(ask()):
            first.set()

    task = asyncio.create_task(read())
    await asyncio.wait_for(first.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake_llm.until(lambda: fake_llm.disconnects == 1)
    assert text_of(await collect(client, ask("next"))) == "echo: next"


async def test_cancelling_while_the_model_thinks_hangs_up(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    fake_llm.hold()
    task = asyncio.create_task(collect(make(), ask()))
    await fake_llm.until(lambda: fake_llm.in_flight == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake_llm.until(lambda: fake_llm.disconnects == 1)


async def test_the_concurrency_cap_makes_the_next_stream_wait(
    fake_llm: FakeLLM, make: MakeClient
) -> None:
    client = make(max_concurrency=2)
    fake_llm.hold()
    tasks = [asyncio.create_task(collect(client, ask(f"n{i}"))) for i in range(3)]
    await fake_llm.until(lambda: fake_llm.in_flight == 2)
    # A negative can only be watched for a while: the third must not reach the server.
    with pytest.raises(TimeoutError):
        await fake_llm.until(lambda: len(fake_llm.chat_requests) > 2, within=0.3)
    fake_llm.release()
    results = await asyncio.gather(*tasks)
    assert sorted(text_of(r) for r in results) == ["echo: n0", "echo: n1", "echo: n2"]
    assert fake_llm.max_in_flight == 2


async def test_list_models(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.models = ["m-b", "m-a"]
    assert await make().list_models() == ["m-a", "m-b"]


async def test_list_models_retries_and_reports(fake_llm: FakeLLM, make: MakeClient) -> None:
    fake_llm.fail_next(status=502, times=1)
    assert await make().list_models() == ["fake-large", "fake-small"]
    fake_llm.api_key = "another key"
    with pytest.raises(ProviderError) as caught:
        await make().list_models()
    assert caught.value.status == 401
