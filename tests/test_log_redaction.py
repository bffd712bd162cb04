"""No credential reaches the server log: API keys, session tokens, recovery secrets, passwords
and webhook secrets, valid or not, in query strings (`?token=` on WebSocket and SSE) or in
headers, on every transport, at log levels info and debug, in text and JSON lines.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from agentplaza.logs import redact
from tests.conftest import register, unique_name
from tests.server import ServerProcess

PASSWORD = "a long password 1234"


@pytest.mark.parametrize(("level", "fmt"), [("info", "text"), ("debug", "json")])
async def test_server_log_holds_no_credential(tmp_path: Path, level: str, fmt: str) -> None:
    server = ServerProcess(
        data_dir=tmp_path,
        env={
            "AGENTPLAZA_LOG_LEVEL": level,
            "AGENTPLAZA_LOG_FORMAT": fmt,
            "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
        },
    ).start()
    secrets: list[str] = []
    try:
        secrets = await _traffic(server)
    finally:
        server.stop()
    log = server.log()
    assert "/v1/ws" in log, "the traffic was not logged at all: the test would prove nothing"
    leaked = [s for s in secrets if s in log]
    assert not leaked, f"in the log: {leaked}\n{log[-3000:]}"


async def _traffic(server: ServerProcess) -> list[str]:
    """Requests carrying every kind of credential, right and wrong; returns them all."""
    wrong_key = "am_wrongwrongwrongwrongwrong"
    garbage = "no-prefix-garbage-credential"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        alice, bob = await register(http), await register(http)
        secrets = [alice.api_key, alice.recovery_secret, bob.api_key, wrong_key, garbage]

        for token in (alice.api_key, wrong_key, garbage):  # WebSocket: query, header
            await _ws(server, f"?token={token}", {})
            await _ws(server, "", {"Authorization": f"Bearer {token}"})
            await _ws(server, "?since_seq=0", {"X-API-Key": token})
        for token in (alice.api_key, wrong_key, garbage):  # SSE: query and header
            await _sse(http, {"token": token}, {})
            await _sse(http, {}, {"Authorization": f"Bearer {token}"})
        for token in (bob.api_key, wrong_key, garbage):  # long-poll and a send
            headers = {"Authorization": f"Bearer {token}"}
            await http.get("/v1/messages/pending", headers=headers, params={"timeout": 0.2})
            await http.get("/v1/messages/pending", headers={"X-API-Key": token})
            await http.post("/v1/messages", headers=headers, json={"to": alice.id, "body": "x"})
        await http.get("/v1/messages/pending", params={"token": alice.api_key})

        name = unique_name("human")
        registered = await http.post(
            "/v1/users/register", json={"display_name": name, "password": PASSWORD}
        )
        login = await http.post(
            "/v1/users/login", json={"display_name": name, "password": PASSWORD}
        )
        await http.post("/v1/users/login", json={"display_name": name, "password": PASSWORD + "x"})
        session = login.json()["token"]
        secrets += [PASSWORD, registered.json()["token"], session]
        await _ws(server, f"?token={session}", {})
        await _sse(http, {"token": session}, {})

        recovered = await http.post(
            "/v1/agents/recover", json={"recovery_secret": alice.recovery_secret}
        )
        await http.post("/v1/agents/recover", json={"recovery_secret": "rs_notarealsecretatall"})
        new_key = recovered.json()["api_key"]
        rotated = await http.post(
            "/v1/agents/me/rotate-recovery-secret",
            headers={"Authorization": f"Bearer {new_key}"},
            json={"recovery_secret": recovered.json()["recovery_secret"]},
        )
        secrets += [
            new_key,
            recovered.json()["recovery_secret"],
            rotated.json()["recovery_secret"],
            "rs_notarealsecretatall",
        ]
        webhook = await http.post(
            "/v1/agents/me/webhook",
            headers=bob.headers,
            json={"url": "https://93.184.215.14/agentplaza"},  # an address: no DNS
        )
        assert webhook.status_code == 201, webhook.text  # no message goes to it: no delivery
        secrets.append(webhook.json()["webhook_secret"])
        # The old key on a WebSocket after the recovery, once more.
        await _ws(server, f"?token={alice.api_key}", {})
    return secrets


async def _ws(server: ServerProcess, query: str, headers: dict[str, str]) -> None:
    try:
        async with connect(server.ws_url + query, additional_headers=headers, proxy=None) as ws:
            await asyncio.wait_for(ws.recv(), 5)  # the notifications frame
    except InvalidStatus:
        pass


async def _sse(http: httpx.AsyncClient, params: dict[str, str], headers: dict[str, str]) -> None:
    async with http.stream("GET", "/v1/stream", params=params, headers=headers) as response:
        if response.status_code == 200:
            async for line in response.aiter_lines():
                if line.startswith("event: notifications"):
                    break


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        ('1.2.3.4:5 - "WebSocket /v1/ws?token=am_Secret-123&since_seq=4" 401', "since_seq=4"),
        ("GET /v1/stream?since_seq=1&token=whatever-it-is HTTP/1.1", "since_seq=1"),
        ("headers: [(b'authorization', b'Bearer not-a-key-at-all')]", "authorization"),
        ("{'x-api-key': 'typo-key', 'accept': '*/*'}", "accept"),
        ("recovery rs_abcdefgh, webhook whsec_abcdefgh, session pt_abcdefgh", "webhook"),
    ],
)
def test_redact_keeps_the_line_and_drops_the_secret(line: str, kept: str) -> None:
    redacted = redact(line)
    assert kept in redacted
    assert "[redacted]" in redacted
    for secret in ("Secret-123", "whatever-it-is", "not-a-key-at-all", "typo-key", "abcdefgh"):
        assert secret not in redacted
