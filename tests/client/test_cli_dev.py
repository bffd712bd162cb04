"""`agentplaza webhook …`, `agentplaza dev` (the local signed-webhook receiver) and
`agentplaza init` (a generated bot that answers), against real servers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from tests.api.helpers import send
from tests.client.conftest import CliRunner
from tests.conftest import register, unique_name
from tests.server import ServerProcess, free_port


def _wait_listening(port: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("agentplaza dev did not start listening")


def _finish(proc: subprocess.Popen[str]) -> list[dict[str, object]]:
    try:
        out, err = proc.communicate(timeout=40)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


async def test_webhook_commands_and_dev_receiver(
    cli: CliRunner, server_factory: Callable[..., ServerProcess]
) -> None:
    server = server_factory({"AGENTPLAZA_WEBHOOK_ALLOW_PRIVATE": "1"})
    me = cli.json("register", "--name", unique_name("hook"), "--server", server.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        peer = await register(http)

        async def send_me(text: str) -> None:
            await send(http, peer, me["id"], text, "text")

        # dev --register: registers http://127.0.0.1:PORT/ and verifies with its secret.
        port = free_port("127.0.0.1")
        dev = cli.popen("dev", "--port", str(port), "--register", "--count", "1", "--json")
        _wait_listening(port, dev)
        forged = await http.post(
            f"http://127.0.0.1:{port}/",
            content=b'{"id": "m_forged"}',
            headers={
                "X-AgentIM-Signature": "00" * 32,
                "X-AgentIM-Timestamp": str(int(time.time())),
            },
        )
        assert forged.status_code == 401
        await send_me("pushed to the webhook")
        rejected, accepted = _finish(dev)
        assert rejected["verified"] is False and "signature" in str(rejected["error"])
        assert accepted["verified"] is True
        payload = accepted["payload"]
        assert isinstance(payload, dict) and payload["content"]["body"] == "pushed to the webhook"

        # webhook set saves the new secret; dev without --register verifies with it.
        hook = cli.json("webhook", "set", f"http://127.0.0.1:{port}/")
        assert hook["webhook_secret"].startswith("whsec_")
        saved = json.loads(cli.config_file.read_text())["profiles"]["default"]
        assert saved["webhook_secret"] == hook["webhook_secret"]
        dev = cli.popen("dev", "--port", str(port), "--count", "1", "--json")
        _wait_listening(port, dev)
        await send_me("second delivery")
        (second,) = _finish(dev)
        assert second["verified"] is True

    shown = cli.json("webhook", "show")
    assert shown["url"] == f"http://127.0.0.1:{port}/" and shown["delivered"] >= 1
    deliveries = cli.json("webhook", "deliveries")
    assert deliveries["failed"] == 0 and deliveries["recent_failures"] == []
    assert "delivered" in cli.ok("webhook", "deliveries")
    cli.ok("webhook", "delete")
    gone = cli.run("webhook", "show")
    assert gone.returncode == 4 and "webhook" in gone.stderr


async def test_dev_without_a_secret_is_a_usage_error(cli: CliRunner) -> None:
    done = cli.run("dev", "--port", str(free_port("127.0.0.1")))
    assert done.returncode == 2 and "no webhook secret" in done.stderr


async def test_init_generates_a_bot_that_replies(
    cli: CliRunner, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    bot = cli.json("register", "--name", unique_name("bot"), "--server", server.url)
    assert "created my-bot/" in cli.ok("init", "my-bot")
    project = cli.home / "my-bot"
    assert {p.name for p in project.iterdir()} >= {"bot.py", "README.md"}
    refused = cli.run("init", "my-bot")
    assert refused.returncode == 2 and "already exists" in refused.stderr

    proc = subprocess.Popen(  # noqa: ASYNC220 (the bot runs beside the test's loop)
        [sys.executable, "bot.py"],
        cwd=project,
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        peer = await register(client)
        sent = await send(client, peer, bot["id"], "hi there", "text")
        replies: list[dict[str, object]] = []
        deadline = time.monotonic() + 40
        while not replies and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[0]
            answer = await client.get(
                "/v1/messages/pending", params={"timeout": 5}, headers=peer.headers
            )
            replies = [m for m in answer.json() if m["from"] == bot["id"]]
        assert replies, "the generated bot did not reply"
        assert replies[0]["content"] == {"format": "text", "body": "Echo: hi there"}
        assert replies[0]["thread_id"] == sent["thread_id"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output = proc.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            proc.kill()
            output = proc.communicate()[0]
    assert "Traceback" not in output, output
