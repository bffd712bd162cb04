"""Seed 004's /studio/api/messages calls against the scripted model server, on both backends:
non-streamed and SSE answers, tool rounds, cancellation on disconnect, provider failures."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.llmfake import Call, FakeLLM, Reply
from tests.studio.conftest import Human, register_human
from tests.studio.conversation_calls import (
    MESSAGES,
    STREAM,
    add_provider,
    create,
    error_of,
    messages_of,
    ok_data,
    parse_sse,
    stream,
)


async def test_non_streamed_send(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-large", system_prompt="Be brief.")
    fake_llm.script(Reply(text="hello there", input_tokens=12, output_tokens=3))
    body = {"conversation_id": conv["id"], "content": "hi!", "tools_enabled": False}
    data = ok_data(await studio.post(MESSAGES, json=body, headers=owner.headers))
    assert data["id"].startswith("msg_") and data["role"] == "assistant"
    assert data["content"] == "hello there" and data["status"] == "complete"
    assert data["input_tokens"] == 12 and data["output_tokens"] == 3 and data["token_count"] == 15
    assert data["conversation_id"] == conv["id"] and data["tool_calls"] == []
    user = data["user_message"]
    assert user["role"] == "user" and user["content"] == "hi!" and user["status"] == "complete"
    sent = fake_llm.chat_requests[-1].body
    assert sent["model"] == "fake-large" and "tools" not in sent
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi!"},
    ]
    listed = ok_data(await studio.get(MESSAGES + conv["id"], headers=owner.headers))
    assert set(listed) == {"items", "total", "page", "page_size"}
    assert listed["total"] == 2 and listed["page"] == 1 and listed["page_size"] == 20
    assert [m["id"] for m in listed["items"]] == [user["id"], data["id"]]
    got = ok_data(
        await studio.get("/studio/api/conversations/" + conv["id"], headers=owner.headers)
    )
    assert got["message_count"] == 2 and got["last_message_at"] is not None


async def test_history_goes_to_the_model(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-small", system_prompt=None)
    for text in ("one", "two"):
        body = {"conversation_id": conv["id"], "content": text, "tools_enabled": False}
        ok_data(await studio.post(MESSAGES, json=body, headers=owner.headers))
    assert fake_llm.chat_requests[-1].body["messages"] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "echo: one"},
        {"role": "user", "content": "two"},
    ]


async def test_stream_with_a_tool_round(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-small")
    fake_llm.script(
        Reply(
            text="Let me compute. ", tool_calls=[Call("calculator", {"expression": "6*7"}, "c1")]
        ),
        Reply(text="It is 42.", input_tokens=30, output_tokens=4),
    )
    events = await stream(studio, owner, conv["id"], "what is 6*7?")
    names = [name for name, _ in events]
    first_call = names.index("tool_call")
    assert names[:first_call] and set(names[:first_call]) == {"text"}
    assert names[first_call : first_call + 2] == ["tool_call", "tool_result"]
    assert set(names[first_call + 2 : -1]) == {"text"} and names[-1] == "done"
    call, result = events[first_call][1], events[first_call + 1][1]
    assert call["id"] == "c1" and call["name"] == "calculator"
    assert json.loads(call["arguments"]) == {"expression": "6*7"}
    assert result == {
        "id": "c1",
        "name": "calculator",
        "result": result["result"],
        "is_error": False,
    }
    assert "42" in result["result"]
    text = "".join(d["content"] for n, d in events if n == "text")
    assert text == "Let me compute. It is 42."
    done = events[-1][1]
    assert done["input_tokens"] >= 30 and done["output_tokens"] >= 4
    assert done["token_count"] == done["input_tokens"] + done["output_tokens"]
    # The tools offered: the passive ones only (no plaza actions for a chat with a model).
    offered = {t["function"]["name"] for t in fake_llm.chat_requests[0].body["tools"]}
    assert "calculator" in offered and "send_direct_message" not in offered
    stored = await messages_of(studio, owner, conv["id"])
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "complete"),
        ("assistant", "complete"),
        ("tool", "complete"),
        ("assistant", "complete"),
    ]
    assert stored[1]["content"] == "Let me compute. " and stored[1]["tool_calls"][0]["id"] == "c1"
    assert stored[2]["tool_call_id"] == "c1" and stored[2]["name"] == "calculator"
    assert stored[3]["id"] == done["message_id"] and stored[3]["content"] == "It is 42."
    # The next turn's history carries the round in the providers' shape.
    await stream(studio, owner, conv["id"], "thanks", tools=False)
    system, *history = fake_llm.chat_requests[-1].body["messages"]
    assert system == {"role": "system", "content": "You are terse."}
    assert [m["role"] for m in history] == ["user", "assistant", "tool", "assistant", "user"]
    assert history[1]["tool_calls"][0]["id"] == "c1" and history[2]["tool_call_id"] == "c1"


async def test_disconnect_mid_stream_cancels_the_model_call(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-small")
    words = " ".join(f"w{i}" for i in range(400))
    fake_llm.script(Reply(text=words, tokens_per_sec=40))
    body = {"conversation_id": conv["id"], "content": "talk", "tools_enabled": False}
    received = ""
    async with studio.stream("POST", STREAM, json=body, headers=owner.headers) as r:
        assert r.status_code == 200
        async for chunk in r.aiter_text():
            received += chunk
            if received.count("event: text") >= 3:
                break
    # Leaving the block closed the connection mid-stream.
    await fake_llm.until(lambda: fake_llm.disconnects == 1)
    assert fake_llm.completed == 0

    async def cancelled() -> dict[str, Any]:
        while True:
            stored = await messages_of(studio, owner, conv["id"])
            if len(stored) == 2:
                return stored[1]
            await asyncio.sleep(0.05)

    answer = await asyncio.wait_for(cancelled(), 10)
    assert answer["status"] == "cancelled" and answer["role"] == "assistant"
    assert answer["content"] and words.startswith(answer["content"])
    assert len(answer["content"]) < len(words)
    # The slot was given back: the owner can talk again.
    fake_llm.script(Reply(text="again"))
    assert (await stream(studio, owner, conv["id"], "more", tools=False))[-1][0] == "done"


async def test_provider_failure_is_an_error_event_and_stored(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm, max_retries=2)
    conv = await create(studio, owner, model="fake-small")
    fake_llm.fail_next(500, times=3)
    events = await stream(studio, owner, conv["id"], "hello")
    assert [name for name, _ in events] == ["error"]
    failure = events[0][1]
    assert failure["content"] == failure["error"] and failure["content"]
    stored = await messages_of(studio, owner, conv["id"])
    assert [(m["role"], m["status"]) for m in stored] == [
        ("user", "complete"),
        ("assistant", "error"),
    ]
    assert stored[1]["id"] == failure["message_id"]
    assert len(fake_llm.chat_requests) == 3  # two retries, then the error
    # Not streamed: 502 in the error shape, stored likewise.
    fake_llm.fail_next(500, times=3)
    body = {"conversation_id": conv["id"], "content": "again", "tools_enabled": False}
    error_of(await studio.post(MESSAGES, json=body, headers=owner.headers), 502)
    stored = await messages_of(studio, owner, conv["id"])
    assert [m["status"] for m in stored[2:]] == ["complete", "error"]


async def test_model_only_conversation_picks_the_provider_serving_it(
    studio: httpx.AsyncClient, fake_llm: FakeLLM
) -> None:
    me = await register_human(studio)
    conv = await create(studio, me, model="glm-5")
    body = {"conversation_id": conv["id"], "content": "hi", "tools_enabled": False}
    no_provider = error_of(await studio.post(MESSAGES, json=body, headers=me.headers), 400)
    assert "provider" in no_provider
    assert await messages_of(studio, me, conv["id"]) == []  # nothing stored for a refusal
    await add_provider(studio, me, fake_llm, api_key="sk-first-000")
    await add_provider(studio, me, fake_llm, api_key="sk-glm-0000", models=["glm-5"])
    ok_data(await studio.post(MESSAGES, json=body, headers=me.headers))
    sent = fake_llm.chat_requests[-1]
    assert sent.headers["authorization"] == "Bearer sk-glm-0000" and sent.body["model"] == "glm-5"
    # A model no provider lists: the oldest provider answers.
    other = await create(studio, me, model="unlisted")
    body["conversation_id"] = other["id"]
    ok_data(await studio.post(MESSAGES, json=body, headers=me.headers))
    assert fake_llm.chat_requests[-1].headers["authorization"] == "Bearer sk-first-000"


async def test_delete_message(
    studio: httpx.AsyncClient, owner: Human, stranger: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-small")
    body = {"conversation_id": conv["id"], "content": "hi", "tools_enabled": False}
    answer = ok_data(await studio.post(MESSAGES, json=body, headers=owner.headers))
    url = MESSAGES + answer["id"]
    error_of(await studio.delete(url, headers=stranger.headers), 404)
    assert ok_data(await studio.delete(url, headers=owner.headers))["deleted"] is True
    error_of(await studio.delete(url, headers=owner.headers), 404)
    stored = await messages_of(studio, owner, conv["id"])
    assert [m["id"] for m in stored] == [answer["user_message"]["id"]]
    got = ok_data(
        await studio.get("/studio/api/conversations/" + conv["id"], headers=owner.headers)
    )
    assert got["message_count"] == 1


async def test_too_many_answers_at_once_429(studio: httpx.AsyncClient, fake_llm: FakeLLM) -> None:
    me = await register_human(studio)
    await add_provider(studio, me, fake_llm, max_concurrency=8)
    conv = await create(studio, me, model="fake-small")
    body = {"conversation_id": conv["id"], "content": "wait", "tools_enabled": False}
    fake_llm.hold()
    async with httpx.AsyncClient(base_url=str(studio.base_url), timeout=30) as side:
        held = [
            asyncio.create_task(side.post(STREAM, json=body, headers=me.headers)) for _ in range(4)
        ]
        await fake_llm.until(lambda: fake_llm.in_flight == 4)
        error_of(await studio.post(STREAM, json=body, headers=me.headers), 429)
        error_of(await studio.post(MESSAGES, json=body, headers=me.headers), 429)
        fake_llm.release()
        for task in held:
            assert parse_sse((await task).text)[-1][0] == "done"
    fake_llm.script(Reply(text="free again"))
    assert (await stream(studio, me, conv["id"], "now", tools=False))[-1][0] == "done"


@pytest.mark.parametrize(
    "body",
    [
        {"content": "x"},
        {"conversation_id": 5, "content": "x"},
        {"conversation_id": "c", "content": 5},
        {"conversation_id": "c", "content": "x", "tools_enabled": "yes"},
        {"conversation_id": "", "content": "x"},
    ],
)
async def test_bad_send_bodies_are_400(
    studio: httpx.AsyncClient, owner: Human, body: dict[str, Any]
) -> None:
    error_of(await studio.post(MESSAGES, json=body, headers=owner.headers), 400)
    error_of(await studio.post(STREAM, json=body, headers=owner.headers), 400)


async def test_content_limits_and_unknown_ids(studio: httpx.AsyncClient, owner: Human) -> None:
    conv = await create(studio, owner)
    h = owner.headers
    for url in (MESSAGES, STREAM):
        empty = {"conversation_id": conv["id"], "content": "  "}
        error_of(await studio.post(url, json=empty, headers=h), 400)
        long = {"conversation_id": conv["id"], "content": "x" * 32_001}
        error_of(await studio.post(url, json=long, headers=h), 413)
        unknown = {"conversation_id": "conv_nope", "content": "hi"}
        error_of(await studio.post(url, json=unknown, headers=h), 404)
    error_of(await studio.get(MESSAGES + "conv_nope", headers=h), 404)
    error_of(await studio.get(MESSAGES + conv["id"], params={"page_size": 0}, headers=h), 400)
    error_of(await studio.delete(MESSAGES + "msg_nope", headers=h), 404)
    error_of(await studio.post(STREAM, json={"conversation_id": conv["id"], "content": "x"}), 401)


async def test_an_anthropic_provider_streams_the_same_events(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm, provider_type="anthropic", base_url=fake_llm.url)
    conv = await create(studio, owner, model="claude-x", system_prompt="Be kind.")
    fake_llm.script(
        Reply(tool_calls=[Call("calculator", {"expression": "2*3"}, "t1")]),
        Reply(text="Six.", input_tokens=40, output_tokens=2),
    )
    events = await stream(studio, owner, conv["id"], "2*3?")
    assert [n for n, _ in events if n != "text"] == ["tool_call", "tool_result", "done"]
    assert "".join(d["content"] for n, d in events if n == "text") == "Six."
    first = fake_llm.chat_requests[0]
    assert first.kind == "anthropic" and first.body["model"] == "claude-x"
    assert "Be kind." in json.dumps(first.body["system"])
    stored = await messages_of(studio, owner, conv["id"])
    assert [m["role"] for m in stored] == ["user", "assistant", "tool", "assistant"]


async def test_the_question_is_stored_first_and_a_deleted_conversation_gets_nothing_more(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    await add_provider(studio, owner, fake_llm)
    conv = await create(studio, owner, model="fake-small")
    fake_llm.script(Reply(text="one two three four", hold_after=2))
    body = {"conversation_id": conv["id"], "content": "count", "tools_enabled": False}
    answer = asyncio.create_task(studio.post(STREAM, json=body, headers=owner.headers))
    await fake_llm.until(lambda: fake_llm.in_flight == 1)
    # Mid-answer: the question is already durable, the answer not yet written.
    stored = await messages_of(studio, owner, conv["id"])
    assert [(m["role"], m["content"]) for m in stored] == [("user", "count")]
    url = "/studio/api/conversations/" + conv["id"]
    ok_data(await studio.delete(url, headers=owner.headers))
    fake_llm.release()
    events = parse_sse((await answer).text)
    assert events[-1][0] == "done"
    assert "".join(d["content"] for n, d in events if n == "text") == "one two three four"
    error_of(await studio.get(MESSAGES + conv["id"], headers=owner.headers), 404)
    error_of(
        await studio.delete(MESSAGES + events[-1][1]["message_id"], headers=owner.headers), 404
    )
