"""Built-in tools that only compute: `current_time` and `calculator`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field

from agentplaza.domain.calculator import (
    CONSTANT_NAMES,
    FUNCTION_NAMES,
    MAX_EXPRESSION_CHARS,
    CalcError,
    evaluate,
    format_number,
)
from agentplaza.services.tools.registry import Tool, ToolContext, ToolFailed


class CurrentTimeArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="An IANA time zone such as Europe/Paris or Asia/Shanghai; UTC when absent.",
    )


class CalculatorArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expression: str = Field(
        min_length=1,
        max_length=MAX_EXPRESSION_CHARS,
        description="An arithmetic expression, e.g. (2 + 3) * sqrt(16) / 2 ** 3.",
    )


def current_time_tool(clock_us: Callable[[], int]) -> Tool[CurrentTimeArgs]:
    async def current_time(args: CurrentTimeArgs, ctx: ToolContext) -> str:
        name = args.timezone or "UTC"
        try:
            zone = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):  # ValueError: "../x", absolute paths
            raise ToolFailed(
                f"unknown time zone {name!r} (use an IANA name such as Europe/Paris)"
            ) from None
        now = datetime.fromtimestamp(clock_us() / 1_000_000, tz=UTC).astimezone(zone)
        view = {
            "timezone": name,
            "iso": now.isoformat(timespec="seconds"),
            "weekday": now.strftime("%A"),
            "unix": int(now.timestamp()),
        }
        return orjson.dumps(view).decode()

    return Tool(
        name="current_time",
        category="time",
        description="The current date and time, in UTC or in the given IANA time zone.",
        args=CurrentTimeArgs,
        handler=current_time,
    )


async def _calculate(args: CalculatorArgs, ctx: ToolContext) -> str:
    try:
        return format_number(evaluate(args.expression))
    except CalcError as exc:
        raise ToolFailed(f"calculator: {exc}") from None


def calculator_tool() -> Tool[CalculatorArgs]:
    return Tool(
        name="calculator",
        category="math",
        description=(
            "Evaluate an arithmetic expression exactly: + - * / // % ** and parentheses, "
            f"functions {', '.join(FUNCTION_NAMES)}, constants {', '.join(CONSTANT_NAMES)}."
        ),
        args=CalculatorArgs,
        handler=_calculate,
    )
