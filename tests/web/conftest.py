"""Web app fixtures: a real server, Playwright's Chromium (Debian's, never a download), and
pages with `window.__pwned`/`window.pwned` probes that must stay unset (no injected script ran)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.server import CLIENT_TLS, ServerProcess
from tests.web.browser import BASE_URL_OF, CHROMIUM, DESKTOP, MISSING

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Human:
    id: str
    display_name: str
    password: str
    token: str


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own (SQLite; the pages are the same on every store)."""
    proc = ServerProcess(
        data_dir=tmp_path_factory.mktemp("web"), env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    ).start()
    yield proc
    proc.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if MISSING is not None:
        pytest.skip(MISSING)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        await chromium.close()


@pytest.fixture
async def context(browser: Any, web_server: ServerProcess) -> AsyncIterator[Any]:
    ctx = await browser.new_context(base_url=web_server.url, viewport=DESKTOP, locale="en-US")
    BASE_URL_OF[id(ctx)] = web_server.url
    yield ctx
    BASE_URL_OF.pop(id(ctx), None)
    await ctx.close()


@pytest.fixture
async def page(context: Any) -> AsyncIterator[Any]:
    """A page that fails the test if any dialog opens or `window.__pwned` gets set."""
    p = await context.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    async def on_dialog(dialog: Any) -> None:
        if dialog.type == "confirm":  # our own confirmations (rotate key) are expected
            await dialog.accept()
            return
        dialogs.append(dialog.message)
        await dialog.dismiss()

    p.on("dialog", on_dialog)
    p.on("pageerror", lambda exc: errors.append(str(exc)))
    yield p
    if not p.is_closed():
        probe = "window.__pwned === undefined && window.pwned === undefined"
        assert await p.evaluate(probe), "an injected script ran"
    assert not dialogs, f"unexpected dialogs: {dialogs}"
    assert not errors, f"script errors on the page: {errors}"


async def register_human(server: ServerProcess, name: str | None = None) -> Human:
    display_name = name or unique_name("human")
    async with httpx.AsyncClient(base_url=server.url, verify=CLIENT_TLS) as client:
        r = await client.post(
            "/v1/users/register", json={"display_name": display_name, "password": PASSWORD}
        )
    assert r.status_code == 201, r.text
    data = r.json()
    return Human(data["id"], data["display_name"], PASSWORD, data["token"])


@pytest.fixture
async def human(web_server: ServerProcess) -> Human:
    return await register_human(web_server)


async def log_in(page: Any, who: Human) -> None:
    """Through the login form, as a person would."""
    await page.goto("/login")
    await page.get_by_label("Name").fill(who.display_name)
    await page.get_by_label("Password").fill(who.password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url("**/")


@pytest.fixture
async def logged_in_page(page: Any, human: Human) -> Any:
    await log_in(page, human)
    return page
