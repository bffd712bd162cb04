"""The conversations page in a real browser: two humans and an agent chatting live in a group
(mentions, replies, images, unread counts), hostile bodies rendered inert, and the page
surviving a server restart with nothing lost or doubled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from tests.conftest import backend_env
from tests.server import ServerProcess
from tests.web.browser import check_a11y, needs_browser, page_weight, screenshots
from tests.web.chat_helpers import (
    agent,
    call,
    group_send,
    human,
    open_chat,
    shown_ids,
    signed_in,
    tiny_png,
)

pytestmark = needs_browser
LIVE_MS = 10_000


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        data_dir=tmp_path_factory.mktemp("chat"), env={"AGENTPLAZA_RATE_LIMITS_ENABLED": "0"}
    ).start()
    yield proc
    proc.stop()


def message(page: Any, text: str) -> Any:
    return page.locator("#messages > li", has_text=text)


async def test_two_humans_and_an_agent_chat_live(browser: Any, chat_server: ServerProcess) -> None:
    alice, bob, bot = await human(chat_server), await human(chat_server), await agent(chat_server)
    group = await call(
        chat_server, alice, "POST", "/v1/groups", {"name": "ops", "members": [bob.id, bot.id]}
    )
    gid = group["id"]
    ctx_a = await signed_in(browser, chat_server, alice)
    ctx_b = await signed_in(browser, chat_server, bob)
    page_a = await open_chat(ctx_a, f"#t={gid}")
    page_b = await open_chat(ctx_b, f"#t={gid}")
    for page in (page_a, page_b):
        await expect(page.locator("#conv-title")).to_have_text("ops")

    # Alice types; Bob sees it appear without a reload, and the reverse, as a reply.
    await page_a.fill("#body", "hello from **alice**")
    await page_a.press("#body", "Enter")
    await expect(message(page_b, "hello from alice")).to_have_count(1, timeout=LIVE_MS)
    await expect(message(page_b, "hello from alice").locator(".body strong")).to_have_text("alice")
    await message(page_b, "hello from alice").get_by_role("button", name="Reply").click()
    await page_b.fill("#body", "hi alice, bob here")
    await page_b.get_by_role("button", name="Send").click()
    reply = message(page_a, "hi alice, bob here")
    await expect(reply).to_have_count(1, timeout=LIVE_MS)
    await expect(reply.locator(".quote-ref")).to_contain_text("hello from alice")

    # The agent (plain HTTP with its API key) mentions Bob: both see it, Bob's highlighted.
    await group_send(chat_server, bot, gid, f"status is green, @{{{bob.id}}}")
    for page in (page_a, page_b):
        await expect(message(page, "status is green")).to_have_count(1, timeout=LIVE_MS)
    mention = message(page_b, "status is green")
    await expect(mention).to_have_class(re.compile(r"\bmentioned\b"))
    await expect(mention.locator(".mention-me")).to_have_text(f"@{bob.name}")
    await expect(message(page_a, "status is green")).not_to_have_class(re.compile(r"\bmentioned\b"))

    # An image: uploaded through /v1/files by Alice's page, shown to Bob from our server.
    png = {"name": "dot.png", "mimeType": "image/png", "buffer": tiny_png()}
    await page_a.set_input_files("#image", files=[png])
    image = page_b.locator("#messages img.msg-img")
    await expect(image).to_have_count(1, timeout=LIVE_MS)
    assert re.fullmatch(r"/v1/files/f_\w+", await image.get_attribute("src") or "")
    await page_b.wait_for_function(
        "() => document.querySelector('#messages img.msg-img').naturalWidth === 2"
    )

    # A DM from the agent while Alice looks at the group: an unread count on its thread.
    dm = {"to": alice.id, "content": {"format": "text", "body": "psst"}}
    await call(chat_server, bot, "POST", "/v1/messages", dm)
    badge = page_a.locator("#threads .unread")
    await expect(badge).to_have_text("1", timeout=LIVE_MS)
    await page_a.locator("#threads button", has=page_a.locator(".unread")).click()
    await expect(message(page_a, "psst")).to_have_count(1)
    await expect(page_a.locator("#threads .unread")).to_have_count(0)

    # While Alice reads the DM, the agent mentions her in the group: that thread shows it.
    await group_send(chat_server, bot, gid, f"@{{{alice.id}}} please look")
    ops_badge = page_a.locator("#threads button", has_text="ops").locator(".unread")
    await expect(ops_badge).to_have_text("@ 1", timeout=LIVE_MS)
    await expect(ops_badge).to_have_class(re.compile(r"\bmentioned\b"))

    # Every message exactly once on each page.
    for page in (page_a, page_b):
        await page.locator("#threads button", has_text="ops").click()
        await expect(page.locator("#messages > li")).to_have_count(5, timeout=LIVE_MS)
        ids = await shown_ids(page)
        assert len(set(ids)) == 5, ids
        assert page.problems == []
        assert await page.evaluate("window.__pwned === undefined")
    await check_a11y(page_b, "chat")
    await page_b.locator("#info-toggle").click()
    await expect(page_b.locator("#group-info")).to_be_visible()
    await check_a11y(page_b, "chat with group info")
    await screenshots(page_b, "chat")
    await ctx_a.close()
    await ctx_b.close()


async def test_moderation_by_role(browser: Any, chat_server: ServerProcess) -> None:
    owner, bob, bot = await human(chat_server), await human(chat_server), await agent(chat_server)
    group = await call(
        chat_server, owner, "POST", "/v1/groups", {"name": "mods", "members": [bob.id, bot.id]}
    )
    gid = group["id"]
    ctx_o = await signed_in(browser, chat_server, owner)
    ctx_b = await signed_in(browser, chat_server, bob)
    page_o = await open_chat(ctx_o, f"#t={gid}")
    page_b = await open_chat(ctx_b, f"#t={gid}")
    page_o.accept_confirms = True
    await page_o.locator("#info-toggle").click()
    panel = page_o.locator("#group-info")

    await panel.get_by_label("Announcement").fill("deploy at 5")
    await panel.get_by_role("button", name="Save").click()
    await expect(page_o.locator("#announcement")).to_have_text("deploy at 5")

    bob_row = panel.locator(f'li[data-member="{bob.id}"]')
    await bob_row.get_by_role("button", name="Mute").click()
    await expect(bob_row).to_contain_text("muted")
    await page_b.fill("#body", "can I talk?")
    await page_b.press("#body", "Enter")
    await expect(page_b.locator("#send-error")).not_to_be_empty()
    await expect(message(page_o, "can I talk?")).to_have_count(0)
    await bob_row.get_by_role("button", name="Unmute").click()
    await bob_row.get_by_role("button", name="Make admin").click()
    await expect(bob_row.locator(".badge").first).to_have_text("admin")

    # Bob, now an admin, sees member tools for the agent but none for the owner.
    await page_b.reload()
    await page_b.locator("#info-toggle").click()
    panel_b = page_b.locator("#group-info")
    await expect(panel_b.locator(f'li[data-member="{bot.id}"] button')).not_to_have_count(0)
    await expect(panel_b.locator(f'li[data-member="{owner.id}"] button')).to_have_count(0)

    bot_row = panel.locator(f'li[data-member="{bot.id}"]')
    await bot_row.get_by_role("button", name="Remove").click()
    await expect(bot_row).to_have_count(0)
    members = await call(chat_server, owner, "GET", f"/v1/groups/{gid}/members")
    assert {m["agent_id"] for m in members["members"]} == {owner.id, bob.id}

    await bob_row.get_by_role("button", name="Make owner").click()
    await expect(panel.get_by_role("button", name="Leave group")).to_be_visible()
    details = await call(chat_server, owner, "GET", f"/v1/groups/{gid}")
    assert details["owner_id"] == bob.id

    # Bob, the owner now, invites the agent back, then disbands the group.
    await page_b.reload()
    page_b.accept_confirms = True
    await page_b.locator("#info-toggle").click()
    await panel_b.get_by_label("Invite").fill(bot.id)
    await panel_b.get_by_role("button", name="Invite", exact=True).click()
    await expect(panel_b.locator(f'li[data-member="{bot.id}"]')).to_have_count(1)
    await panel_b.get_by_role("button", name="Disband group").click()
    await expect(page_b.locator("#threads button", has_text="mods")).to_have_count(0)
    await expect(page_b.locator("#composer")).to_be_hidden()
    async with httpx.AsyncClient(base_url=chat_server.url) as http:
        gone = await http.get(f"/v1/groups/{gid}", headers=bob.headers)
    assert gone.status_code == 404
    assert page_o.problems == [] and page_b.problems == []
    await ctx_o.close()
    await ctx_b.close()


HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '<img src=x onerror="window.__pwned = 2">',
    "[click me](javascript:window.__pwned=3)",
    "[again]( JaVaScRiPt:window.__pwned=4)",
    "![pixel](https://evil.example/track.png)",
    '<a href="javascript:window.__pwned=5">html link</a>',
    "**<svg onload=window.__pwned=6>**",
    "[x](data:text/html,<script>window.__pwned=7</script>)",
    "`<iframe src=javascript:window.__pwned=8>`",
    '<style>body{display:none}</style><form action="https://evil.example"><input name=p></form>',
]


async def test_hostile_bodies_render_inert(browser: Any, chat_server: ServerProcess) -> None:
    alice, bot = await human(chat_server), await agent(chat_server)
    group = await call(
        chat_server, alice, "POST", "/v1/groups", {"name": "hostile", "members": [bot.id]}
    )
    ctx = await signed_in(browser, chat_server, alice)
    page = await open_chat(ctx, f"#t={group['id']}")
    for n, body in enumerate(HOSTILE):  # both formats: markdown and plain text
        await group_send(chat_server, bot, group["id"], body, "markdown" if n % 2 else "text")
    for body in HOSTILE:
        await group_send(chat_server, bot, group["id"], body, "markdown")
    await group_send(
        chat_server, bot, group["id"], '{"url": "https://evil.example/x.png"}', "image"
    )
    await expect(page.locator("#messages > li")).to_have_count(
        2 * len(HOSTILE) + 1, timeout=LIVE_MS
    )
    await page.wait_for_timeout(300)  # any handler that could run, would have run
    for link in await page.locator("#messages a").all():  # clicking a link runs nothing either
        if (await link.get_attribute("href") or "").startswith("javascript"):
            await link.click()
    found = await page.evaluate(
        """() => {
          const box = document.getElementById('messages');
          const all = [...box.querySelectorAll('*')];
          return {
            pwned: window.__pwned ?? null,
            tags: [...new Set(all.map(e => e.tagName.toLowerCase()))],
            handlers: all.flatMap(e => [...e.attributes].map(a => a.name))
              .filter(n => n.startsWith('on')),
            hrefs: [...box.querySelectorAll('a')].map(a => a.getAttribute('href')),
            srcs: [...box.querySelectorAll('img')].map(i => i.getAttribute('src')),
            text: box.textContent,
          };
        }"""
    )
    assert found["pwned"] is None and page.problems == []
    assert found["handlers"] == []
    assert not set(found["tags"]) & {"script", "iframe", "svg", "style", "form", "input", "object"}
    assert all(h.startswith(("https://", "http://", "mailto:")) for h in found["hrefs"]), found
    assert found["srcs"] == [], found  # the only images were someone else's
    assert "<script>window.__pwned = 1</script>" in found["text"]  # shown, as text
    assert await page.evaluate("getComputedStyle(document.body).display") != "none"
    await ctx.close()


async def test_restart_loses_nothing_and_doubles_nothing(
    browser: Any, backend: str, tmp_path: Path
) -> None:
    with backend_env(backend) as env:
        await restart_scenario(browser, tmp_path, {**env, "AGENTPLAZA_RATE_LIMITS_ENABLED": "0"})


async def restart_scenario(browser: Any, tmp_path: Path, env: dict[str, str]) -> None:
    server = ServerProcess(data_dir=tmp_path / "data", env=env).start()
    try:
        alice, bot = await human(server), await agent(server)
        group = await call(server, alice, "POST", "/v1/groups", {"name": "r", "members": [bot.id]})
        gid = group["id"]
        ctx = await signed_in(browser, server, alice)
        page = await open_chat(ctx, f"#t={gid}")
        await page.evaluate("window.__same_page = true")
        before = [await group_send(server, bot, gid, f"before {n}") for n in range(3)]
        await expect(page.locator("#messages > li")).to_have_count(3, timeout=LIVE_MS)

        server.stop()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "offline")
        server = ServerProcess(data_dir=server.data_dir, port=server.port, env=env).start()
        # Sent the moment the server is back (over HTTP, a second path), most likely before
        # the page has reconnected: those come from the resume, the later ones live.
        after = [await group_send(server, bot, gid, f"after {n}") for n in range(3)]
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=LIVE_MS)
        after += [await group_send(server, bot, gid, f"after {n}") for n in range(3, 5)]

        await expect(page.locator("#messages > li")).to_have_count(8, timeout=LIVE_MS)
        await page.wait_for_timeout(500)  # a late duplicate would land now
        ids = await shown_ids(page)
        assert sorted(ids) == sorted(before + after), ids
        for n in range(5):
            await expect(message(page, f"after {n}")).to_have_count(1)
        assert await page.evaluate("window.__same_page") is True  # no reload happened
        assert page.problems == []
        await ctx.close()
    finally:
        server.stop()


async def test_chat_page_weight_under_budget(browser: Any, chat_server: ServerProcess) -> None:
    """The first load (page, module graph, styles, the /v1 reads it makes) stays under 100 KB
    over the wire, compressed, with an empty cache."""
    alice, bot = await human(chat_server), await agent(chat_server)
    group = await call(
        chat_server, alice, "POST", "/v1/groups", {"name": "weight", "members": [bot.id]}
    )
    for n in range(20):
        await group_send(chat_server, bot, group["id"], f"message number {n} " + "lorem " * 20)
    ctx = await signed_in(browser, chat_server, alice)
    total = await page_weight(ctx, f"/chat#t={group['id']}", "chat")
    assert 10_000 < total < 100_000, total
    await ctx.close()


async def test_revoked_session_goes_to_login(browser: Any, chat_server: ServerProcess) -> None:
    """Logging out elsewhere ends the page's stream at once; the page asks for a login
    instead of retrying with a dead session forever."""
    alice = await human(chat_server)
    ctx = await signed_in(browser, chat_server, alice)
    page = await open_chat(ctx)
    await call(chat_server, alice, "POST", "/v1/users/logout")
    await page.wait_for_url("**/login?next=%2Fchat", timeout=LIVE_MS)
    assert page.problems == []
    await ctx.close()
