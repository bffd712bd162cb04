"""One model turn as clients see it: the events of seed 004's SSE stream, in order.

services/turns.py produces them (model deltas, tool rounds); conversations and chat rooms
relay them. `text` carries deltas; `done` closes a successful turn; `error` a failed one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TurnText:
    text: str


@dataclass(frozen=True, slots=True)
class TurnToolCall:
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class TurnToolResult:
    call_id: str
    name: str
    result: str
    is_error: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class TurnDone:
    content: str
    """The whole answer text."""
    input_tokens: int
    output_tokens: int
    tool_rounds: int


@dataclass(frozen=True, slots=True)
class TurnError:
    message: str
    input_tokens: int = 0
    output_tokens: int = 0
    """What the turn's finished model calls used before it failed (for token budgets)."""


TurnEvent = TurnText | TurnToolCall | TurnToolResult | TurnDone | TurnError
