"""The scripted model server's wire formats: OpenAI chat completions and Anthropic Messages.

Each function turns a scripted reply (already split into pieces) into what the real service
sends, so that the official `openai` and `anthropic` packages parse it as they parse the real
thing. Used only by tests/llmfake.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Piece:
    """One streamed delta: text, thinking, or a fragment of tool call `call`'s arguments."""

    kind: str  # "text" | "thinking" | "args"
    text: str
    call: int = -1
    call_id: str = ""
    name: str = ""


OPENAI_STOP = {"stop": "stop", "tool_calls": "tool_calls", "length": "length"}
ANTHROPIC_STOP = {"stop": "end_turn", "tool_calls": "tool_use", "length": "max_tokens"}


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    body = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{head}data: {body}\n\n".encode()


# --- OpenAI -------------------------------------------------------------------------------


def openai_chunks(
    pieces: list[Piece], *, model: str, rid: str, stop: str, usage: dict[str, int] | None
) -> Iterator[tuple[bytes, bool]]:
    """`data:` lines of a chat.completion.chunk stream; one per piece, then finish, usage, DONE.
    Each frame comes with whether it carries a piece (the deltas the fake paces and counts)."""
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return sse(_openai_chunk(rid, created, model, [choice]))

    yield chunk({"role": "assistant", "content": ""}), False
    started: set[int] = set()
    for p in pieces:
        if p.kind == "text":
            yield chunk({"content": p.text}), True
        elif p.kind == "thinking":
            # DeepSeek's and vLLM's field for reasoning; the openai package keeps it as an extra.
            yield chunk({"reasoning_content": p.text}), True
        else:
            call: dict[str, Any] = {"index": p.call, "function": {"arguments": p.text}}
            if p.call not in started:
                started.add(p.call)
                call.update(id=p.call_id, type="function")
                call["function"]["name"] = p.name
            yield chunk({"tool_calls": [call]}), True
    yield chunk({}, OPENAI_STOP.get(stop, stop)), False
    if usage is not None:
        yield sse(_openai_chunk(rid, created, model, [], openai_usage(usage))), False
    yield sse("[DONE]"), False


def _openai_chunk(
    rid: str, created: int, model: str, choices: list[Any], usage: Any = None
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
        "usage": usage,
    }


def openai_stream_error(message: str) -> bytes:
    """An error inside a 200 stream, as OpenAI-compatible servers send it."""
    return sse({"error": {"message": message, "type": "server_error", "code": None}})


def openai_usage(usage: dict[str, int]) -> dict[str, int]:
    i, o = usage["input_tokens"], usage["output_tokens"]
    return {"prompt_tokens": i, "completion_tokens": o, "total_tokens": i + o}


def openai_completion(
    pieces: list[Piece], *, model: str, rid: str, stop: str, usage: dict[str, int]
) -> dict[str, Any]:
    text = "".join(p.text for p in pieces if p.kind == "text")
    thinking = "".join(p.text for p in pieces if p.kind == "thinking")
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    calls = _assembled_calls(pieces)
    if calls:
        message["tool_calls"] = [
            {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
            for cid, name, args in calls
        ]
    if thinking:
        message["reasoning_content"] = thinking
    return {
        "id": rid,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": OPENAI_STOP[stop]}
        ],
        "usage": openai_usage(usage),
    }


