"""The tool registry as build_services builds it: schemas, validation, every failure returned as
a result (never raised), the size cap and timeout, and who may use which tool."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

import orjson
import pytest
from pydantic import BaseModel, ConfigDict, Field

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import NotFound
from agentplaza.domain.hosted import AgentMode
from agentplaza.domain.ids import AccountId
from agentplaza.services.registry import Services
from agentplaza.services.tools import Tool, ToolContext, ToolFailed, ToolRegistry, tool_view
from agentplaza.services.tools.registry import RESULT_MAX_CHARS
from tests.services.conftest import START_US, agent

BUILT_IN = {
    "current_time": "time",
    "calculator": "math",
    "send_direct_message": "plaza",
    "search_agents": "plaza",
    "list_my_groups": "plaza",
    "send_group_message": "plaza",
    "post_moment": "plaza",
}


def everything(account: Account, mode: AgentMode = AgentMode.AUTONOMOUS) -> ToolContext:
    """An agent context (owned by someone else) allowed every built-in."""
    return ToolContext(
        account=account, owner_id=AccountId("P_owner"), mode=mode, allowed=frozenset(BUILT_IN)
    )


async def test_built_ins_have_categories_and_clean_schemas(services: Services) -> None:
    tools = services.tools.all()
    assert {t.name: t.category for t in tools} == BUILT_IN  # http_fetch is off by default
    for tool in tools:
        view = tool_view(tool)
        assert set(view) == {"name", "category", "description", "parameters", "acts"}
        schema = view["parameters"]
        assert schema["type"] == "object" and schema["additionalProperties"] is False
        assert "title" not in orjson.dumps(schema).decode().replace('"title":{', "")
    assert {t.name for t in tools if t.acts} == {
        "send_direct_message",
        "send_group_message",
        "post_moment",
    }
    calc = services.tools.get("calculator").parameters
    assert calc["required"] == ["expression"]
    assert calc["properties"]["expression"]["maxLength"] == 500
    with pytest.raises(NotFound):
        services.tools.get("http_fetch")
    specs = services.tools.specs(["calculator", "nonexistent", "current_time"])
    assert [s.name for s in specs] == ["current_time", "calculator"]  # registry order


async def test_calculator_and_time(services: Services) -> None:
    ctx = everything(await agent(services))
    outcome = await services.tools.execute("calculator", '{"expression": "(2 + 3) * 4 ** 2"}', ctx)
    assert (outcome.result, outcome.is_error) == ("80", False)
    bomb = await services.tools.execute("calculator", {"expression": "9 ** 9 ** 9"}, ctx)
    assert bomb.is_error and "bits" in bomb.result
    hostile = await services.tools.execute(
        "calculator", {"expression": "__import__('os').system('touch /tmp/x')"}, ctx
    )
    assert hostile.is_error and "not allowed" in hostile.result

    # The time is the services' clock (the test's), in the zone asked for.
    tokyo = await services.tools.execute("current_time", {"timezone": "Asia/Tokyo"}, ctx)
    view = orjson.loads(tokyo.result)
    expected = datetime.fromtimestamp(START_US / 1e6, tz=ZoneInfo("Asia/Tokyo"))
    assert view["iso"] == expected.isoformat(timespec="seconds")
    assert view["unix"] == START_US // 1_000_000
    utc = await services.tools.execute("current_time", "", ctx)  # "" = no arguments
    assert orjson.loads(utc.result)["timezone"] == "UTC"
    for zone in ("Mars/Olympus", "../../etc/passwd", "/etc/localtime"):
        bad = await services.tools.execute("current_time", {"timezone": zone}, ctx)
        assert bad.is_error and "unknown time zone" in bad.result


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("calculator", "{not json", "not valid JSON"),
        ("calculator", "[1, 2]", "must be a JSON object"),
        ("calculator", "{}", "expression: Field required"),
        ("calculator", {"expression": 42}, "expression: Input should be a valid string"),
        ("calculator", {"expression": "1+" * 300 + "1"}, "at most 500 characters"),
        ("calculator", {"expression": "1", "extra": True}, "extra: Extra inputs"),
        ("search_agents", {"query": "a", "limit": 1000}, "limit: Input should be less"),
        ("post_moment", {"content": "hi", "visibility": "everyone"}, "visibility"),
        ("calculator", "x" * 40_000, "arguments longer than"),
        ("no_such_tool", "{}", "unknown tool"),
        ("calculator", ["a", "list"], "must be a JSON object"),
        ("calculator", None, "must be a JSON object"),
    ],
)
async def test_bad_calls_are_error_results(
    services: Services, name: str, arguments: object, expected: str
) -> None:
    ctx = everything(await agent(services))
    outcome = await services.tools.execute(name, arguments, ctx)
    assert outcome.is_error
    assert expected in outcome.result


async def test_only_allowed_tools_run_and_proxy_agents_do_not_act(services: Services) -> None:
    bot, peer = await agent(services, "bot"), await agent(services, "peer")
    only_math = ToolContext(
        account=bot, owner_id=peer.id, mode=AgentMode.AUTONOMOUS, allowed=frozenset({"calculator"})
    )
    refused = await services.tools.execute("current_time", "{}", only_math)
    assert refused.is_error and "not enabled" in refused.result
    assert services.tools.usable(only_math) == ["calculator"]

    dm = {"to": peer.id, "text": "hello"}
    proxy = everything(bot, AgentMode.PROXY)
    assert "send_direct_message" not in services.tools.usable(proxy)
    assert "search_agents" in services.tools.usable(proxy)  # reading is fine
    refused = await services.tools.execute("send_direct_message", dm, proxy)
    assert refused.is_error and "autonomous" in refused.result
    assert (await services.messaging.unacked(peer, limit=10)).items == []

    sent = await services.tools.execute("send_direct_message", dm, everything(bot))
    assert not sent.is_error, sent.result
    inbox = (await services.messaging.unacked(peer, limit=10)).items
    assert [(i.message.sender_id, i.message.body) for i in inbox] == [(bot.id, "hello")]
    assert orjson.loads(sent.result)["message_id"] == inbox[0].message.id


async def test_manual_execute_is_the_owner_acting_as_themselves(services: Services) -> None:
    owner = (
        await services.accounts.register_human(
            display_name="owner", password="correct horse battery", bio=""
        )
    ).account
    peer = await agent(services, "peer")
    ctx = services.tools.manual_context(owner)
    assert ctx.may_act and ctx.allowed == services.tools.names()
    outcome = await services.tools.execute(
        "send_direct_message", {"to": peer.id, "text": "by hand"}, ctx
    )
    assert not outcome.is_error, outcome.result
    inbox = (await services.messaging.unacked(peer, limit=10)).items
    assert [i.message.sender_id for i in inbox] == [owner.id]

    # A model the person talks to in proxy mode does not act as them: only their own hand.
    as_model = replace(ctx, manual=False)
    assert not as_model.may_act
    refused = await services.tools.execute(
        "send_direct_message", {"to": peer.id, "text": "the model's idea"}, as_model
    )
    assert refused.is_error and "autonomous" in refused.result
    assert replace(as_model, mode=AgentMode.AUTONOMOUS).may_act


async def test_plaza_rules_apply_to_tools(services: Services) -> None:
    bot, peer, outsider = [await agent(services, n) for n in ("bot", "peer", "outsider")]
    ctx = everything(bot)
    await services.social.block(peer, bot.id)
    blocked = await services.tools.execute(
        "send_direct_message", {"to": peer.id, "text": "hi"}, ctx
    )
    assert blocked.is_error and blocked.result.startswith("blocked:")
    unknown = await services.tools.execute(
        "send_direct_message", {"to": "A_nobody", "text": "hi"}, ctx
    )
    assert unknown.is_error and unknown.result.startswith("agent_not_found:")

    group = await services.groups.create(outsider, name="closed", members=[peer.id])
    not_member = await services.tools.execute(
        "send_group_message", {"group_id": group.group.id, "text": "let me in"}, ctx
    )
    assert not_member.is_error
    assert (await services.messaging.unacked(peer, limit=10)).items == []


async def test_group_search_and_moment_tools(services: Services) -> None:
    bot, peer = await agent(services, "toolbot"), await agent(services, "peer")
    ctx = everything(bot)
    group = await services.groups.create(peer, name="friends of tools", members=[bot.id])
    mine = orjson.loads((await services.tools.execute("list_my_groups", {}, ctx)).result)
    assert [(g["id"], g["role"]) for g in mine] == [(group.group.id, "member")]
    sent = await services.tools.execute(
        "send_group_message", {"group_id": group.group.id, "text": "hello group"}, ctx
    )
    assert not sent.is_error, sent.result
    inbox = (await services.messaging.unacked(peer, limit=10)).items
    assert [i.message.body for i in inbox] == ["hello group"]

    found = orjson.loads(
        (await services.tools.execute("search_agents", {"query": "toolb"}, ctx)).result
    )
    assert [a["id"] for a in found] == [bot.id]

    posted = await services.tools.execute(
        "post_moment", {"content": "a day in the life", "visibility": "friends"}, ctx
    )
    moment_id = orjson.loads(posted.result)["moment_id"]
    row = await services.moments.detail(bot, moment_id)
    assert row.moment.content == "a day in the life" and row.moment.visibility.value == "friends"


async def test_tools_spend_the_accounts_rate_budget(services: Services) -> None:
    bot, peer = await agent(services, "chatty"), await agent(services, "peer")
    ctx = everything(bot)
    for _ in range(10):  # the send budget: 10 per second, as for POST /v1/messages
        await services.limiter.check(services.limiter.send, bot.id)
    limited = await services.tools.execute(
        "send_direct_message", {"to": peer.id, "text": "one more"}, ctx
    )
    assert limited.is_error and limited.result.startswith("rate_limited:")
    assert (await services.messaging.unacked(peer, limit=10)).items == []


class Echo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    size: int = Field(default=10, ge=0, le=1_000_000)


async def test_results_are_capped_and_failures_contained(services: Services) -> None:
    async def big(args: Echo, ctx: ToolContext) -> str:
        return "x" * args.size

    async def hang(args: Echo, ctx: ToolContext) -> str:
        await asyncio.Event().wait()
        return "never"

    async def crash(args: Echo, ctx: ToolContext) -> str:
        raise RuntimeError("secret internals")

    async def fail(args: Echo, ctx: ToolContext) -> str:
        raise ToolFailed("a clear reason")

    registry = ToolRegistry(
        [
            Tool(name=n, category="test", description=n, args=Echo, handler=h)
            for n, h in (("big", big), ("hang", hang), ("crash", crash), ("fail", fail))
        ],
        timeout_secs=0.05,
    )
    ctx = everything(await agent(services))
    ctx = ToolContext(
        account=ctx.account, owner_id=ctx.owner_id, mode=ctx.mode, allowed=registry.names()
    )
    exact = await registry.execute("big", {"size": RESULT_MAX_CHARS}, ctx)
    assert exact.result == "x" * RESULT_MAX_CHARS
    cut = await registry.execute("big", {"size": RESULT_MAX_CHARS + 5}, ctx)
    assert cut.result == "x" * RESULT_MAX_CHARS + "\n[truncated: 5 more characters]"
    assert not cut.is_error
    timed_out = await registry.execute("hang", {}, ctx)
    assert timed_out.is_error and "timed out after 0.05 s" in timed_out.result
    crashed = await registry.execute("crash", {}, ctx)
    assert (crashed.result, crashed.is_error) == ("crash failed: RuntimeError", True)
    failed = await registry.execute("fail", {}, ctx)
    assert (failed.result, failed.is_error) == ("a clear reason", True)

    # Cancellation is not a result: the caller's cancel goes through.
    task = asyncio.create_task(registry.execute("hang", {}, ctx))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    with pytest.raises(ValueError, match="twice"):
        ToolRegistry([registry.get("big"), registry.get("big")], timeout_secs=1)
