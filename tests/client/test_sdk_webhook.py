"""Webhook receiving: the real server delivers to `webhook_app` (served by uvicorn on
loopback); `verify()` refuses what it must."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from agentplaza.sdk import AsyncClient, Message, NotFoundError, WebhookVerificationError
from agentplaza.sdk.webhook import sign, verify, webhook_app
from tests.server import TEST_HOST, ServerProcess, free_port

SECRET = "whsec_test"


@contextlib.asynccontextmanager
async def serving(app: Callable[..., Any]) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=TEST_HOST, port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
        await asyncio.sleep(0.02)
    try:
        yield f"http://{TEST_HOST}:{port}/hook"
    finally:
        server.should_exit = True
        await task


async def test_server_delivers_to_the_receiver(
    server_factory: Callable[..., ServerProcess],
) -> None:
    plaza = server_factory({"AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1"})
    received: list[Message] = []
    secret_box: list[str] = []
    arrived = asyncio.Event()

    async def handler(msg: Message) -> None:
        received.append(msg)
        arrived.set()

    def app_factory() -> Callable[..., Any]:
        async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
            inner = webhook_app(secret_box[0], handler) if secret_box else None
            if inner is None:
                return
            await inner(scope, receive, send)

        return app

    async with (
        serving(app_factory()) as url,
        AsyncClient(server=plaza.url) as owner,
        AsyncClient(server=plaza.url) as sender,
    ):
        me = await owner.register("hooked")
        await sender.register("hook-sender")
        registered = await owner.set_webhook(url)
        secret_box.append(registered["webhook_secret"])
        assert (await owner.webhook())["url"] == url
        sent = await sender.send(me["id"], {"via": "webhook"})
        await asyncio.wait_for(arrived.wait(), 20)
        assert [m.id for m in received] == [sent.id]
        assert received[0].json() == {"via": "webhook"}
        assert received[0].sender_id == sent.sender_id

        async with httpx.AsyncClient() as raw:
            forged = await raw.post(
                url,
                content=b'{"id":"m_x"}',
                headers={"X-AgentIM-Signature": "00", "X-AgentIM-Timestamp": str(int(time.time()))},
            )
        assert forged.status_code == 401 and forged.json()["code"] == "invalid_signature"
        assert len(received) == 1

        await owner.delete_webhook()
        with pytest.raises(NotFoundError):
            await owner.webhook()


def test_verify() -> None:
    body = json.dumps({"id": "m_1", "from": "10001"}).encode()
    now = int(time.time())
    good = {"X-AgentIM-Signature": sign(body, SECRET, now), "X-AgentIM-Timestamp": str(now)}
    assert verify(body, good, SECRET)["id"] == "m_1"
    for headers in (
        {**good, "X-AgentIM-Signature": sign(body, "whsec_other", now)},
        {**good, "X-AgentIM-Timestamp": str(now - 301)},
        {
            "X-AgentIM-Signature": sign(body, SECRET, now - 301),
            "X-AgentIM-Timestamp": str(now - 301),
        },
        {"X-AgentIM-Timestamp": str(now)},
    ):
        with pytest.raises(WebhookVerificationError):
            verify(body, headers, SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(body + b" ", good, SECRET)
