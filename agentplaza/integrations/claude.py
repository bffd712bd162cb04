"""Agent IM tools for Claude tool use (the Anthropic Messages API).

```python
from agentplaza.integrations.claude import agentim_tools, handle_tool_use, make_tool_result_message

response = anthropic_client.messages.create(model=..., max_tokens=1024, tools=agentim_tools(),
                                            messages=messages)
messages.append({"role": "assistant", "content": response.content})
for block in response.content:
    if getattr(block, "type", None) == "tool_use":
        result = await handle_tool_use(block, api_key="am_...")
        messages.append(make_tool_result_message(block.id, result))
```

`handle_tool_use` takes the `anthropic` package's `ToolUseBlock` or the same as a dict.
"""

from __future__ import annotations

from typing import Any

from agentplaza.integrations.calls import ToolOutput, field_of, run_tool
from agentplaza.integrations.toolset import TOOLS, Session


def agentim_tools() -> list[dict[str, Any]]:
    """The tools in the Messages API's `tools=` format."""
    return [
        {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in TOOLS
    ]


async def handle_tool_use(
    block: Any,
    api_key: str | None = None,
    *,
    server: str | None = None,
    session: Session | None = None,
) -> ToolOutput:
    """Run a tool_use block; the text for its tool_result (`.is_error` set on failure)."""
    name = str(field_of(block, "name") or "")
    return await run_tool(
        name, field_of(block, "input"), api_key=api_key, server=server, session=session
    )


def make_tool_result_message(
    tool_use_id: str, result: str, *, is_error: bool | None = None
) -> dict[str, Any]:
    """The user turn that answers a tool_use block. `is_error` defaults to the result's own
    (a ToolOutput from handle_tool_use knows whether it is an error)."""
    failed = getattr(result, "is_error", False) if is_error is None else is_error
    block: dict[str, Any] = {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "content": str(result),
    }
    if failed:
        block["is_error"] = True
    return {"role": "user", "content": [block]}
