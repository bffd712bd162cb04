"""/chatr replays seed 002's documented calls (curl, the Python snippet with requests +
sseclient, the Node snippet's `es.onmessage` as a WHATWG EventSource parser) under /chatr,
against a real server, on every backend."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import requests
import sseclient

from tests.conftest import register as register_v1
from tests.conftest import unique_name
from tests.server import ServerProcess

API = "/chatr/api"
LIMITS_ON = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "1"}
MESSAGE_FIELDS = {
    "id": str,
    "agentId": str,
    "agentName": str,
    "avatar": str,
    "content": str,
    "timestamp": str,
    "moltbookVerified": bool,
}
NULLABLE_FIELDS = ("moltbookName", "ownerTwitter")


def chatr_name(prefix: str = "bot") -> str:
    """Unique and within chatr's rule (2-32 of A-Za-z0-9_-)."""
    return unique_name(prefix)[-32:].lstrip("-") or "bot"


async def chatr_register(
    client: httpx.AsyncClient, name: str | None = None, avatar: str | None = "🤖"
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name or chatr_name()}
    if avatar is not None:
        body["avatar"] = avatar
    response = await client.post(f"{API}/register", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    assert data["success"] is True
    agent: dict[str, Any] = data["agent"]
    return agent


def bearer(agent: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {agent['apiKey']}"}


def assert_chatr_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, dict)
    assert body["success"] is False
    assert isinstance(body["error"], str) and body["error"]
    assert body["detail"] == body["error"]
    if code is not None:
        assert body["code"] == code, body


def assert_message_shape(message: dict[str, Any]) -> None:
    for field, kind in MESSAGE_FIELDS.items():
        assert isinstance(message[field], kind), (field, message)
    for field in NULLABLE_FIELDS:
        assert message[field] is None or isinstance(message[field], str)
    assert message["timestamp"].endswith("Z") and "T" in message["timestamp"]
    assert set(message) == {*MESSAGE_FIELDS, *NULLABLE_FIELDS}


class SseEvents:
    """What seed 002's Node client sees: `es.onmessage = (e) => JSON.parse(e.data)`.

    Parses the stream by the WHATWG EventSource rules (HTML §9.2.6, "Interpreting an event
    stream") and hands over only the events `onmessage` fires for: those without an `event:`
    name or named `message`. Named events (`event: history`) are dropped, as a browser or
    the `eventsource` npm package would drop them for an `onmessage` listener. `next()`
    returns (the JSON's `type`, the JSON)."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()  # splits on CRLF, LF and CR, as the spec does
        self.comments = 0
        self.dropped_named: list[str] = []

    async def next(self, wait_secs: float = 10) -> tuple[str, Any]:
        async with asyncio.timeout(wait_secs):
            event_type, data = "", ""
            async for line in self._lines:
                if line == "":  # dispatch
                    if data == "":
                        event_type = ""
                        continue
                    if (event_type or "message") != "message":
                        self.dropped_named.append(event_type)
                        event_type, data = "", ""
                        continue
                    payload = json.loads(data.removesuffix("\n"))
                    return payload["type"], payload
                if line.startswith(":"):
                    self.comments += 1
                    continue
                name, colon, value = line.partition(":")
                if colon and value.startswith(" "):
                    value = value[1:]
                if name == "event":
                    event_type = value
                elif name == "data":
                    data += value + "\n"
        raise AssertionError(f"stream ended (named events dropped: {self.dropped_named})")

    async def until(self, kind: str, wait_secs: float = 15) -> Any:
        async with asyncio.timeout(wait_secs):
            while True:
                got, payload = await self.next(wait_secs)
                if got == kind:
                    return payload


@asynccontextmanager
async def listen(base_url: str) -> AsyncIterator[SseEvents]:
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=30) as c,
        c.stream("GET", f"{API}/stream") as response,
    ):
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseEvents(response)


def operator_approve(server: ServerProcess, name: str, moltbook: str, twitter: str | None) -> None:
    """`agentplaza chatr-verify`, run as an operator would, against the server's database."""
    env = {**server.env, "AGENTPLAZA_DATA_DIR": str(server.data_dir)}
    args = [sys.executable, "-m", "agentplaza", "chatr-verify", name, "--moltbook-name", moltbook]
    if twitter:
        args += ["--owner-twitter", twitter]
    done = subprocess.run(args, env={**_base_env(), **env}, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "approved" in done.stdout


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}


# --- the seed's calls -----------------------------------------------------------------------


async def test_register_as_documented(client: httpx.AsyncClient) -> None:
    name = chatr_name("YourAgentName")
    agent = await chatr_register(client, name, avatar="🤖")
    assert agent["name"] == name
    assert isinstance(agent["id"], str) and agent["id"]
    assert agent["apiKey"].startswith("chatr_")


async def test_send_and_listen_like_the_node_snippet(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    agent = await chatr_register(client)
    async with listen(server.url) as events:
        kind, history = await events.next()
        assert kind == "history"
        assert history["type"] == "history"
        assert isinstance(history["data"], list) and len(history["data"]) <= 100
        for message in history["data"]:
            assert_message_shape(message)
        response = await client.post(
            f"{API}/messages", headers=bearer(agent), json={"content": "Hello from Python! 🐍"}
        )
        assert response.status_code == 201, response.text
        posted = response.json()["message"]
        while True:
            event = await events.until("message")
            assert event["type"] == "message"
            if event["data"]["id"] == posted["id"]:
                break
    message = event["data"]
    assert_message_shape(message)
    assert message == posted
    assert message["agentId"] == agent["id"]
    assert message["agentName"] == agent["name"]
    assert message["avatar"] == "🤖"
    assert message["content"] == "Hello from Python! 🐍"
    assert message["moltbookVerified"] is False
    # A new watcher gets it in its history.
    async with listen(server.url) as events:
        kind, history = await events.next()
        assert kind == "history"
        assert history["data"][-1]["id"] == posted["id"]
        kind, stats = await events.next()
        assert kind == "stats"
        assert set(stats["data"]) == {"totalAgents", "onlineAgents", "totalMessages"}
        assert all(isinstance(v, int) for v in stats["data"].values())


def _seed_python_listen(
    api: str, until_content: str, seen: list[dict[str, Any]], on_event: Callable[[], None]
) -> None:
    """Seed 002's `listen()`, as written (requests + sseclient; where it prints `event.data`
    this keeps it), stopping at the message with `until_content`."""
    response = requests.get(f"{api}/api/stream", stream=True, timeout=30)
    try:
        client = sseclient.SSEClient(response)  # type: ignore[arg-type]  # as seed 002 does
        for event in client.events():
            seen.append({"event": event.event, **json.loads(event.data)})
            on_event()
            if seen[-1]["type"] == "message" and seen[-1]["data"]["content"] == until_content:
                return
    finally:
        response.close()


async def test_seed_python_reader_reads_every_event(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    agent = await chatr_register(client)
    content = f"Hello from Python! 🐍 {unique_name()}"
    seen: list[dict[str, Any]] = []
    got_stats = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_event() -> None:
        if seen[-1]["type"] == "stats":
            loop.call_soon_threadsafe(got_stats.set)

    reader = asyncio.create_task(
        asyncio.to_thread(_seed_python_listen, server.url + "/chatr", content, seen, on_event)
    )
    async with asyncio.timeout(20):
        await got_stats.wait()
    response = await client.post(
        f"{API}/messages", headers=bearer(agent), json={"content": content}
    )
    assert response.status_code == 201, response.text
    async with asyncio.timeout(20):
        await reader
    assert [e["type"] for e in seen[:2]] == ["history", "stats"]
    assert seen[-1]["type"] == "message" and seen[-1]["data"] == response.json()["message"]
    # Unnamed: what an EventSource's `onmessage` (seed 002's Node client) is fired for.
    assert {e["event"] for e in seen} == {"message"}


async def test_stream_events_carry_no_event_name(server: ServerProcess) -> None:
    """Seed 002's Node client (`es.onmessage`) never sees a named event: none is sent."""
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as c,
        c.stream("GET", f"{API}/stream") as response,
    ):
        head = b""
        async with asyncio.timeout(10):
            async for chunk in response.aiter_bytes():
                head += chunk
                if b'"type":"stats"' in head:
                    break
    assert head.startswith(b'data: {"type":"history","data":['), head[:80]
    assert b"\nevent:" not in head and not head.startswith(b"event:")


async def test_heartbeat_disconnect_and_agents(client: httpx.AsyncClient) -> None:
    agent = await chatr_register(client)

    async def listed() -> dict[str, Any]:
        response = await client.get(f"{API}/agents")
        assert response.status_code == 200, response.text
        data = response.json()
        assert data["success"] is True
        assert set(data["stats"]) == {"totalAgents", "onlineAgents", "totalMessages"}
        assert all(isinstance(v, int) for v in data["stats"].values())
        mine = [a for a in data["agents"] if a["id"] == agent["id"]]
        assert len(mine) == 1
        entry: dict[str, Any] = mine[0]
        assert set(entry) == {
            "id", "name", "avatar", "online", "moltbookVerified", "moltbookName", "ownerTwitter"
        }  # fmt: skip
        return entry

    assert (await listed())["online"] is False
    response = await client.post(f"{API}/heartbeat", headers=bearer(agent))
    assert response.status_code == 200 and response.json()["success"] is True
    entry = await listed()
    assert entry["online"] is True and entry["name"] == agent["name"]
    response = await client.post(f"{API}/disconnect", headers=bearer(agent))
    assert response.status_code == 200 and response.json()["success"] is True
    assert (await listed())["online"] is False
    await client.post(f"{API}/messages", headers=bearer(agent), json={"content": "back"})
    assert (await listed())["online"] is True  # a post counts as presence


async def test_verify_flow_with_the_manual_verifier(
    client: httpx.AsyncClient, server: ServerProcess
) -> None:
    agent = await chatr_register(client)
    moltbook = "mb_" + agent["name"][-20:].replace("-", "_")
    response = await client.post(
        f"{API}/verify/start", headers=bearer(agent), json={"moltbookName": moltbook}
    )
    assert response.status_code == 200, response.text
    start = response.json()
    assert start["success"] is True and start["moltbookName"] == moltbook
    assert len(start["code"]) == 8 and start["code"].isalnum()
    assert f"[{start['code']}]" in start["message"]
    assert len(start["instructions"]) == 3
    # Again: the same code, so a post already made stays valid.
    again = await client.post(
        f"{API}/verify/start", headers=bearer(agent), json={"moltbookName": moltbook}
    )
    assert again.json()["code"] == start["code"]

    response = await client.post(
        f"{API}/verify/complete", headers=bearer(agent), json={"moltbookName": moltbook}
    )
    assert_chatr_error(response, 403, "forbidden")
    assert response.json()["verified"] is False

    await asyncio.to_thread(operator_approve, server, agent["name"], moltbook, "@owner_x")
    wrong = await client.post(
        f"{API}/verify/complete", headers=bearer(agent), json={"moltbookName": "someone_else"}
    )
    assert_chatr_error(wrong, 400)
    response = await client.post(
        f"{API}/verify/complete", headers=bearer(agent), json={"moltbookName": moltbook}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": True,
        "verified": True,
        "moltbookName": moltbook,
        "ownerTwitter": "owner_x",
        "message": f"🦞 Verified as {moltbook} on Moltbook!",
    }
    # Verified: URLs allowed, the badge shows on messages.
    response = await client.post(
        f"{API}/messages", headers=bearer(agent), json={"content": "see https://chatr.ai"}
    )
    assert response.status_code == 201, response.text
    message = response.json()["message"]
    assert message["moltbookVerified"] is True
    assert message["moltbookName"] == moltbook and message["ownerTwitter"] == "owner_x"


async def test_a_chatr_agent_is_an_account_on_v1(client: httpx.AsyncClient) -> None:
    agent = await chatr_register(client)
    alice = await register_v1(client, unique_name("alice"))
    me = await client.get("/v1/agents/me", headers=bearer(agent))
    assert me.status_code == 200, me.text
    assert me.json()["id"] == agent["id"]
    response = await client.post(
        "/v1/messages",
        headers=alice.headers,
        json={"to": agent["id"], "content": {"body": "hi chatr bot"}},
    )
    assert response.status_code == 201, response.text
    pending = await client.get("/v1/messages/pending", headers=bearer(agent))
    assert pending.status_code == 200, pending.text
    assert [m["content"]["body"] for m in pending.json()] == ["hi chatr bot"]
    # And a /v1 agent can post to the room with its am_ key.
    response = await client.post(
        f"{API}/messages", headers=alice.headers, json={"content": "from /v1"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["message"]["agentName"] == alice.display_name


async def test_a_rename_on_v1_renames_the_room_profile_and_frees_the_old_name(
    client: httpx.AsyncClient,
) -> None:
    old, new = chatr_name(), chatr_name()
    agent = await chatr_register(client, old)
    response = await client.patch(
        "/v1/agents/me", headers=bearer(agent), json={"display_name": new}
    )
    assert response.status_code == 200, response.text
    posted = await client.post(f"{API}/messages", headers=bearer(agent), json={"content": "hi"})
    assert posted.status_code == 201, posted.text
    assert posted.json()["message"]["agentName"] == new
    # The old name is free again, and now names only the newcomer.
    newcomer = await chatr_register(client, old)
    listed = (await client.get(f"{API}/agents")).json()["agents"]
    names = {a["id"]: a["name"] for a in listed}
    assert names[agent["id"]] == new and names[newcomer["id"]] == old
    assert [i for i, n in names.items() if n.lower() == old.lower()] == [newcomer["id"]]
    response = await client.post(f"{API}/register", json={"name": new})
    assert_chatr_error(response, 409, "name_taken")


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"name": "a"}, 400),
        ({"name": "x" * 33}, 400),
        ({"name": "has space"}, 400),
        ({"name": "emoji🤖"}, 400),
        ({"name": "ok_name", "avatar": "x" * 65}, 400),
        ({"avatar": "🤖"}, 400),
        ({"name": 12}, 400),
    ],
)
async def test_register_rejects_bad_names(
    client: httpx.AsyncClient, body: dict[str, Any], status: int
) -> None:
    assert_chatr_error(await client.post(f"{API}/register", json=body), status)


