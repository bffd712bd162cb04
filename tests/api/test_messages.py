"""Direct messages over HTTP: send, pending (long-poll), ack, sync, threads (wire doc §3-7)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import assert_error, pending, send, sync, wait_until
from tests.conftest import register, unique_name

if TYPE_CHECKING:
    from tests.conftest import TestAgent

MESSAGE_ID = re.compile(r"^m_[0-9A-HJKMNP-TV-Z]{26}$")
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MAX_MESSAGE_BODY_BYTES = 65_536


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


async def _thread(
    client: httpx.AsyncClient, agent: TestAgent, thread_id: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"/v1/threads/{thread_id}/messages", headers=agent.headers, params=params
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


async def _threads(client: httpx.AsyncClient, agent: TestAgent) -> list[dict[str, Any]]:
    response = await client.get("/v1/messages/threads", headers=agent.headers)
    assert response.status_code == 200, response.text
    threads: list[dict[str, Any]] = response.json()["threads"]
    return threads


# --- send ------------------------------------------------------------------------------------

FORMAT_BODIES = {
    "text": "Hello!",
    "markdown": "# Title\n\n* item **bold** `code`\n",
    "json": '{"action": "analyze", "data": [1, 2, 3]}',
    "image": '{"url": "https://example.com/cat.png", "width": 640, "height": 480}',
}


@pytest.mark.parametrize("fmt", list(FORMAT_BODIES))
async def test_send_each_format(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, fmt: str
) -> None:
    body = FORMAT_BODIES[fmt]
    response = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={"to": bob.id, "content": {"format": fmt, "body": body}},
    )
    assert response.status_code == 201, response.text
    sent = response.json()
    assert MESSAGE_ID.match(sent["id"]), sent["id"]
    assert sent["from"] == alice.id
    assert sent["to"] == bob.id
    assert sent["content"] == {"format": fmt, "body": body}
    assert sent["thread_id"].startswith("dm_")
    assert ISO_UTC.match(sent["created_at"]), sent["created_at"]
    assert abs(_when(sent["created_at"]) - datetime.now(UTC)) < timedelta(minutes=1)
    assert sent["type"] == "request"
    assert "reply_to" not in sent

    [item] = await pending(client, bob)
    assert {k: item[k] for k in ("id", "from", "to", "content", "thread_id", "created_at")} == {
        k: sent[k] for k in ("id", "from", "to", "content", "thread_id", "created_at")
    }
    assert item["seq"] == 1
    assert (item["scene"], item["sender_relation"], item["trust_level"]) == (
        "dm",
        "stranger",
        "minimal",
    )


async def test_json_format_accepts_an_object_body(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    data = {"action": "summarize", "items": [1, 2.5, None, True], "ü": "✓ 🤖"}
    sent = await send(client, alice, bob.id, data, "json")  # type: ignore[arg-type]
    assert sent["content"]["format"] == "json"
    assert isinstance(sent["content"]["body"], str)
    assert json.loads(sent["content"]["body"]) == data
    [item] = await pending(client, bob)
    assert json.loads(item["content"]["body"]) == data


async def test_flat_shape_and_default_format(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    response = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={"to": bob.id, "body": "# flat", "format": "markdown"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["content"] == {"format": "markdown", "body": "# flat"}
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "plain"}
    )
    assert response.json()["content"] == {"format": "text", "body": "plain"}
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "content": {"body": "nested"}}
    )
    assert response.json()["content"] == {"format": "text", "body": "nested"}
    bodies = [m["content"]["body"] for m in await pending(client, bob)]
    assert bodies == ["# flat", "plain", "nested"]


async def test_to_may_be_a_json_number(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": int(bob.id), "body": "numeric to"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["to"] == bob.id
    [item] = await pending(client, bob)
    assert item["to"] == bob.id


BYTE_EXACT_BODIES = {
    "unicode": "Grüße, 你好, привет, مرحبا, שלום, नमस्ते",
    "whitespace": "  leading and trailing  \n\n\tindented\r\nwindows line\r\n   ",
    "only-whitespace": " \n\t ",
    "emoji": "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🤖",
    "combining-nfd": "e\u0301 vs \u00e9, A\u030a vs \u00c5",  # must not be normalised
    "invisible": "zero\u200bwidth\u200d joiner \ufeff bom \u202e rtl",
    "controls": "a\u0001b\u0007c\u001bd\u007f",
    "escapes": '"quotes" \\backslash\\ \\n not a newline </script>',
    "json-looking": '{"to": "someone-else", "body": "nested"}',
    "max-ascii": "x" * MAX_MESSAGE_BODY_BYTES,
    "max-multibyte": "€" * (MAX_MESSAGE_BODY_BYTES // 3) + "x" * (MAX_MESSAGE_BODY_BYTES % 3),
}


@pytest.mark.parametrize("body", list(BYTE_EXACT_BODIES.values()), ids=list(BYTE_EXACT_BODIES))
async def test_body_returned_byte_exact(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, body: str
) -> None:
    sent = await send(client, alice, bob.id, body)
    assert sent["content"]["body"] == body
    [item] = await pending(client, bob)
    assert item["content"]["body"].encode() == body.encode()
    [synced] = (await sync(client, bob, since_seq=0))["messages"]
    assert synced["content"]["body"] == body
    [in_thread] = (await _thread(client, bob, sent["thread_id"]))["messages"]
    assert in_thread["content"]["body"] == body
    [thread] = await _threads(client, bob)
    assert thread["last_message"]["content"]["body"] == body


async def test_nul_characters_are_refused_everywhere_they_would_be_stored(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    """PostgreSQL text cannot hold U+0000, so no engine stores it: 400, nothing written."""
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": bob.id, "body": "a\u0000b"}
    )
    assert_error(response, 400, "invalid_content")
    assert await pending(client, bob) == []
    for field, value in (("bio", "x\u0000"), ("avatar_url", "https://a.example/\u0000")):
        response = await client.patch("/v1/agents/me", headers=alice.headers, json={field: value})
        assert response.status_code == 400, response.text
    response = await client.get("/v1/agents/search", params={"q": "a\u0000"})
    assert response.status_code == 400, response.text


async def test_unknown_recipient_is_404(client: httpx.AsyncClient, alice: TestAgent) -> None:
    response = await client.post(
        "/v1/messages", headers=alice.headers, json={"to": "987654321", "body": "hello?"}
    )
    assert_error(response, 404, "agent_not_found")
    assert (await sync(client, alice, since_seq=0))["messages"] == []


async def test_send_to_self_is_400(client: httpx.AsyncClient, alice: TestAgent) -> None:
    for to in (alice.id, int(alice.id)):
        response = await client.post(
            "/v1/messages", headers=alice.headers, json={"to": to, "body": "me"}
        )
        assert_error(response, 400, "validation_error")
    assert await pending(client, alice) == []


# --- idempotency -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "body", "header-then-body"])
async def test_idempotent_send(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent, where: str
) -> None:
    key = unique_name("idem")
    message = {"to": bob.id, "content": {"format": "text", "body": "exactly once"}}
    first_kwargs: dict[str, Any] = (
        {"headers": {**alice.headers, "Idempotency-Key": key}, "json": message}
        if where != "body"
        else {"headers": alice.headers, "json": {**message, "idempotency_key": key}}
    )
    second_kwargs: dict[str, Any] = (
        first_kwargs
        if where != "header-then-body"
        else {"headers": alice.headers, "json": {**message, "idempotency_key": key}}
    )
    first = await client.post("/v1/messages", **first_kwargs)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    second = await client.post("/v1/messages", **second_kwargs)
    assert second.status_code == 200, second.text
    assert second.headers["Idempotent-Replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]
    assert second.json()["created_at"] == first.json()["created_at"]

    assert [m["id"] for m in await pending(client, bob)] == [first.json()["id"]]
    assert len((await sync(client, bob, since_seq=0))["messages"]) == 1
    assert len((await _thread(client, bob, first.json()["thread_id"]))["messages"]) == 1


async def test_idempotency_keys_are_per_sender_and_per_key(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    key = unique_name("shared")
    ids = []
    for sender, k in ((alice, key), (carol, key), (alice, key + "-2")):
        response = await client.post(
            "/v1/messages",
            headers={**sender.headers, "Idempotency-Key": k},
            json={"to": bob.id, "body": "same key"},
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert len(set(ids)) == 3
    assert [m["id"] for m in await pending(client, bob)] == ids


# --- threads ---------------------------------------------------------------------------------


async def test_same_pair_same_dm_thread(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    ab = await send(client, alice, bob.id, "a→b")
    ba = await send(client, bob, alice.id, "b→a")
    ab2 = await send(client, alice, int(bob.id), "a→b again")
    ac = await send(client, alice, carol.id, "a→c")
    thread = ab["thread_id"]
    assert ba["thread_id"] == ab2["thread_id"] == thread
    assert ac["thread_id"] != thread
    for thread_id in (thread, ac["thread_id"]):
        assert re.fullmatch(r"dm_[A-Za-z0-9_]+", thread_id), thread_id
        assert thread_id.count("-") != 4  # UUID-shaped ids are group threads to the SDK
    assert {m["thread_id"] for m in await pending(client, bob)} == {thread}
    assert {m["thread_id"] for m in await pending(client, alice)} == {thread}


async def test_foreign_thread_id_is_ignored_without_leaking(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    private = (await send(client, alice, carol.id, "alice and carol only"))["thread_id"]
    pair = (await send(client, alice, bob.id, "hello bob"))["thread_id"]
    assert private != pair

    for thread_id in (private, "dm_00000000000000000000", "11111111-2222-3333-4444-555555555555"):
        sent = await send(client, bob, alice.id, f"into {thread_id}", thread_id=thread_id)
        assert sent["thread_id"] == pair
    # Carol got nothing from bob; the private thread is unchanged and still closed to bob.
    assert [m["content"]["body"] for m in await pending(client, carol)] == ["alice and carol only"]
    bodies = [m["content"]["body"] for m in (await _thread(client, alice, private))["messages"]]
    assert bodies == ["alice and carol only"]
    response = await client.get(f"/v1/threads/{private}/messages", headers=bob.headers)
    assert_error(response, 404, "thread_not_found")
    assert {m["thread_id"] for m in await pending(client, alice)} == {pair}


async def test_reply_to_is_echoed(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    question = await send(client, alice, bob.id, "question")
    answer = await send(
        client, bob, alice.id, "answer", reply_to=question["id"], thread_id=question["thread_id"]
    )
    assert answer["reply_to"] == question["id"]
    assert answer["type"] == "response"
    assert answer["thread_id"] == question["thread_id"]
    [item] = await pending(client, alice)
    assert (item["id"], item["reply_to"], item["type"]) == (
        answer["id"],
        question["id"],
        "response",
    )
    [delivered_question] = await pending(client, bob)
    assert "reply_to" not in delivered_question
    assert delivered_question["type"] == "request"


async def test_threads_list_sorted_by_latest(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    dave = await register(client, unique_name("dave"))
    from_alice = await send(client, alice, bob.id, "1 from alice")
    from_carol = await send(client, carol, bob.id, "2 from carol")
    from_dave = await send(client, dave, bob.id, "3 from dave")
    latest = await send(client, alice, bob.id, "4 from alice again")

    threads = await _threads(client, bob)
    assert [t["peer_id"] for t in threads] == [alice.id, dave.id, carol.id]
    assert [t["thread_id"] for t in threads] == [
        from_alice["thread_id"],
        from_dave["thread_id"],
        from_carol["thread_id"],
    ]
    assert [t["last_message"]["id"] for t in threads] == [
        latest["id"],
        from_dave["id"],
        from_carol["id"],
    ]
    assert threads[0]["last_message_at"] == latest["created_at"]
    assert all(t["scene"] == "dm" for t in threads)
    stamps = [t["last_message_at"] for t in threads]
    assert stamps == sorted(stamps, reverse=True)

    # A reply moves the thread to the top for both sides.
    reply = await send(client, bob, carol.id, "5 bob answers carol")
    assert [t["peer_id"] for t in await _threads(client, bob)] == [carol.id, alice.id, dave.id]
    [carol_thread] = await _threads(client, carol)
    assert (carol_thread["peer_id"], carol_thread["last_message"]["id"]) == (bob.id, reply["id"])


async def test_thread_history_cursor_pagination(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = []
    for i in range(7):
        sender, to = (alice, bob.id) if i % 2 == 0 else (bob, alice.id)
        sent.append(await send(client, sender, to, f"message {i}"))
    thread_id = sent[0]["thread_id"]
    sent_ids = [m["id"] for m in sent]

    pages = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 3}
        if cursor is not None:
            params["before"] = cursor
        page = await _thread(client, alice, thread_id, **params)
        assert page["thread_id"] == thread_id
        pages.append(page)
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        assert isinstance(page["next_cursor"], str)
        cursor = page["next_cursor"]
        assert len(pages) < 10, "pagination does not terminate"

    assert [len(p["messages"]) for p in pages] == [3, 3, 1]
    assert [p["has_more"] for p in pages] == [True, True, False]
    # Newest page first; chronological within a page; no overlap, nothing missing.
    assert [m["id"] for m in pages[0]["messages"]] == sent_ids[4:7]
    assert [m["id"] for m in pages[1]["messages"]] == sent_ids[1:4]
    assert [m["id"] for m in pages[2]["messages"]] == sent_ids[0:1]
    for page in pages:
        stamps = [m["created_at"] for m in page["messages"]]
        assert stamps == sorted(stamps)
    # Both members read the same history; the default page holds all of it.
    everything = await _thread(client, bob, thread_id)
    assert [m["id"] for m in everything["messages"]] == sent_ids
    assert everything["has_more"] is False
    assert everything["next_cursor"] is None
    exact = await _thread(client, bob, thread_id, limit=7)
    assert (exact["has_more"], exact["next_cursor"]) == (False, None)


# --- inbox: seq, sync, pending, ack -------------------------------------------------------------


async def test_seq_is_per_recipient_and_gapless(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client, unique_name("carol"))
    for i in range(3):
        await send(client, alice, bob.id, f"a{i}")
        await send(client, carol, bob.id, f"c{i}")
        await send(client, alice, carol.id, f"to carol {i}")
    bob_items = (await sync(client, bob, since_seq=0))["messages"]
    assert [m["seq"] for m in bob_items] == [1, 2, 3, 4, 5, 6]
    assert all(type(m["seq"]) is int for m in bob_items)
    assert [m["content"]["body"] for m in bob_items] == ["a0", "c0", "a1", "c1", "a2", "c2"]
    carol_items = (await sync(client, carol, since_seq=0))["messages"]
    assert [m["seq"] for m in carol_items] == [1, 2, 3]
    # Senders get no seq of their own for what they sent.
    assert (await sync(client, alice, since_seq=0))["messages"] == []


async def test_sync_by_since_seq(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    ids = [(await send(client, alice, bob.id, f"m{i}"))["id"] for i in range(5)]

    page = await sync(client, bob, since_seq=0, limit=2)
    assert [m["seq"] for m in page["messages"]] == [1, 2]
    assert (page["next_seq"], page["has_more"]) == (2, True)
    page = await sync(client, bob, since_seq=page["next_seq"], limit=2)
    assert [m["seq"] for m in page["messages"]] == [3, 4]
    assert (page["next_seq"], page["has_more"]) == (4, True)
    page = await sync(client, bob, since_seq=page["next_seq"], limit=2)
    assert [m["id"] for m in page["messages"]] == [ids[4]]
    assert (page["next_seq"], page["has_more"]) == (5, False)
    page = await sync(client, bob, since_seq=5)
    assert (page["messages"], page["next_seq"], page["has_more"]) == ([], 5, False)
    page = await sync(client, bob, since_seq=100)
    assert (page["messages"], page["next_seq"], page["has_more"]) == ([], 100, False)
    # Default: from the start, acked or not.
    for message_id in ids[:3]:
        assert (
            await client.post(f"/v1/messages/{message_id}/ack", headers=bob.headers)
        ).status_code == 204
    page = await sync(client, bob)
    assert [m["id"] for m in page["messages"]] == ids
    assert (page["next_seq"], page["has_more"]) == (5, False)
    page = await sync(client, bob, since_seq=0, limit=5)
    assert (len(page["messages"]), page["has_more"]) == (5, False)


async def test_sync_by_since_timestamp(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    old = await send(client, alice, bob.id, "old")
    old_at = _when(old["created_at"])
    # Timing precondition (created_at has millisecond precision): later sends land in a later ms.
    await asyncio.sleep(0.02)
    new = [await send(client, alice, bob.id, f"new {i}") for i in range(3)]
    assert _when(new[0]["created_at"]) >= old_at + timedelta(milliseconds=2)
    boundary = old_at + timedelta(milliseconds=1)  # after "old", before "new 0"
    new_ids = [m["id"] for m in new]

    for since in (
        _iso(boundary),
        boundary.astimezone(UTC).isoformat(),  # +00:00 offset, microseconds
        boundary.astimezone(UTC).replace(tzinfo=None).isoformat(),  # naive means UTC
        boundary.astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat(),
    ):
        page = await sync(client, bob, since=since)
        assert [m["id"] for m in page["messages"]] == new_ids, since
        assert (page["next_seq"], page["has_more"]) == (4, False)

    page = await sync(client, bob, since=_iso(boundary), limit=2)
    assert [m["id"] for m in page["messages"]] == new_ids[:2]
    assert (page["next_seq"], page["has_more"]) == (3, True)
    page = await sync(client, bob, since="2000-01-01T00:00:00Z")
    assert [m["id"] for m in page["messages"]] == [old["id"], *new_ids]
    page = await sync(client, bob, since=_iso(datetime.now(UTC) + timedelta(days=1)))
    assert (page["messages"], page["has_more"]) == ([], False)
    # since_seq wins when both are given.
    page = await sync(client, bob, since="2000-01-01T00:00:00Z", since_seq=3)
    assert [m["id"] for m in page["messages"]] == new_ids[2:]


async def test_pending_returns_unacked_in_seq_order_with_limit(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    ids = [(await send(client, alice, bob.id, f"m{i}"))["id"] for i in range(4)]
    assert [m["id"] for m in await pending(client, bob)] == ids
    assert [m["id"] for m in await pending(client, bob)] == ids  # not consumed by reading
    assert [m["id"] for m in await pending(client, bob, limit=2)] == ids[:2]
    assert await pending(client, alice) == []  # no self-echo


async def test_pending_long_poll_returns_when_a_message_arrives(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    poll = asyncio.create_task(
        client.get("/v1/messages/pending", headers=bob.headers, params={"timeout": 10})
    )

    async def parked() -> bool:
        assert not poll.done(), poll.result().text
        response = await client.get("/v1/agents/online", headers=alice.headers)
        return bob.id in response.json()["agents"]

    await wait_until(parked, what="bob's long-poll to park")
    started = time.monotonic()
    sent = await send(client, alice, bob.id, "wake up")
    response = await asyncio.wait_for(poll, 10)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert [m["id"] for m in response.json()] == [sent["id"]]
    assert elapsed < 2.0, f"long-poll took {elapsed:.2f} s to return after the send"


async def test_pending_long_poll_times_out_empty(client: httpx.AsyncClient, bob: TestAgent) -> None:
    started = time.monotonic()
    assert await pending(client, bob, timeout=1) == []
    elapsed = time.monotonic() - started
    assert 0.9 <= elapsed < 5.0, elapsed
    started = time.monotonic()
    assert await pending(client, bob, timeout=0) == []
    assert time.monotonic() - started < 1.0


async def test_pending_returns_at_once_when_something_is_waiting(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    sent = await send(client, alice, bob.id, "already here")
    started = time.monotonic()
    assert [m["id"] for m in await pending(client, bob, timeout=10)] == [sent["id"]]
    assert time.monotonic() - started < 2.0


async def test_ack_is_204_and_idempotent(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    first = await send(client, alice, bob.id, "first")
    second = await send(client, alice, bob.id, "second")
    for _ in range(2):
        response = await client.post(f"/v1/messages/{first['id']}/ack", headers=bob.headers)
        assert response.status_code == 204
        assert response.content == b""
    assert [m["id"] for m in await pending(client, bob)] == [second["id"]]
    # Acked is not deleted: sync still has it.
    assert [m["id"] for m in (await sync(client, bob))["messages"]] == [first["id"], second["id"]]


async def test_ack_up_to_seq(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    ids = [(await send(client, alice, bob.id, f"m{i}"))["id"] for i in range(5)]
    assert (await client.post(f"/v1/messages/{ids[1]}/ack", headers=bob.headers)).status_code == 204

    response = await client.post("/v1/messages/ack", headers=bob.headers, json={"up_to_seq": 3})
    assert response.status_code == 200, response.text
    assert response.json() == {"acked": 2, "up_to_seq": 3}
    assert [m["seq"] for m in await pending(client, bob)] == [4, 5]
    response = await client.post("/v1/messages/ack", headers=bob.headers, json={"up_to_seq": 3})
    assert response.json() == {"acked": 0, "up_to_seq": 3}
    response = await client.post("/v1/messages/ack", headers=bob.headers, json={"up_to_seq": 0})
    assert response.json() == {"acked": 0, "up_to_seq": 0}
    response = await client.post("/v1/messages/ack", headers=bob.headers, json={"up_to_seq": 99})
    assert response.json() == {"acked": 2, "up_to_seq": 99}
    assert await pending(client, bob) == []
    assert [m["id"] for m in (await sync(client, bob))["messages"]] == ids
