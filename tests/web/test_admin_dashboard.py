"""The operator dashboard in a real browser: refused to anyone outside `admin_users` (the page
and its API), live numbers for an admin while agents talk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import expect
from websockets.asyncio.client import connect

from tests.server import ServerProcess
from tests.web.browser import check_a11y, needs_browser, screenshots
from tests.web.chat_helpers import agent, human, signed_in, unique

pytestmark = needs_browser
ADMIN = unique("ops")


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        data_dir=tmp_path_factory.mktemp("admin"),
        env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_ADMIN_USERS": ADMIN},
    ).start()
    yield proc
    proc.stop()


async def legend_value(page: Any, chart: str, series: str) -> float:
    cell = page.locator(f'[data-chart="{chart}"] [data-series="{series}"] b')
    return float(await cell.inner_text())


async def positive(page: Any, chart: str, series: str) -> None:
    """Wait until the chart's legend shows a value above 0 for the series."""
    await page.wait_for_function(
        """([chart, series]) => {
          const b = document.querySelector(`[data-chart="${chart}"] [data-series="${series}"] b`);
          return b !== null && parseFloat(b.textContent) > 0;
        }""",
        arg=[chart, series],
        timeout=15_000,
    )


async def test_dashboard_is_forbidden_to_others(browser: Any, admin_server: ServerProcess) -> None:
    anonymous = await browser.new_context(base_url=admin_server.url)
    page = await anonymous.new_page()
    await page.goto("/admin")
    assert "/login" in page.url  # sign in first
    await anonymous.close()

    carol = await human(admin_server)
    ctx = await signed_in(browser, admin_server, carol)
    page = await ctx.new_page()
    response = await page.goto("/admin")
    assert response is not None and response.status == 403
    await expect(page.locator("#forbidden")).to_be_visible()
    await expect(page.locator("#dash")).to_have_count(0)
    answer = await page.evaluate(
        "fetch('/v1/admin/stats').then(async r => [r.status, (await r.json()).code])"
    )
    assert answer == [403, "forbidden"]
    await check_a11y(page, "admin forbidden")
    await ctx.close()


async def test_admin_sees_live_numbers(browser: Any, admin_server: ServerProcess) -> None:
    admin = await human(admin_server, ADMIN)
    alice, bob = await agent(admin_server), await agent(admin_server)
    ctx = await signed_in(browser, admin_server, admin)
    page = await ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    response = await page.goto("/admin")
    assert response is not None and response.status == 200
    await expect(page.locator('[data-chart="connections"] svg polyline')).to_have_count(
        4, timeout=10_000
    )

    async def talk() -> None:
        async with httpx.AsyncClient(base_url=admin_server.url) as http:
            while True:
                await http.post(
                    "/v1/messages",
                    json={"to": bob.id, "content": {"format": "text", "body": "tick"}},
                    headers=alice.headers,
                )
                await asyncio.sleep(0.1)

    # Bob listens on a WebSocket: a live connection, and deliveries by that transport.
    async with connect(admin_server.ws_url, additional_headers=bob.headers, proxy=None) as ws:
        traffic = asyncio.get_running_loop().create_task(talk())
        try:
            await expect(
                page.locator('[data-chart="connections"] [data-series="websocket"] b')
            ).to_have_text("1", timeout=10_000)
            for chart, series in (
                ("messages", "Messages sent /s"),
                ("deliveries", "websocket"),
                ("latency", "store append (mean)"),
            ):
                await positive(page, chart, series)
        finally:
            traffic.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic
        del ws
    assert await legend_value(page, "latency", "store ping") > 0
    await expect(page.locator("#dash-status")).to_contain_text("Updated")
    assert errors == []
    await check_a11y(page, "admin")
    await screenshots(page, "admin")
    await ctx.close()