async def test_register_rejects_a_taken_name(client: httpx.AsyncClient) -> None:
    agent = await chatr_register(client)
    response = await client.post(f"{API}/register", json={"name": agent["name"]})
    assert_chatr_error(response, 409, "name_taken")


@pytest.mark.parametrize("content", ["", "   ", "x" * 251])
async def test_content_must_be_1_to_250_characters(client: httpx.AsyncClient, content: str) -> None:
    agent = await chatr_register(client)
    response = await client.post(
        f"{API}/messages", headers=bearer(agent), json={"content": content}
    )
    assert_chatr_error(response, 400, "invalid_content")


async def test_250_characters_is_fine(client: httpx.AsyncClient) -> None:
    agent = await chatr_register(client)
    response = await client.post(
        f"{API}/messages", headers=bearer(agent), json={"content": "y" * 250}
    )
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    "content", ["see https://example.com", "www.example.org", "visit chatr.ai now", "ftp://x/y"]
)
async def test_unverified_agents_cannot_post_urls(client: httpx.AsyncClient, content: str) -> None:
    agent = await chatr_register(client)
    response = await client.post(
        f"{API}/messages", headers=bearer(agent), json={"content": content}
    )
    assert_chatr_error(response, 403, "forbidden")
    assert "URL" in response.json()["error"]


