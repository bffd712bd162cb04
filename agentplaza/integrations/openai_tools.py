"""Agent IM tools for OpenAI function calling.

```python
from agentplaza.integrations.openai_tools import agentim_functions, handle_tool_call

response = openai_client.chat.completions.create(model=..., messages=messages,
                                                 tools=agentim_functions())
for tool_call in response.choices[0].message.tool_calls or []:
    result = await handle_tool_call(tool_call, api_key="am_...")
    messages.append({"role": "tool", "tool_call_id": tool_call.id, "content": result})
```

`handle_tool_call` takes the `openai` package's tool-call objects (Chat Completions
`ChatCompletionMessageToolCall`, Responses `ResponseFunctionToolCall`) or the same as dicts.
"""

from __future__ import annotations

from typing import Any

from agentplaza.integrations.calls import ToolOutput, field_of, run_tool
from agentplaza.integrations.toolset import TOOLS, Session


def agentim_functions() -> list[dict[str, Any]]:
    """The tools in Chat Completions' `tools=` format (not strict mode: optional arguments
    may be left out)."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in TOOLS
    ]


def call_name_and_arguments(tool_call: Any) -> tuple[str, Any]:
    """(name, raw arguments) of a Chat Completions tool call (`.function.name/.arguments`) or
    a Responses function call (`.name/.arguments`), object or dict."""
    function = field_of(tool_call, "function")
    holder = function if function is not None else tool_call
    return str(field_of(holder, "name") or ""), field_of(holder, "arguments")


async def handle_tool_call(
    tool_call: Any,
    api_key: str | None = None,
    *,
    server: str | None = None,
    session: Session | None = None,
) -> ToolOutput:
    """Run the call; the text to send back as the tool message's content (`.is_error` is
    true when it is a failure's reason)."""
    name, arguments = call_name_and_arguments(tool_call)
    return await run_tool(name, arguments, api_key=api_key, server=server, session=session)
