"""The web app in Chromium against a real server: every page of web-A's, its accessibility
(axe-core), screenshots and weight; the public room live without an account; an owned agent
created and its key rotated; hostile names and bodies rendered inert."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import unique_name
from tests.dialects.test_chatr import operator_approve
from tests.server import ServerProcess
from tests.web.browser import check_a11y, needs_browser, page_weight, screenshots
from tests.web.conftest import Human, log_in, register_human

pytestmark = [needs_browser, pytest.mark.slow]
expect = pytest.importorskip("playwright.async_api", reason="playwright is not installed").expect

# Each sets the probe window.pwned if it ever runs as script, as markup or as a link (no
# `__` in it: that is markdown's bold, and the text must come back literally).
HOSTILE_NAME = '<img src=x onerror="window.pwned=1">'
HOSTILE_BODY = (
    "<script>window.pwned=1</script> **bold** "
    '<img src=x onerror="window.pwned=2"> [click](javascript:window.pwned=3) '
    '![i](javascript:window.pwned=4) <a href="javascript:window.pwned=5">a</a>'
)


async def _chatr_agent(server: ServerProcess) -> str:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post("/chatr/api/register", json={"name": unique_name("r")[:32]})
        assert r.status_code == 201, r.text
        return str(r.json()["agent"]["apiKey"])


async def _chatr_post(server: ServerProcess, key: str, content: str) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        r = await client.post(
            "/chatr/api/messages",
            json={"content": content},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert r.status_code == 201, r.text


async def _no_injection(page: Any) -> None:
    assert await page.evaluate("window.pwned") is None
    assert (
        await page.locator("main script, main img[onerror], main a[href^='javascript']").count()
        == 0
    )


async def test_public_room_live_without_an_account(page: Any, web_server: ServerProcess) -> None:
    key = await _chatr_agent(web_server)
    await _chatr_post(web_server, key, "history before the page opened")
    await page.goto("/rooms/lobby")
    messages = page.locator("#messages")
    await expect(messages).to_contain_text("history before the page opened")
    await expect(page.locator("#conn")).to_have_attribute("data-state", "live")

    await _chatr_post(web_server, key, "a live post, *emphasised*")
    await expect(messages.locator("li").last).to_contain_text("a live post, emphasised")
    await expect(messages.locator("li").last.locator("em")).to_have_text("emphasised")
    await expect(page.locator("#s-messages")).not_to_have_text("–")
    assert int(await page.locator("#s-messages").inner_text()) >= 1
    await expect(page.locator("#online")).to_contain_text(re.compile(r"\w"))

    await check_a11y(page, "room")
    await screenshots(page, "room")
    await page_weight(page.context, "/rooms/lobby", "room")


async def test_hostile_content_is_inert(browser: Any, web_server: ServerProcess) -> None:
    # The page's CSP would stop inline script anyway: bypass it to prove the escaping alone.
    ctx = await browser.new_context(base_url=web_server.url, bypass_csp=True)
    page = await ctx.new_page()
    dialogs: list[str] = []

    async def on_dialog(dialog: Any) -> None:  # Playwright awaits a coroutine handler
        dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        # A /v1 agent's key works on /chatr, under its display name: a hostile one here.
        async with httpx.AsyncClient(base_url=web_server.url) as client:
            r = await client.post(
                "/v1/agents/register",
                json={"display_name": HOSTILE_NAME + unique_name("")[-6:]},
            )
            assert r.status_code == 201, r.text
        await _chatr_post(web_server, r.json()["api_key"], HOSTILE_BODY)
        await page.goto("/rooms/lobby")
        last = page.locator("#messages li").last
        await expect(last.locator(".name")).to_contain_text(HOSTILE_NAME)
        await expect(last).to_contain_text("<script>window.pwned=1</script>")
        await expect(last).to_contain_text('<img src=x onerror="window.pwned=2">')
        await expect(last.locator(".body strong")).to_have_text("bold")
        await _no_injection(page)

        # A human with a hostile name posts a hostile moment; it is shown literally.
        hostile = await register_human(web_server, HOSTILE_NAME + unique_name("")[-6:])
        await log_in(page, hostile)
        await expect(page.locator("header")).to_contain_text(HOSTILE_NAME)
        await page.goto("/moments")
        await page.get_by_label("Share a moment").fill(HOSTILE_BODY)
        await page.get_by_role("button", name="Post", exact=True).click()
        first = page.locator("#feed > li").first
        await expect(first).to_contain_text("<script>window.pwned=1</script>")
        await expect(first).to_contain_text(HOSTILE_NAME)
        for link in await first.locator("a").all():
            assert not (await link.get_attribute("href") or "").lower().startswith("javascript")
        await page.goto("/directory")
        await page.get_by_label("Search agents and people").fill("onerror")
        await page.get_by_role("button", name="Search").click()
        await expect(page.locator("#results")).to_contain_text(HOSTILE_NAME)
        await _no_injection(page)
        assert not dialogs
    finally:
        await ctx.close()


async def test_sign_up_settings_and_log_out(page: Any, web_server: ServerProcess) -> None:
    name = unique_name("signup")
    await page.goto("/signup")
    await check_a11y(page, "signup")
    await screenshots(page, "signup")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill("password one two")
    await page.get_by_role("button", name="Create account").click()
    await page.wait_for_url("**/")
    await expect(page.locator("header")).to_contain_text(name)
    session = next(c for c in await page.context.cookies() if c["name"] == "ap_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax"
    await check_a11y(page, "home")
    await screenshots(page, "home")
    await page_weight(page.context, "/", "home")

    await page.goto("/settings")
    await expect(page.locator("#sessions li")).to_have_count(1)
    await page.get_by_label("Who can message me").select_option("friends_only")
    await page.get_by_label("Who can send me friend requests").select_option("nobody")
    await page.locator("#privacy button[type=submit]").click()
    await expect(page.locator("#status")).to_have_text("Saved.")
    await page.reload()
    await expect(page.get_by_label("Who can message me")).to_have_value("friends_only")
    await expect(page.get_by_label("Who can send me friend requests")).to_have_value("nobody")
    await check_a11y(page, "settings")
    await screenshots(page, "settings")
    await page_weight(page.context, "/settings", "settings")

    await page.get_by_role("button", name="Log out").click()
    await page.wait_for_url("**/")
    await expect(page.get_by_role("link", name="Log in")).to_be_visible()
    await page.goto("/login")
    await check_a11y(page, "login")
    await screenshots(page, "login")
    await page_weight(page.context, "/login", "login")


async def test_my_agents_create_and_rotate(
    page: Any, human: Human, web_server: ServerProcess
) -> None:
    await log_in(page, human)
    await page.goto("/agents")
    await expect(page.locator("#none")).to_be_visible()
    name = unique_name("mine")
    await page.get_by_label("Name", exact=True).fill(name)
    await page.get_by_role("button", name="Create agent").click()
    key_field = page.locator("#key")
    await expect(key_field).to_have_value(re.compile(r"^am_"))
    first_key = await key_field.input_value()
    card = page.locator("#agents > li")
    await expect(card).to_have_count(1)
    await expect(card).to_contain_text(name)
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("#status")).to_have_text("Copied.")

    await card.get_by_role("button", name="Rotate key").click()
    await expect(key_field).not_to_have_value(first_key)
    second_key = await key_field.input_value()
    async with httpx.AsyncClient(base_url=web_server.url) as client:
        old = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {first_key}"})
        new = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {second_key}"})
    assert old.status_code == 401
    assert new.status_code == 200 and new.json()["display_name"] == name

    await page.reload()  # the key is shown once: gone after a reload
    await expect(page.locator("#secret")).to_be_hidden()
    await expect(card).to_contain_text(name)
    await check_a11y(page, "agents")
    await screenshots(page, "agents")
    await page_weight(page.context, "/agents", "agents")


async def test_directory_friends_and_moments(page: Any, web_server: ServerProcess) -> None:
    me = await register_human(web_server)
    other = await register_human(web_server)
    await log_in(page, me)
    await page.goto("/directory")
    await page.get_by_label("Search agents and people").fill(other.display_name)
    await page.get_by_role("button", name="Search").click()
    result = page.locator("#results > li")
    await expect(result).to_have_count(1)
    await result.get_by_role("button", name="Add friend").click()
    await expect(page.locator("#outgoing")).to_contain_text(other.display_name)
    await check_a11y(page, "directory")
    await screenshots(page, "directory")
    await page_weight(page.context, "/directory", "directory")

    # The other side sees the request and accepts it.
    await page.context.clear_cookies()
    await log_in(page, other)
    await page.goto("/directory")
    await expect(page.locator("#incoming")).to_contain_text(me.display_name)
    await page.locator("#incoming").get_by_role("button", name="Accept").click()
    await expect(page.locator("#friends")).to_contain_text(me.display_name)

    # Block someone from the directory; unblock from the settings.
    nuisance = await register_human(web_server)
    await page.get_by_label("Search agents and people").fill(nuisance.display_name)
    await page.get_by_role("button", name="Search").click()
    await page.locator("#results > li").get_by_role("button", name="Block").click()
    await expect(page.locator("#status")).to_contain_text(nuisance.display_name)
    await page.goto("/settings")
    blocks = page.locator("#blocks")
    await expect(blocks).to_contain_text(nuisance.display_name)
    await blocks.get_by_role("button", name="Unblock").click()
    await expect(page.locator("#no-blocks")).to_be_visible()

    await page.goto("/moments")
    await page.get_by_label("Share a moment").fill("hello **friends**")
    await page.get_by_role("button", name="Post", exact=True).click()
    item = page.locator("#feed > li").first
    await expect(item.locator("strong", has_text="friends")).to_be_visible()
    await item.get_by_role("button", name="Like").click()
    await expect(item).to_contain_text("1 likes")
    await item.get_by_label("Write a comment").fill("first comment")
    await item.get_by_role("button", name="Comment", exact=True).click()
    await expect(item.locator("summary")).to_have_text("Comments (1)")
    await page.reload()
    item = page.locator("#feed > li").first
    await expect(item.get_by_role("button", name="Unlike")).to_be_visible()
    await item.locator("summary").click()
    await expect(item.locator(".comments")).to_contain_text("first comment")
    await check_a11y(page, "moments")
    await screenshots(page, "moments")
    await page_weight(page.context, "/moments", "moments")


async def test_chinese_from_accept_language_and_the_switch(
    browser: Any, web_server: ServerProcess
) -> None:
    ctx = await browser.new_context(base_url=web_server.url, locale="zh-CN")
    page = await ctx.new_page()
    try:
        await page.goto("/rooms/lobby")
        await expect(page.locator("h1")).to_contain_text("公共聊天室")
        assert await page.locator("html").get_attribute("lang") == "zh-CN"
        await page.get_by_role("link", name="English").click()
        await expect(page.locator("h1")).to_contain_text("Public room")
        await page.get_by_role("button", name="Dark mode").click()
        assert await page.locator("html").get_attribute("data-theme") == "dark"
        await page.reload()
        assert await page.locator("html").get_attribute("data-theme") == "dark"
    finally:
        await ctx.close()


async def test_room_badge_and_reconnect_after_a_restart(browser: Any, tmp_path: Path) -> None:
    """A verified agent's posts carry the 🦞 badge; when the server restarts the page
    reconnects by itself and keeps showing new posts."""
    server = ServerProcess(
        data_dir=tmp_path / "srv", env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    ).start()
    ctx = await browser.new_context(base_url=server.url)
    try:
        name = unique_name("v")[-24:].replace(".", "-")
        async with httpx.AsyncClient(base_url=server.url) as client:
            r = await client.post("/chatr/api/register", json={"name": name})
            key = r.json()["agent"]["apiKey"]
            auth = {"Authorization": f"Bearer {key}"}
            r = await client.post(
                "/chatr/api/verify/start", json={"moltbookName": "lobster"}, headers=auth
            )
            assert r.status_code == 200, r.text
            operator_approve(server, name, "lobster", None)
            r = await client.post(
                "/chatr/api/verify/complete", json={"moltbookName": "lobster"}, headers=auth
            )
            assert r.status_code == 200, r.text
        await _chatr_post(server, key, "before the restart")
        page = await ctx.new_page()
        await page.goto("/rooms/lobby")
        last = page.locator("#messages li").last
        await expect(last).to_contain_text("before the restart")
        await expect(last.locator(".badge")).to_contain_text("verified")
        conn = page.locator("#conn")
        await expect(conn).to_have_attribute("data-state", "live")

        server.stop()
        await expect(conn).to_have_attribute("data-state", "offline")
        server.start()  # same port and data
        await expect(conn).to_have_attribute("data-state", "live", timeout=20_000)
        await _chatr_post(server, key, "after the restart")
        await expect(page.locator("#messages li").last).to_contain_text("after the restart")
        await expect(page.locator("#messages")).to_contain_text("before the restart")
    finally:
        await ctx.close()
        server.stop()
