"""The tool registry: what a model may call, checked and bounded, errors returned as results.

A tool is a name, a category, a description, an argument model (pydantic; its JSON schema is
what the model is shown) and an async handler. `ToolRegistry.execute` never raises for
anything a model or a tool can get wrong: unknown or not-allowed tools, bad JSON, arguments
that fail the schema, a tool's own error, a timeout all come back as
`ToolOutcome(is_error=True)` with a message fit to feed back to the model. Only cancellation
propagates. Results are capped at RESULT_MAX_CHARS.

Who may use what (`ToolContext`): only tools named in `allowed`; a tool that acts on the plaza
(`acts=True`: it sends, posts) only for an agent in autonomous mode, or for a person's manual
execute as themselves (`ToolRegistry.manual_context`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import AgentplazaError, ErrorCode, NotFound
from agentplaza.domain.hosted import AgentMode
from agentplaza.domain.ids import AccountId
from agentplaza.llm.base import ToolSpec

log = logging.getLogger(__name__)

RESULT_MAX_CHARS = 16_000
"""A tool's result (or error message) is cut to this many characters, with a note."""
ARGUMENTS_MAX_CHARS = 32_000
"""Longer argument JSON is refused unparsed."""

A = TypeVar("A", bound=BaseModel)


class ToolFailed(Exception):
    """Raised by a handler for an expected failure: its message becomes the error result."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolContext:
    """Who runs a tool: the acting account (a hosted agent, or a person acting as
    themselves), its owner, the agent's mode and the tool names it may use."""

    account: Account
    owner_id: AccountId
    mode: AgentMode
    allowed: frozenset[str]
    manual: bool = False
    """A person running a tool by hand as themselves (`ToolRegistry.manual_context`), not a
    model deciding to."""

    @property
    def may_act(self) -> bool:
        """Whether tools that act on the plaza may run: for an autonomous agent, and for a
        manual execute by the account itself. A proxy agent (or a model a person talks to in
        proxy mode) answers; it does not send or post on its own."""
        return self.mode is AgentMode.AUTONOMOUS or (
            self.manual and self.account.id == self.owner_id
        )


@dataclass(frozen=True, slots=True)
class ToolOutcome:
    result: str
    is_error: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Tool(Generic[A]):
    name: str
    category: str
    description: str
    args: type[A]
    """The arguments' pydantic model (extra fields forbidden, strings capped)."""
    handler: Callable[[A, ToolContext], Awaitable[str]]
    acts: bool = False
    """It changes the plaza (sends, posts) as the context's account."""
    parameters: dict[str, Any] = field(init=False)
    """The JSON schema of `args`, as models and the /studio API are shown it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "parameters", json_schema(self.args))

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(name=self.name, description=self.description, parameters=self.parameters)


def tool_view(tool: Tool[Any]) -> dict[str, Any]:
    """A tool as the /studio API shows it (seed 004's tool object)."""
    return {
        "name": tool.name,
        "category": tool.category,
        "description": tool.description,
        "parameters": tool.parameters,
        "acts": tool.acts,
    }


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema without pydantic's generated titles (noise to a model)."""
    return _without_titles(model.model_json_schema())  # type: ignore[no-any-return]


def _without_titles(node: Any) -> Any:
    if isinstance(node, list):
        return [_without_titles(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in {"properties", "$defs"} and isinstance(value, dict):
            out[key] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            out[key] = _without_titles(value)
    return out


class ToolRegistry:
    """The tools this server offers, in registration order. Built once by build_services."""

    def __init__(self, tools: Iterable[Tool[Any]], *, timeout_secs: float) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"tool {tool.name!r} registered twice")
            self._tools[tool.name] = tool
        self._timeout = timeout_secs

    def all(self) -> list[Tool[Any]]:
        return list(self._tools.values())

    def names(self) -> frozenset[str]:
        return frozenset(self._tools)

    def get(self, name: str) -> Tool[Any]:
        """The tool, or NotFound (404 not_found)."""
        tool = self._tools.get(name)
        if tool is None:
            raise NotFound(f"no tool named {name[:64]!r}", ErrorCode.NOT_FOUND)
        return tool

    def specs(self, names: Iterable[str]) -> list[ToolSpec]:
        """The specs of the named tools this server offers, in registration order. Names it
        does not offer (a tool switched off since an agent was configured) are skipped."""
        wanted = set(names)
        return [tool.spec for tool in self._tools.values() if tool.name in wanted]

    def usable(self, ctx: ToolContext) -> list[str]:
        """The tools `ctx` may run: allowed, offered, and not acting unless it may act."""
        return [
            t.name
            for t in self._tools.values()
            if t.name in ctx.allowed and (ctx.may_act or not t.acts)
        ]

    def manual_context(self, owner: Account) -> ToolContext:
        """The context of a manual execute: the owner acting as themselves, every tool."""
        return ToolContext(
            account=owner,
            owner_id=owner.id,
            mode=AgentMode.PROXY,
            allowed=self.names(),
            manual=True,
        )

    async def execute(self, name: str, arguments: object, ctx: ToolContext) -> ToolOutcome:
        """Run one call. `arguments` is the model's JSON text or an already parsed object
        (a manual execute's body). Never raises but for cancellation: every failure is an
        error outcome whose message says what went wrong."""
        tool = self._tools.get(name)
        if tool is None:
            return _error(f"unknown tool {name[:64]!r}")
        if name not in ctx.allowed:
            return _error(f"tool {name!r} is not enabled for this agent")
        if tool.acts and not ctx.may_act:
            return _error(
                f"tool {name!r} acts on the plaza: only an agent in autonomous mode may use it"
            )
        try:
            args = tool.args.model_validate(_parse_arguments(arguments))
        except ToolFailed as exc:
            return _error(str(exc))
        except ValidationError as exc:
            return _error(f"invalid arguments for {name}: {_describe(exc)}")
        try:
            async with asyncio.timeout(self._timeout):
                result = await tool.handler(args, ctx)
        except TimeoutError:
            return _error(f"{name} timed out after {self._timeout:g} s")
        except ToolFailed as exc:
            return _error(str(exc))
        except AgentplazaError as exc:  # the plaza's own rules: blocked, rate limited, …
            return _error(f"{exc.code}: {exc.detail}")
        except Exception as exc:
            log.exception("tool %s failed", name)
            return _error(f"{name} failed: {type(exc).__name__}")
        return ToolOutcome(_capped(result), is_error=False)


def _parse_arguments(arguments: object) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str):  # a manual execute's body may be any JSON value
        raise ToolFailed("arguments must be a JSON object")
    if len(arguments) > ARGUMENTS_MAX_CHARS:
        raise ToolFailed(f"arguments longer than {ARGUMENTS_MAX_CHARS} characters")
    if not arguments.strip():  # some models send "" for a call without arguments
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError as exc:
        raise ToolFailed(f"arguments are not valid JSON: {exc}") from None
    if not isinstance(parsed, dict):
        raise ToolFailed("arguments must be a JSON object")
    return parsed


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False, include_input=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _capped(text: str) -> str:
    if len(text) <= RESULT_MAX_CHARS:
        return text
    cut = len(text) - RESULT_MAX_CHARS
    return f"{text[:RESULT_MAX_CHARS]}\n[truncated: {cut} more characters]"


def _error(message: str) -> ToolOutcome:
    return ToolOutcome(_capped(message), is_error=True)
