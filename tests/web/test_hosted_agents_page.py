"""My agents, the hosted part, in Chromium against a real server and the scripted model
server: a provider added (its key never shown again) and tested, a hosted agent created with
tools and policies and then edited, its token use drawn as a chart; axe-core, screenshots."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import expect

from tests.llmfake import FakeLLM, running_fake
from tests.server import ServerProcess
from tests.web.browser import (
    SCREENSHOTS,
    check_a11y,
    needs_browser,
    page_weight,
    screenshots,
)
from tests.web.chat_helpers import call, human, signed_in, unique
from tests.web.studio_helpers import items, make_provider, studio_call, studio_web

pytestmark = [needs_browser, pytest.mark.slow]
__all__ = ["studio_web"]  # the server fixture
SECRET = "sk-web-secret-never-shown-again"
# Generous for what calls a model: the server imports the model SDKs on first use (seconds of
# CPU), and the machine may be busy. Nothing waits this long when all is well.
LIVE_MS = 60_000


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with running_fake() as llm:
        yield llm


async def open_agents(context: Any) -> Any:
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())  # our own "delete?" confirmations
    await page.goto("/agents")
    await expect(page.locator("#h-providers")).to_be_visible()
    return page


async def test_provider_added_tested_and_its_key_never_shown(
    browser: Any, studio_web: ServerProcess, fake: FakeLLM
) -> None:
    me = await human(studio_web)
    context = await signed_in(browser, studio_web, me)
    page = await open_agents(context)
    name = unique("local")
    form = page.locator("#provider-form")
    await form.get_by_label("Provider name").fill(name)
    await form.get_by_label("Kind").select_option("openai")
    await form.get_by_label("Base URL").fill(fake.url + "/v1")
    await form.get_by_label("API key").fill(SECRET)
    await form.get_by_role("button", name="Add provider").click()
    card = page.locator("#providers > li", has_text=name)
    await expect(card).to_be_visible()
    await expect(form.get_by_label("API key")).to_have_value("")

    await card.get_by_role("button", name="Test").click()
    await expect(card.locator(".test-result")).to_contain_text("Works", timeout=LIVE_MS)
    await expect(card.locator(".test-result")).to_contain_text("fake-small")

    # Never again: not on the page after a reload, not in the API's answers.
    await page.reload()
    await expect(page.locator("#providers > li", has_text=name)).to_be_visible()
    assert SECRET not in await page.content()
    listed = await studio_call(studio_web, me, "GET", "/providers/")
    assert SECRET not in str(listed)
    assert not page.problems
    await context.close()


async def test_hosted_agent_created_edited_and_its_usage_charted(
    browser: Any, studio_web: ServerProcess, fake: FakeLLM
) -> None:
    me = await human(studio_web)
    provider = await make_provider(studio_web, me, fake.url)
    context = await signed_in(browser, studio_web, me)
    page = await open_agents(context)
    name = unique("helper")

    await page.get_by_text("Create a hosted agent").click()
    form = page.locator("#hosted-form")
    await form.get_by_label("Agent name").fill(name)
    await form.get_by_label("Provider", exact=True).select_option(provider["id"])
    await form.get_by_label("Model").fill("fake-small")
    await form.get_by_label("System prompt").fill("You help with sums.")
    await form.get_by_label("Answers DMs from").select_option("friends")
    await form.get_by_label("In groups").select_option("active")
    await form.get_by_label("Replies per stranger per day").fill("3")
    tools = form.locator("#ha-tools input[type=checkbox]")
    await expect(tools.first).to_be_visible()
    tool_name = await tools.first.get_attribute("value")
    await tools.first.check()
    await form.get_by_role("button", name="Save").click()
    card = page.locator("#hosted > li", has_text=name)
    await expect(card).to_be_visible(timeout=LIVE_MS)
    await expect(card).to_contain_text("fake-small")
    await expect(card).to_contain_text("friends only")

    agents = items(await studio_call(studio_web, me, "GET", "/agents/"))
    card_id = await card.get_attribute("data-id")
    created = next(a for a in agents if a["id"] == card_id)
    assert created["dm_policy"] == "friends" and created["group_policy"] == "active"
    assert created["stranger_limit"] == 3 and tool_name in created["tools"]

    # Edit: the form comes back filled; a change is saved with PUT.
    await card.get_by_role("button", name=f"Edit {name}").click()
    await expect(form.get_by_label("Model")).to_have_value("fake-small")
    await expect(form.get_by_label("Answers DMs from")).to_have_value("friends")
    await form.get_by_label("Temperature").fill("0.3")
    await form.get_by_role("button", name="Save").click()
    await expect(page.locator("#ha-status")).to_contain_text("Saved", timeout=LIVE_MS)
    edited = await studio_call(studio_web, me, "GET", f"/agents/{created['id']}")
    assert edited["temperature"] == pytest.approx(0.3)

    # Some use, then the chart: the owner DMs the agent, which answers (owners always are).
    dm = {"to": created["id"], "content": {"format": "text", "body": "what is 1+1?"}}
    await call(studio_web, me, "POST", "/v1/messages", dm)
    deadline = asyncio.get_running_loop().time() + LIVE_MS / 1000
    while True:
        usage = await studio_call(studio_web, me, "GET", f"/agents/{created['id']}/usage?days=30")
        if sum(d["tokens"] for d in usage["days"]) > 0:
            break
        assert asyncio.get_running_loop().time() < deadline, "the agent never answered"
        await asyncio.sleep(0.2)
    await page.reload()
    card = page.locator("#hosted > li", has_text=name)
    await expect(card).to_contain_text("Today:")
    await expect(card).not_to_contain_text("Today: 0 of")
    await card.get_by_role("button", name="Token use").click()
    chart = card.locator("svg.usage-chart")
    await expect(chart).to_be_visible(timeout=LIVE_MS)
    label = await chart.get_attribute("aria-label")
    assert label and "tokens" in label
    assert await card.locator(".usage-table tbody tr").count() >= 1
    await expect(card.locator(".usage-total")).not_to_contain_text(" 0 tokens")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await card.screenshot(path=str(SCREENSHOTS / "agents-hosted-usage.png"))

    await check_a11y(page, "agents-hosted")
    await screenshots(page, "agents-hosted")
    await page_weight(context, "/agents", "agents-hosted")
    assert not page.problems
    await context.close()
