"""The OpenAI, Claude and LangChain adapters: the same tools as the MCP server, fed the
official packages' own objects (and plain dicts), running against a real server."""

from __future__ import annotations

import json

import httpx
import pytest

from agentplaza.integrations.claude import (
    agentim_tools,
    handle_tool_use,
    make_tool_result_message,
)
from agentplaza.integrations.openai_tools import agentim_functions, handle_tool_call
from agentplaza.integrations.toolset import TOOLS
from tests.conftest import register
from tests.server import ServerProcess

NAMES = [t.name for t in TOOLS]


async def _inbox(client: httpx.AsyncClient, headers: dict[str, str]) -> list[str]:
    pending = (await client.get("/v1/messages/pending", headers=headers)).json()
    return [m["content"]["body"] for m in pending]


def test_tool_definitions_in_each_format() -> None:
    functions = agentim_functions()
    assert [f["function"]["name"] for f in functions] == NAMES
    assert all(f["type"] == "function" for f in functions)
    claude = agentim_tools()
    assert [t["name"] for t in claude] == NAMES
    send = next(t for t in claude if t["name"] == "agentim_send")
    assert send["input_schema"]["required"] == ["to", "body"]
    assert len(NAMES) == 18 and "agentim_wait" in NAMES


async def test_openai_tool_calls(server: ServerProcess, client: httpx.AsyncClient) -> None:
    openai_chat = pytest.importorskip("openai.types.chat", reason="openai is not installed")
    from openai.types.chat.chat_completion_message_tool_call import Function
    from openai.types.responses import ResponseFunctionToolCall

    alice, bob = await register(client), await register(client)
    call = openai_chat.ChatCompletionMessageToolCall(
        id="call_1",
        type="function",
        function=Function(
            name="agentim_send", arguments=json.dumps({"to": bob.id, "body": "from gpt"})
        ),
    )
    result = await handle_tool_call(call, api_key=alice.api_key, server=server.url)
    assert not result.is_error and "Sent message" in result
    as_dict = {
        "id": "call_2",
        "type": "function",
        "function": {"name": "agentim_send", "arguments": {"to": bob.id, "body": "as dict"}},
    }
    assert not (await handle_tool_call(as_dict, api_key=alice.api_key, server=server.url)).is_error
    responses_call = ResponseFunctionToolCall(
        call_id="c3", name="agentim_whoami", arguments="{}", type="function_call"
    )
    who = await handle_tool_call(responses_call, api_key=alice.api_key, server=server.url)
    assert alice.display_name in who
    assert await _inbox(client, bob.headers) == ["from gpt", "as dict"]

    # Failures are text for the model, flagged, not exceptions.
    broken = openai_chat.ChatCompletionMessageToolCall(
        id="call_4", type="function", function=Function(name="agentim_send", arguments="{nope")
    )
    bad = await handle_tool_call(broken, api_key=alice.api_key, server=server.url)
    assert bad.is_error and "not valid JSON" in bad
    unknown = {"function": {"name": "agentim_nothing", "arguments": "{}"}}
    assert (await handle_tool_call(unknown, api_key=alice.api_key, server=server.url)).is_error
    denied = await handle_tool_call(responses_call, api_key="am_wrong", server=server.url)
    assert denied.is_error and "401" in denied


async def test_claude_tool_use(server: ServerProcess, client: httpx.AsyncClient) -> None:
    anthropic_types = pytest.importorskip("anthropic.types", reason="anthropic is not installed")
    alice, bob = await register(client), await register(client)
    block = anthropic_types.ToolUseBlock(
        id="toolu_1",
        name="agentim_send",
        input={"to": bob.id, "body": "from claude"},
        type="tool_use",
    )
    result = await handle_tool_use(block, api_key=alice.api_key, server=server.url)
    assert not result.is_error and "Sent message" in result
    assert await _inbox(client, bob.headers) == ["from claude"]
    message = make_tool_result_message(block.id, result)
    assert message == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": str(result)}],
    }

    as_dict = {"type": "tool_use", "id": "toolu_2", "name": "agentim_send", "input": {"to": "1"}}
    failed = await handle_tool_use(as_dict, api_key=alice.api_key, server=server.url)
    assert failed.is_error and "missing" in failed
    answer = make_tool_result_message("toolu_2", failed)
    assert answer["content"][0]["is_error"] is True


async def test_langchain_tools(server: ServerProcess, client: httpx.AsyncClient) -> None:
    pytest.importorskip("langchain_core", reason="the langchain extra is not installed")
    from agentplaza.integrations.langchain import get_langchain_tools

    alice, bob = await register(client), await register(client)
    tools = {t.name: t for t in get_langchain_tools(api_key=alice.api_key, server=server.url)}
    assert list(tools) == NAMES
    assert set(tools["agentim_send"].args) == {"to", "body", "thread_id", "reply_to"}
    sent = await tools["agentim_send"].ainvoke({"to": bob.id, "body": "from langchain"})
    assert "Sent message" in sent
    assert await _inbox(client, bob.headers) == ["from langchain"]
    found = await tools["agentim_search_agents"].ainvoke({"query": bob.display_name})
    assert bob.id in found
    failed = await tools["agentim_send"].ainvoke({"to": "99999999", "body": "x"})
    assert failed.startswith("error:") and "404" in failed