def openai_error(status: int, message: str) -> dict[str, Any]:
    kind = {429: "rate_limit_exceeded", 401: "invalid_api_key"}.get(status, "server_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def openai_models(ids: list[str]) -> dict[str, Any]:
    data = [{"id": i, "object": "model", "created": 0, "owned_by": "fake"} for i in ids]
    return {"object": "list", "data": data}


# --- Anthropic ----------------------------------------------------------------------------


def anthropic_events(
    pieces: list[Piece], *, model: str, rid: str, stop: str, usage: dict[str, int]
) -> Iterator[tuple[bytes, bool]]:
    """The Messages stream: message_start, a content block per run of pieces, message_delta
    with the stop reason and output tokens, message_stop."""
    start: dict[str, Any] = {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": usage["input_tokens"], "output_tokens": 1},
    }
    yield sse({"type": "message_start", "message": start}, "message_start"), False
    yield sse({"type": "ping"}, "ping"), False
    index, current = -1, None  # the open block: (kind, call)
    for p in pieces:
        if current != (p.kind, p.call):
            if current is not None:
                yield _stop_block(index, current[0]), False
            index, current = index + 1, (p.kind, p.call)
            block: dict[str, Any] = {"type": "text", "text": ""}
            if p.kind == "thinking":
                block = {"type": "thinking", "thinking": "", "signature": ""}
            elif p.kind == "args":
                block = {"type": "tool_use", "id": p.call_id, "name": p.name, "input": {}}
            event = {"type": "content_block_start", "index": index, "content_block": block}
            yield sse(event, "content_block_start"), False
        delta = {"type": "text_delta", "text": p.text}
        if p.kind == "thinking":
            delta = {"type": "thinking_delta", "thinking": p.text}
        elif p.kind == "args":
            delta = {"type": "input_json_delta", "partial_json": p.text}
        event = {"type": "content_block_delta", "index": index, "delta": delta}
        yield sse(event, "content_block_delta"), True
    if current is not None:
        yield _stop_block(index, current[0]), False
    delta_event = {
        "type": "message_delta",
        "delta": {"stop_reason": ANTHROPIC_STOP.get(stop, stop), "stop_sequence": None},
        "usage": {"output_tokens": usage["output_tokens"]},
    }
    yield sse(delta_event, "message_delta"), False
    yield sse({"type": "message_stop"}, "message_stop"), False


def _stop_block(index: int, kind: str) -> bytes:
    out = b""
    if kind == "thinking":
        sig = {"type": "signature_delta", "signature": "ZmFrZQ=="}
        out = sse(
            {"type": "content_block_delta", "index": index, "delta": sig}, "content_block_delta"
        )
    return out + sse({"type": "content_block_stop", "index": index}, "content_block_stop")


def anthropic_message(
    pieces: list[Piece], *, model: str, rid: str, stop: str, usage: dict[str, int]
) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    thinking = "".join(p.text for p in pieces if p.kind == "thinking")
    if thinking:
        content.append({"type": "thinking", "thinking": thinking, "signature": "ZmFrZQ=="})
    text = "".join(p.text for p in pieces if p.kind == "text")
    if text:
        content.append({"type": "text", "text": text})
    for cid, name, args in _assembled_calls(pieces):
        try:
            arguments = json.loads(args or "{}")
        except ValueError:
            arguments = {}
        content.append({"type": "tool_use", "id": cid, "name": name, "input": arguments})
    return {
        "id": rid,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": ANTHROPIC_STOP[stop],
        "stop_sequence": None,
        "usage": dict(usage),
    }


def anthropic_error(status: int, message: str) -> dict[str, Any]:
    kind = {
        429: "rate_limit_error",
        401: "authentication_error",
        400: "invalid_request_error",
        404: "not_found_error",
        529: "overloaded_error",
    }.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def anthropic_stream_error(message: str) -> bytes:
    """Anthropic's `event: error` inside a 200 stream (it sends overload this way)."""
    return sse(anthropic_error(529, message), "error")


def anthropic_models(ids: list[str]) -> dict[str, Any]:
    data = [
        {"type": "model", "id": i, "display_name": i, "created_at": "2026-01-01T00:00:00Z"}
        for i in ids
    ]
    first, last = (ids[0], ids[-1]) if ids else (None, None)
    return {"data": data, "has_more": False, "first_id": first, "last_id": last}


def _assembled_calls(pieces: list[Piece]) -> list[tuple[str, str, str]]:
    calls: dict[int, tuple[str, str, str]] = {}
    for p in pieces:
        if p.kind == "args":
            cid, name, args = calls.get(p.call, (p.call_id, p.name, ""))
            calls[p.call] = (cid, name, args + p.text)
    return [calls[k] for k in sorted(calls)]
