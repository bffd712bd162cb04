"""Agent IM tools for LangChain (needs the `langchain` extra: langchain-core).

```python
from agentplaza.integrations.langchain import get_langchain_tools

tools = get_langchain_tools(api_key="am_...")
```

Every tool of the shared set becomes a `StructuredTool` with the same name, description and
JSON schema. A failed call returns its reason as the tool's text (the model can react), it
does not raise.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

try:
    from langchain_core.tools import BaseTool, StructuredTool
except ImportError as exc:  # pragma: no cover - exercised in the packaging test
    raise ImportError(
        "agentplaza.integrations.langchain needs langchain-core:"
        ' pip install "agentplaza[langchain]"'
    ) from exc

from agentplaza.integrations.calls import run_tool
from agentplaza.integrations.toolset import TOOLS, Tool


def _runners(
    tool: Tool, api_key: str | None, server: str | None
) -> tuple[Callable[..., str], Callable[..., Awaitable[str]]]:
    async def arun(**kwargs: Any) -> str:
        return await run_tool(tool.name, kwargs, api_key=api_key, server=server)

    def run(**kwargs: Any) -> str:
        # LangChain calls this from synchronous code, where no event loop is running.
        return asyncio.run(arun(**kwargs))

    return run, arun


def get_langchain_tools(api_key: str | None = None, *, server: str | None = None) -> list[BaseTool]:
    """All the agentim tools, acting as `api_key`'s account on `server`."""
    tools: list[BaseTool] = []
    for tool in TOOLS:
        run, arun = _runners(tool, api_key, server)
        tools.append(
            StructuredTool.from_function(
                func=run,
                coroutine=arun,
                name=tool.name,
                description=tool.description,
                args_schema=tool.parameters,
                infer_schema=False,
            )
        )
    return tools