@pytest.mark.parametrize(
    "path", ["messages", "heartbeat", "disconnect", "verify/start", "verify/complete"]
)
async def test_auth_is_required(client: httpx.AsyncClient, path: str) -> None:
    response = await client.post(f"{API}/{path}", json={"content": "x", "moltbookName": "x"})
    assert_chatr_error(response, 401, "unauthenticated")
    response = await client.post(
        f"{API}/{path}", headers={"Authorization": "Bearer chatr_nope"}, json={}
    )
    assert_chatr_error(response, 401, "invalid_credentials")


# --- limits (a server with rate limits on) --------------------------------------------------


async def test_posting_tiers_and_registration_limit(server_factory: Any) -> None:
    srv = server_factory(env=LIMITS_ON)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        unverified = await chatr_register(c)
        verified = await chatr_register(c)
        first = await c.post(f"{API}/messages", headers=bearer(unverified), json={"content": "1"})
        assert first.status_code == 201, first.text
        second = await c.post(f"{API}/messages", headers=bearer(unverified), json={"content": "2"})
        assert_chatr_error(second, 429, "rate_limited")
        assert 200 <= int(second.headers["Retry-After"]) <= 300

        moltbook = "mb_" + verified["name"][-20:].replace("-", "_")
        await c.post(
            f"{API}/verify/start", headers=bearer(verified), json={"moltbookName": moltbook}
        )
        await asyncio.to_thread(operator_approve, srv, verified["name"], moltbook, None)
        done = await c.post(
            f"{API}/verify/complete", headers=bearer(verified), json={"moltbookName": moltbook}
        )
        assert done.status_code == 200, done.text
        for i in range(10):
            ok = await c.post(f"{API}/messages", headers=bearer(verified), json={"content": f"{i}"})
            assert ok.status_code == 201, (i, ok.text)
        over = await c.post(f"{API}/messages", headers=bearer(verified), json={"content": "11"})
        assert_chatr_error(over, 429, "rate_limited")
        assert 1 <= int(over.headers["Retry-After"]) <= 7

        for _ in range(3):  # 5 an hour per IP: two were used above
            await chatr_register(c)
        sixth = await c.post(f"{API}/register", json={"name": chatr_name()})
        assert_chatr_error(sixth, 429, "rate_limited")
        assert int(sixth.headers["Retry-After"]) > 60


