"""The turn runner against the scripted model server (tests/llmfake.py), through the real
`openai` and `anthropic` clients: text, tool rounds, errors fed back, the rounds bound, and
closing the upstream stream when the consumer goes away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from dataclasses import replace

import pytest

from agentplaza.domain.accounts import Account
from agentplaza.domain.hosted import AgentMode
from agentplaza.domain.ids import AccountId
from agentplaza.domain.turns import (
    TurnDone,
    TurnError,
    TurnEvent,
    TurnText,
    TurnToolCall,
    TurnToolResult,
)
from agentplaza.llm.base import (
    ChatMessage,
    ModelClient,
    ModelRequest,
    ProviderConfig,
    ProviderKind,
    Role,
    ToolSpec,
)
from agentplaza.llm.clients import open_client
from agentplaza.services.registry import Services
from agentplaza.services.tools import ToolContext
from agentplaza.services.turns import LAST_ROUND_NOTE
from tests.llmfake import Call, FakeLLM, Recorded, Reply, real_llm_or_skip, running_fake
from tests.services.conftest import agent


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with running_fake() as served:
        yield served


@pytest.fixture(params=[ProviderKind.OPENAI, ProviderKind.ANTHROPIC], ids=lambda k: k.value)
async def client(request: pytest.FixtureRequest, fake: FakeLLM) -> AsyncIterator[ModelClient]:
    kind: ProviderKind = request.param
    base_url = fake.url + "/v1" if kind is ProviderKind.OPENAI else fake.url
    opened = open_client(ProviderConfig(kind=kind, base_url=base_url, api_key="k", max_retries=0))
    yield opened
    await opened.aclose()


def ask(text: str = "what is 6 * 7?", *, system: str | None = "be brief") -> ModelRequest:
    return ModelRequest(
        model="fake-small", system=system, messages=[ChatMessage(role=Role.USER, content=text)]
    )


def autonomous(account: Account, *names: str) -> ToolContext:
    return ToolContext(
        account=account,
        owner_id=AccountId("P_owner"),
        mode=AgentMode.AUTONOMOUS,
        allowed=frozenset(names),
    )


async def collect(events: AsyncIterator[TurnEvent]) -> list[TurnEvent]:
    out = [event async for event in events]
    terminal = [e for e in out if isinstance(e, TurnDone | TurnError)]
    assert len(terminal) == 1 and out[-1] is terminal[0], out  # exactly one, and last
    return out


def text_of(events: list[TurnEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TurnText))


def tools_offered(request: Recorded) -> list[str]:
    specs = request.body.get("tools") or []
    return [s["function"]["name"] if "function" in s else s["name"] for s in specs]


def system_of(request: Recorded) -> str:
    if request.kind == "anthropic":
        system = request.body.get("system") or ""
        return system if isinstance(system, str) else "".join(b["text"] for b in system)
    first = request.body["messages"][0]
    return str(first["content"]) if first["role"] == "system" else ""


async def test_a_text_only_turn(services: Services, client: ModelClient, fake: FakeLLM) -> None:
    fake.script(Reply(text="forty two, says the model", input_tokens=11, output_tokens=5))
    events = await collect(services.turns.run(client, ask(), tools=None))
    assert text_of(events) == "forty two, says the model"
    assert len([e for e in events if isinstance(e, TurnText)]) > 1  # streamed in deltas
    assert events[-1] == TurnDone(
        content="forty two, says the model", input_tokens=11, output_tokens=5, tool_rounds=0
    )
    (sent,) = fake.chat_requests
    assert tools_offered(sent) == []


async def test_one_tool_round(services: Services, client: ModelClient, fake: FakeLLM) -> None:
    ctx = autonomous(await agent(services), "calculator", "current_time")
    fake.script(
        Reply(
            text="Let me compute. ",
            tool_calls=[Call("calculator", {"expression": "6 * 7"}, id="call_1")],
            input_tokens=20,
            output_tokens=7,
        ),
        Reply(text="It is 42.", input_tokens=40, output_tokens=4),
    )
    events = await collect(services.turns.run(client, ask(), tools=ctx))
    calls = [e for e in events if isinstance(e, TurnToolCall)]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_1", "calculator", {"expression": "6 * 7"})
    ]
    results = [e for e in events if isinstance(e, TurnToolResult)]
    assert results == [TurnToolResult("call_1", "calculator", "42", False)]
    assert events.index(calls[0]) < events.index(results[0])
    assert events[-1] == TurnDone(
        content="Let me compute. It is 42.", input_tokens=60, output_tokens=11, tool_rounds=1
    )
    first, second = fake.chat_requests
    # No tools in the request: the runner offered what the context may use, registry order.
    assert tools_offered(first) == ["current_time", "calculator"]
    assert tools_offered(second) == ["current_time", "calculator"]
    history = json.dumps(second.body["messages"])
    assert "call_1" in history and '"42"' in history  # the call and its result went back


async def test_two_calls_in_one_round(
    services: Services, client: ModelClient, fake: FakeLLM
) -> None:
    ctx = autonomous(await agent(services), "calculator", "current_time")
    fake.script(
        Reply(
            tool_calls=[
                Call("calculator", {"expression": "1 + 1"}, id="a"),
                Call("current_time", {"timezone": "Europe/Paris"}, id="b"),
            ]
        ),
        Reply(text="done"),
    )
    events = await collect(services.turns.run(client, ask(), tools=ctx))
    assert [e.call_id for e in events if isinstance(e, TurnToolCall)] == ["a", "b"]
    results = [e for e in events if isinstance(e, TurnToolResult)]
    assert [(r.call_id, r.is_error) for r in results] == [("a", False), ("b", False)]
    assert results[0].result == "2" and "Europe/Paris" in results[1].result
    assert isinstance(events[-1], TurnDone) and events[-1].tool_rounds == 1
    history = json.dumps(fake.chat_requests[1].body["messages"])
    assert '"a"' in history and '"b"' in history


async def test_tool_errors_are_fed_back(
    services: Services, client: ModelClient, fake: FakeLLM
) -> None:
    ctx = autonomous(await agent(services), "calculator")
    fake.script(
        Reply(
            tool_calls=[
                Call("calculator", "{not json", id="bad"),
                Call("send_direct_message", {"to": "x", "text": "hi"}, id="denied"),
                Call("calculator", {"expression": "1 / 0"}, id="zero"),
            ]
        ),
        Reply(text="sorry"),
    )
    events = await collect(services.turns.run(client, ask(), tools=ctx))
    results = {e.call_id: e for e in events if isinstance(e, TurnToolResult)}
    assert all(r.is_error for r in results.values())
    assert "not valid JSON" in results["bad"].result
    assert "not enabled" in results["denied"].result
    assert "division by zero" in results["zero"].result
    assert events[-1] == TurnDone(
        content="sorry",
        input_tokens=events[-1].input_tokens,  # type: ignore[union-attr]
        output_tokens=events[-1].output_tokens,  # type: ignore[union-attr]
        tool_rounds=1,
    )
    assert "division by zero" in json.dumps(fake.chat_requests[1].body["messages"])


def calc(n: int) -> Reply:
    return Reply(tool_calls=[Call("calculator", {"expression": f"{n} + 1"}, id=f"c{n}")])


async def test_the_rounds_bound(services: Services, client: ModelClient, fake: FakeLLM) -> None:
    ctx = autonomous(await agent(services), "calculator")
    # The model answers once told the tool rounds are over.
    fake.script(calc(1), calc(2), Reply(text="enough"))
    events = await collect(services.turns.run(client, ask(), tools=ctx, max_rounds=2))
    assert isinstance(events[-1], TurnDone) and events[-1].tool_rounds == 2
    assert events[-1].content == "enough"
    assert [LAST_ROUND_NOTE in system_of(r) for r in fake.chat_requests] == [False, False, True]
    assert system_of(fake.chat_requests[2]).startswith("be brief")

    # It keeps asking: its calls are not run and the turn ends with an error (which still
    # counts the tokens the three calls used).
    fake.script(*(replace(calc(n), input_tokens=10, output_tokens=n) for n in (1, 2, 3)))
    events = await collect(services.turns.run(client, ask(), tools=ctx, max_rounds=2))
    assert len([e for e in events if isinstance(e, TurnToolResult)]) == 2
    assert [e.call_id for e in events if isinstance(e, TurnToolCall)] == ["c1", "c2"]
    assert isinstance(events[-1], TurnError)
    assert "stopped after 2 tool rounds" in events[-1].message
    assert (events[-1].input_tokens, events[-1].output_tokens) == (30, 6)


async def test_the_setting_is_the_default_bound(
    services: Services, client: ModelClient, fake: FakeLLM
) -> None:
    ctx = autonomous(await agent(services), "calculator")
    limit = services.runtime.settings.llm_max_tool_rounds
    fake.script(*(calc(n) for n in range(limit + 1)))
    events = await collect(services.turns.run(client, ask(), tools=ctx))
    assert len([e for e in events if isinstance(e, TurnToolResult)]) == limit
    assert isinstance(events[-1], TurnError)
    assert len(fake.chat_requests) == limit + 1


async def test_what_is_offered(services: Services, client: ModelClient, fake: FakeLLM) -> None:
    bot = await agent(services)
    spec = ToolSpec(name="calculator", description="math", parameters={"type": "object"})
    with_spec = ModelRequest(model="fake-small", messages=ask().messages, tools=[spec])
    # No context: nothing offered, even what the request lists (nothing could run it).
    await collect(services.turns.run(client, with_spec, tools=None))
    # A proxy agent is not offered the tools that act on the plaza.
    proxy = ToolContext(
        account=bot,
        owner_id=AccountId("P_owner"),
        mode=AgentMode.PROXY,
        allowed=frozenset({"send_direct_message", "search_agents"}),
    )
    await collect(services.turns.run(client, ask(), tools=proxy))
    # Zero rounds allowed: no tools at all.
    await collect(services.turns.run(client, ask(), tools=proxy, max_rounds=0))
    assert [tools_offered(r) for r in fake.chat_requests] == [[], ["search_agents"], []]


async def test_a_provider_error_is_the_turns_one_error(
    services: Services, client: ModelClient, fake: FakeLLM
) -> None:
    fake.fail_next(status=500, message="the model is on fire")
    events = await collect(services.turns.run(client, ask(), tools=None))
    assert len(events) == 1 and isinstance(events[0], TurnError)

    # Mid-stream, after a tool round: the text so far was shown, then the error ends the
    # turn, with the tokens of the round that finished.
    ctx = autonomous(await agent(services), "calculator")
    fake.script(
        replace(calc(1), input_tokens=12, output_tokens=3),
        Reply(text="one two three four", break_after=2),
    )
    events = await collect(services.turns.run(client, ask(), tools=ctx))
    assert text_of(events) == "one two "
    assert isinstance(events[-1], TurnError)
    assert (events[-1].input_tokens, events[-1].output_tokens) == (12, 3)


async def test_closing_the_turn_closes_the_upstream(
    services: Services, client: ModelClient, fake: FakeLLM
) -> None:
    fake.script(Reply(text="a b c d e f g h", hold_after=2))
    async with aclosing(services.turns.run(client, ask(), tools=None)) as events:
        async for event in events:
            assert isinstance(event, TurnText)
            break  # the consumer goes away mid-answer
    await fake.until(lambda: fake.disconnects == 1)
    fake.release()

    # The same when the consuming task is cancelled while it waits for the next delta.
    fake.script(Reply(text="a b c d e f g h", hold_after=2))
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in services.turns.run(client, ask(), tools=None):
            first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await fake.until(lambda: fake.disconnects == 2)
    fake.release()
    assert fake.completed == 0


async def test_a_real_model_uses_a_tool(services: Services) -> None:
    """Against AGENTPLAZA_TEST_LLM_URL when set (skipped otherwise): a tool-capable model asked
    to use the calculator ends its turn with `done`, and any tool result fed back is valid."""
    real = real_llm_or_skip()
    config = ProviderConfig(kind=ProviderKind.OPENAI, base_url=real.base_url, api_key=real.api_key)
    client = open_client(config)
    try:
        request = ModelRequest(
            model=real.model,
            system="Use the calculator tool for any arithmetic.",
            messages=[ChatMessage(role=Role.USER, content="What is 1234 * 5678?")],
        )
        ctx = autonomous(await agent(services), "calculator")
        events = await collect(services.turns.run(client, request, tools=ctx, max_rounds=2))
    finally:
        await client.aclose()
    assert isinstance(events[-1], TurnDone), events[-1]
    for result in (e for e in events if isinstance(e, TurnToolResult)):
        assert not result.is_error or "calculator" in result.result
