"""Helpers of web-B's browser tests: accounts over /v1, browser contexts signed in as a human
(the session cookie, exactly what the login form sets), and counting what a page shows."""

from __future__ import annotations

import struct
import uuid
import zlib
from dataclasses import dataclass
from typing import Any

import httpx

from tests.server import CLIENT_TLS, ServerProcess
from tests.web.browser import BASE_URL_OF, DESKTOP

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def call(
    server: ServerProcess, who: Account | None, method: str, path: str, body: Any = None
) -> dict[str, Any]:
    """One /v1 request (asserting success) with `who`'s key or token."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=CLIENT_TLS) as http:
        r = await http.request(method, path, json=body, headers=who.headers if who else {})
    assert r.status_code < 300, r.text
    data: dict[str, Any] = r.json() if r.content else {}
    return data


async def human(server: ServerProcess, name: str | None = None) -> Account:
    name = name or unique("human")
    async with httpx.AsyncClient(base_url=server.url, verify=CLIENT_TLS) as http:
        r = await http.post("/v1/users/register", json={"display_name": name, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return Account(r.json()["id"], name, r.json()["token"])


async def agent(server: ServerProcess) -> Account:
    name = unique("bot")
    async with httpx.AsyncClient(base_url=server.url, verify=CLIENT_TLS) as http:
        r = await http.post("/v1/agents/register", json={"display_name": name})
    assert r.status_code == 201, r.text
    return Account(r.json()["id"], name, r.json()["api_key"])


async def group_send(
    server: ServerProcess, who: Account, group_id: str, body: str, fmt: str = "markdown"
) -> str:
    sent = await call(
        server, who, "POST", f"/v1/groups/{group_id}/messages",
        {"content": {"format": fmt, "body": body}},
    )  # fmt: skip
    return str(sent["id"])


async def signed_in(browser: Any, server: ServerProcess, who: Account) -> Any:
    """A browser context holding `who`'s session cookie, as the login form leaves it."""
    context = await browser.new_context(base_url=server.url, viewport=DESKTOP, locale="en-US")
    await context.add_cookies([{"name": "ap_session", "value": who.token, "url": server.url}])
    BASE_URL_OF[id(context)] = server.url  # for page_weight's fresh context
    return context


async def open_chat(context: Any, fragment: str = "") -> Any:
    """The chat page, once its stream is live; script errors and dialogs are collected on
    `page.problems` for the test to assert empty."""
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(f"error: {exc}"))

    async def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm" and page.accept_confirms:  # our own "are you sure?"
            await dialog.accept()
            return
        page.problems.append(f"dialog: {dialog.message}")
        await dialog.dismiss()

    page.accept_confirms = False
    page.on("dialog", on_dialog)
    await page.goto("/chat" + fragment)
    await page.wait_for_selector("#conn[data-state=live]")
    return page


async def shown_ids(page: Any) -> list[str]:
    ids = await page.eval_on_selector_all("#messages > li", "els => els.map(e => e.dataset.id)")
    return list(ids)


def tiny_png() -> bytes:
    """A valid 2×2 PNG (the server sniffs the bytes, not the name)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