async def test_stream_connections_and_requests_per_ip(server_factory: Any) -> None:
    srv = server_factory(env=LIMITS_ON)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        streams = [c.stream("GET", f"{API}/stream") for _ in range(10)]
        opened = [await s.__aenter__() for s in streams]
        try:
            assert all(r.status_code == 200 for r in opened)
            eleventh = await c.get(f"{API}/stream")
            assert_chatr_error(eleventh, 429, "rate_limited")
        finally:
            for s in streams:
                await s.__aexit__(None, None, None)

        # Closing frees the slots (the server notices the disconnects).
        async with asyncio.timeout(10):
            while True:
                try:
                    async with c.stream("GET", f"{API}/stream") as r:
                        if r.status_code == 200:
                            break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)

        # 120 requests a minute per IP across /chatr, a bucket that refills one every 0.5 s:
        # some of the budget is spent above, and a loaded machine's slow requests refill some.
        started = time.monotonic()
        answers = [await c.get(f"{API}/agents")]
        while answers[-1].status_code != 429 and len(answers) < 300:
            answers.append(await c.get(f"{API}/agents"))
        refilled = 2 * (time.monotonic() - started) + 1
        assert answers[0].status_code == 200
        assert len(answers) - 1 <= 120 + refilled
        limited = answers[-1]
        assert_chatr_error(limited, 429, "rate_limited")
        assert "Retry-After" in limited.headers


async def test_open_streams_do_not_hold_up_shutdown(server_factory: Any) -> None:
    srv = server_factory()
    async with listen(srv.url) as events:
        assert (await events.next())[0] == "history"
        started = time.monotonic()
        await asyncio.to_thread(srv.stop)
        # A stream that held shutdown up would take the whole 10 s drain (shutdown_drain_secs).
        assert time.monotonic() - started < 8


async def test_a_post_on_one_node_reaches_watchers_on_another(
    backend: str, server_factory: Any
) -> None:
    """Two nodes on one PostgreSQL and one bus: the room topic carries the post across."""
    if backend != "postgres":
        pytest.skip("two nodes need a shared database and bus (the postgres backend)")
    node_a, node_b = server_factory(), server_factory()
    async with (
        httpx.AsyncClient(base_url=node_a.url, timeout=30) as a,
        listen(node_b.url) as events,
    ):
        assert (await events.next())[0] == "history"
        agent = await chatr_register(a)
        response = await a.post(f"{API}/messages", headers=bearer(agent), json={"content": "hop"})
        assert response.status_code == 201, response.text
        posted = response.json()["message"]
        while True:
            event = await events.until("message")
            if event["data"]["id"] == posted["id"]:
                break
        assert event["data"] == posted
