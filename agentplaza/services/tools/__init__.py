"""The tool registry and the built-in tools (docs/studio.md "Tools").

`build_tools` is called once by services/registry.py::build_services; conversations, chat
rooms and hosted agents reach the registry as `Services.tools`, the turn runner
(services/turns.py) runs its tools.
"""

from __future__ import annotations

from typing import Any

from agentplaza.services.accounts import Accounts
from agentplaza.services.groups import Groups
from agentplaza.services.moments import Moments
from agentplaza.services.ratelimits import RateLimiter
from agentplaza.services.runtime import Runtime
from agentplaza.services.sending import Sending
from agentplaza.services.tools.builtin import calculator_tool, current_time_tool
from agentplaza.services.tools.fetch import http_fetch_tool, parse_allowed_hosts
from agentplaza.services.tools.plaza import plaza_tools
from agentplaza.services.tools.registry import (
    Tool,
    ToolContext,
    ToolFailed,
    ToolOutcome,
    ToolRegistry,
    tool_view,
)

__all__ = [
    "Tool",
    "ToolContext",
    "ToolFailed",
    "ToolOutcome",
    "ToolRegistry",
    "build_tools",
    "tool_view",
]


def build_tools(
    runtime: Runtime,
    *,
    sending: Sending,
    accounts: Accounts,
    groups: Groups,
    moments: Moments,
    limiter: RateLimiter,
) -> ToolRegistry:
    """The server's registry: time, math, plaza actions, and http_fetch when the
    `llm_http_fetch_allowed_hosts` setting names hosts."""
    settings = runtime.settings
    tools: list[Tool[Any]] = [current_time_tool(runtime.clock_us), calculator_tool()]
    tools += plaza_tools(
        sending=sending, accounts=accounts, groups=groups, moments=moments, limiter=limiter
    )
    hosts = parse_allowed_hosts(settings.llm_http_fetch_allowed_hosts)
    if hosts:
        tools.append(http_fetch_tool(hosts))
    return ToolRegistry(tools, timeout_secs=settings.llm_tool_timeout_secs)
