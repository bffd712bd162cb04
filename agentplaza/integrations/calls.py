"""One tool call from a model, run end to end: arguments parsed from JSON text or an
object, a client for the call (or a shared session), failures turned into flagged text.
The OpenAI, Claude and LangChain adapters are thin shells over `run_tool`."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from agentplaza.integrations.toolset import Session, ToolError, call_tool


class ToolOutput(str):
    """A tool's text for the model; `is_error` says whether it is a failure's reason (the
    Claude adapter sets tool_result.is_error from it)."""

    is_error: bool

    def __new__(cls, text: str, is_error: bool = False) -> ToolOutput:
        out = super().__new__(cls, text)
        out.is_error = is_error
        return out


def field_of(obj: Any, name: str) -> Any:
    """A field of an SDK's object (an attribute) or of the same as a dict (a key)."""
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def parse_arguments(raw: Any) -> dict[str, Any]:
    """Arguments as a model sends them: a JSON object, or its text (OpenAI sends text)."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ToolError(f"arguments are not valid JSON: {exc}") from exc
    if not isinstance(raw, Mapping):
        raise ToolError("arguments must be a JSON object")
    return dict(raw)


async def run_tool(
    name: str,
    arguments: Any,
    *,
    api_key: str | None = None,
    server: str | None = None,
    session: Session | None = None,
) -> ToolOutput:
    """Run one tool call from a model; never raises for a failed call (the output says why,
    with is_error set). Uses `session` if given, else a client for just this call."""
    own = session is None
    active = session or Session(api_key, server=server)
    try:
        return ToolOutput(await call_tool(active, name, parse_arguments(arguments)))
    except ToolError as exc:
        return ToolOutput(f"error: {exc}", is_error=True)
    finally:
        if own:
            await active.aclose()
