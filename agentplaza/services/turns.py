"""The turn runner: one model answer with its tool rounds, as the events clients see.

Conversations, chat rooms and hosted agents all answer through `Turns.run`: it streams the
model's text, runs the tool calls the model makes through the registry (only the tools the
context may use), feeds the results back and calls the model again, up to a bound on rounds.

Guarantees of one run:
- it ends with exactly one TurnDone or one TurnError, and yields nothing after it; a
  TurnError carries the tokens of the model calls that finished before the failure;
- TurnDone.content is every text delta of the turn concatenated (what a streaming client
  showed), its token counts the sums over every model call, `tool_rounds` the rounds run;
- tool failures are TurnToolResult(is_error=True) fed back to the model, never an error of the
  turn; a ProviderError (after the client's retries) is the TurnError, with its message;
- the model stream is closed (`aclose`) however the run ends: when the consumer stops
  iterating (close the generator, e.g. `contextlib.aclosing`) or cancels its task, the
  upstream HTTP response is closed and no more tokens are generated for nobody.

The rounds bound (`llm_max_tool_rounds`, or `max_rounds`): after that many tool rounds the
model is called once more with the tools still declared (a history holding tool calls must
declare them for some providers) and told in the system prompt to answer without tools. If it
asks for tools anyway, they are not run and the turn ends with a TurnError saying so.
Calls within one round run one after another, in the order the model made them (two sends
keep their order).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field, replace

from agentplaza.domain.turns import (
    TurnDone,
    TurnError,
    TurnEvent,
    TurnText,
    TurnToolCall,
    TurnToolResult,
)
from agentplaza.llm.base import (
    ChatMessage,
    ModelClient,
    ModelRequest,
    ProviderError,
    Role,
    TextDelta,
    ToolCall,
    ToolCallRequested,
    ToolSpec,
    Usage,
)
from agentplaza.services.tools.registry import ToolContext, ToolOutcome, ToolRegistry

log = logging.getLogger(__name__)

LAST_ROUND_NOTE = (
    "The tool round limit of this answer is reached: do not call any tool now; answer with"
    " what you have."
)


@dataclass(slots=True)
class _Round:
    """What one model call produced."""

    text: list[str] = field(default_factory=list)
    calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0


class Turns:
    def __init__(self, tools: ToolRegistry, *, max_rounds: int) -> None:
        self._tools = tools
        self._max_rounds = max_rounds

    async def run(
        self,
        client: ModelClient,
        request: ModelRequest,
        *,
        tools: ToolContext | None,
        max_rounds: int | None = None,
    ) -> AsyncGenerator[TurnEvent, None]:
        """The turn's events (module docstring). Without a context no tools are offered.
        With one, `request.tools` is offered as given, or, when empty, every tool the
        context may use."""
        limit = max(0, self._max_rounds if max_rounds is None else max_rounds)
        offered = self._offered(request.tools, tools) if limit > 0 else []
        messages = list(request.messages)
        content: list[str] = []
        input_tokens = output_tokens = rounds = 0
        while True:
            last = rounds >= limit
            call = replace(
                request,
                messages=tuple(messages),
                tools=tuple(offered),
                system=_with_note(request.system) if last and offered else request.system,
            )
            done = _Round()
            try:
                # aclosing: a consumer that stops at one of our yields closes this inner
                # generator now (and with it the model stream), not when it is collected.
                async with aclosing(self._call(client, call, done, announce=not last)) as events:
                    async for event in events:
                        yield event
            except ProviderError as exc:
                yield TurnError(exc.message, input_tokens, output_tokens)
                return
            except Exception as exc:  # a client bug must still end the turn with an event
                log.exception("model call failed")
                yield TurnError(
                    f"model call failed: {type(exc).__name__}", input_tokens, output_tokens
                )
                return
            content += done.text
            input_tokens += done.input_tokens
            output_tokens += done.output_tokens
            if not done.calls:
                yield TurnDone(
                    content="".join(content),
                    input_tokens=input_tokens,
                    output_tokens=output_tokens,
                    tool_rounds=rounds,
                )
                return
            if last:
                yield TurnError(
                    f"stopped after {rounds} tool rounds: the model asked for more tools"
                    " (the bound is the llm_max_tool_rounds setting)",
                    input_tokens,
                    output_tokens,
                )
                return
            messages.append(
                ChatMessage(
                    role=Role.ASSISTANT, content="".join(done.text), tool_calls=tuple(done.calls)
                )
            )
            for tool_call in done.calls:
                outcome = await self._execute(tool_call, tools)
                yield TurnToolResult(tool_call.id, tool_call.name, outcome.result, outcome.is_error)
                messages.append(
                    ChatMessage(
                        role=Role.TOOL,
                        content=outcome.result,
                        tool_call_id=tool_call.id,
                        name=tool_call.name,
                    )
                )
            rounds += 1

    def _offered(self, given: Sequence[ToolSpec], ctx: ToolContext | None) -> list[ToolSpec]:
        if ctx is None:
            return []
        return list(given) if given else self._tools.specs(self._tools.usable(ctx))

    async def _call(
        self, client: ModelClient, request: ModelRequest, into: _Round, *, announce: bool
    ) -> AsyncGenerator[TurnEvent, None]:
        """One model call: yields text (and, unless `announce` is off, tool calls) as they
        stream, collects the rest into `into`; closes the stream however it ends."""
        stream = client.stream(request)
        try:
            async for event in stream:
                match event:
                    case TextDelta(text=text) if text:
                        into.text.append(text)
                        yield TurnText(text)
                    case ToolCallRequested(call=tool_call):
                        into.calls.append(tool_call)
                        if announce:
                            yield TurnToolCall(tool_call.id, tool_call.name, tool_call.arguments)
                    case Usage(input_tokens=used_in, output_tokens=used_out):
                        into.input_tokens += used_in
                        into.output_tokens += used_out
                    case _:
                        pass  # thinking is not relayed; Finished adds nothing the calls don't
        finally:
            closer = getattr(stream, "aclose", None)
            if closer is not None:
                await closer()

    async def _execute(self, call: ToolCall, ctx: ToolContext | None) -> ToolOutcome:
        if ctx is None:
            return ToolOutcome("no tools are available in this conversation", is_error=True)
        return await self._tools.execute(call.name, call.arguments, ctx)


def _with_note(system: str | None) -> str:
    return f"{system}\n\n{LAST_ROUND_NOTE}" if system else LAST_ROUND_NOTE
