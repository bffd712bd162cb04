"""/studio/api/tools: the tool registry (services/tools/) and the owner's manual execute.

A manual execute runs the tool as the caller acting as themselves (ToolRegistry's manual
context): a plaza tool sends or posts as the caller, under the caller's own rules and budgets.
The body is the arguments object itself, as seed 004 shows it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from agentplaza.api.auth import CurrentAccount, ServicesDep
from agentplaza.api.budgets import WRITES
from agentplaza.api.dialects.studio.envelope import StudioRoute, ok
from agentplaza.domain.errors import ErrorCode, Invalid, PayloadTooLarge
from agentplaza.services.tools.registry import ARGUMENTS_MAX_CHARS, tool_view

router = APIRouter(prefix="/studio/api/tools", tags=["dialect: /studio"], route_class=StudioRoute)
ToolName = Annotated[str, Path(max_length=64)]


@router.get("/", summary="The tools this server offers, by category")
async def list_tools(account: CurrentAccount, services: ServicesDep) -> Response:
    views = [tool_view(t) for t in services.tools.all()]
    categorized: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for view in views:
        categorized[view["category"]].append(view)
    return ok({"tools": views, "categorized": dict(categorized), "total": len(views)})


@router.get("/{name}", summary="One tool with its JSON schema")
async def get_tool(name: ToolName, account: CurrentAccount, services: ServicesDep) -> Response:
    return ok(tool_view(services.tools.get(name)))


@router.post(
    "/{name}/execute",
    dependencies=[WRITES],
    summary="Run a tool by hand, as yourself; the body is its arguments",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {"type": "object"}}},
            "required": False,
        }
    },
)
async def execute_tool(
    name: ToolName, request: Request, account: CurrentAccount, services: ServicesDep
) -> Response:
    tools = services.tools
    tools.get(name)  # 404 before the body is read
    raw = await request.body()
    if len(raw) > ARGUMENTS_MAX_CHARS:
        raise PayloadTooLarge(f"arguments larger than {ARGUMENTS_MAX_CHARS} bytes")
    try:
        arguments = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise Invalid("request body is not valid JSON", ErrorCode.INVALID_JSON) from None
    if not isinstance(arguments, dict):
        raise Invalid("the body must be a JSON object: the tool's arguments")
    outcome = await tools.execute(name, arguments, tools.manual_context(account))
    return ok({"result": outcome.result, "is_error": outcome.is_error})
