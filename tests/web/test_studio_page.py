"""The Studio page (/lab) in Chromium against a real server and the scripted model server: a
conversation with a model whose answer streams in with a tool step shown inline as it happens,
a stopped answer (the server cancels upstream), a chat room of two hosted agents with their
replies and the paused banner, axe-core, screenshots and the first-load weight."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import expect

from agentplaza.web.pages import CSP
from tests.llmfake import Call, FakeLLM, Reply, running_fake
from tests.server import ServerProcess
from tests.web.browser import check_a11y, needs_browser, page_weight, screenshots
from tests.web.chat_helpers import human, signed_in, unique
from tests.web.studio_helpers import make_hosted, make_provider, studio_call, studio_web

__all__ = ["studio_web"]  # the server fixture
# Generous: the server imports the model SDKs on its first model call (seconds of CPU), and
# the machine running the tests may be busy. Nothing waits this long when all is well.
LIVE_MS = 60_000
HOSTILE = (
    '<script>window.pwned=1</script> **bold** <img src=x onerror="window.pwned=2"> '
    "[click](javascript:window.pwned=3)"
)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeLLM]:
    with running_fake() as llm:
        yield llm


async def open_lab(context: Any, fragment: str = "") -> Any:
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda exc: page.problems.append(str(exc)))
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto("/lab" + fragment)
    await expect(page.locator("#h-convs")).to_be_visible()
    return page


@needs_browser
@pytest.mark.slow
async def test_streamed_answer_with_a_tool_step_and_stop(
    browser: Any, studio_web: ServerProcess, fake: FakeLLM
) -> None:
    me = await human(studio_web)
    provider = await make_provider(studio_web, me, fake.url)
    model = unique("m")
    context = await signed_in(browser, studio_web, me)
    page = await open_lab(context)

    # New conversation with a model of my provider, from the form.
    await page.get_by_text("New conversation").first.click()
    await page.get_by_label("Talk to").select_option(f"provider:{provider['id']}")
    await page.get_by_label("Model").fill(model)
    await page.get_by_label("Title").fill("sums")
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator("#lab-title")).to_have_text("sums")

    # The model calls a tool, then answers; the answer pauses mid-stream so the test sees it
    # arrive in pieces with the tool step already shown.
    fake.script(
        Reply(tool_calls=[Call("calculator", {"expression": "6*7"})]),
        Reply(text="The answer is **42**, computed with the calculator tool.", hold_after=3),
        model=model,
    )
    await page.get_by_role("textbox", name="Message").fill("What is 6*7?")
    await page.get_by_role("button", name="Send").click()
    answer = page.locator("#lab-messages > li[data-role=assistant]").last
    step = answer.locator(".tool-step")
    await expect(step).to_contain_text("calculator", timeout=LIVE_MS)
    await expect(step.locator(".tool-result")).to_contain_text("42")
    await expect(answer).to_have_class(re.compile(r"\bstreaming\b"))
    await expect(page.get_by_role("button", name="Stop")).to_be_visible()
    # The first words may still be on their way when Stop shows: wait for them, not a moment.
    await expect(answer.locator(".seg").last).to_have_text(re.compile(r"\S"), timeout=LIVE_MS)
    partial = await answer.locator(".seg").last.inner_text()
    assert partial and "computed with the calculator tool" not in partial
    fake.release()
    await expect(answer.locator(".seg strong")).to_have_text("42", timeout=LIVE_MS)
    await expect(answer).to_contain_text("computed with the calculator tool.")
    await expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    # Tool step before the text, inline, in the order they happened.
    order = await answer.locator(".body > *").evaluate_all("els => els.map(e => e.className)")
    assert order.index("tool-step") < order.index("seg")

    # Stop: the fetch is aborted; the server drops the upstream call.
    before = fake.disconnects
    fake.script(Reply(text="a long answer " * 50, hold_after=2), model=model)
    await page.get_by_role("textbox", name="Message").fill("Tell me a long story")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("button", name="Stop")).to_be_visible()
    last = page.locator("#lab-messages > li[data-role=assistant]").last
    await expect(last.locator(".seg")).to_contain_text("a long", timeout=LIVE_MS)
    await page.get_by_role("button", name="Stop").click()
    await expect(last).to_contain_text("Stopped.")
    await fake.until(lambda: fake.disconnects > before)
    fake.release()

    # The stored conversation comes back with the tool step after a reload.
    await page.reload()
    await expect(page.locator("#lab-messages .tool-step").first).to_contain_text("calculator")
    await expect(page.locator("#lab-messages")).to_contain_text("The answer is 42")

    await check_a11y(page, "lab")
    await screenshots(page, "lab")
    await page_weight(context, "/lab", "lab")
    assert not page.problems
    await context.close()


@needs_browser
@pytest.mark.slow
async def test_room_of_two_agents_replies_and_pause_banner(
    browser: Any, studio_web: ServerProcess, fake: FakeLLM
) -> None:
    me = await human(studio_web)
    provider = await make_provider(studio_web, me, fake.url)
    ann = await make_hosted(studio_web, me, provider["id"], unique("ma"), unique("ann"))
    bob = await make_hosted(studio_web, me, provider["id"], unique("mb"), unique("bob"))
    # Ann thinks aloud for a moment (a held stream): her typing and draft show meanwhile.
    fake.script(Reply(text="Ann here, hello!", hold_after=2), model=ann["model"])
    fake.script(Reply(text="Bob here, hi!"), model=bob["model"])
    context = await signed_in(browser, studio_web, me)
    page = await open_lab(context)

    # A room made from the form with both agents checked.
    await page.get_by_text("New chat room").click()
    await page.get_by_label("Room name").fill("pair")
    await page.get_by_label(ann["name"]).check()
    await page.get_by_label(bob["name"]).check()
    await page.get_by_role("button", name="Create room").click()
    await expect(page.locator("#lab-title")).to_have_text("pair")
    await expect(page.locator("#ri-agents")).to_contain_text(ann["name"])
    await expect(page.locator("#ri-agents")).to_contain_text(bob["name"])

    await page.get_by_role("textbox", name="Message").fill("hello both")
    await page.get_by_role("button", name="Send").click()
    messages = page.locator("#lab-messages")
    await expect(messages).to_contain_text("hello both")
    await expect(page.locator("#typing")).to_contain_text(ann["name"], timeout=LIVE_MS)
    draft = messages.locator("li.pending .draft")
    await expect(draft).to_contain_text("Ann")
    fake.release()
    await expect(messages).to_contain_text("Ann here, hello!", timeout=LIVE_MS)
    await expect(messages.locator("li.pending")).to_have_count(0, timeout=LIVE_MS)
    await expect(messages).to_contain_text("Bob here, hi!", timeout=LIVE_MS)

    # A cap of one agent turn in a row: the second agent's turn pauses the floor.
    room_id = page.url.rsplit("r=", 1)[1]
    await studio_call(
        studio_web, me, "PUT", f"/chat-rooms/{room_id}", {"max_consecutive_agent_turns": 1}
    )
    fake.script(Reply(text="Ann again"), model=ann["model"])
    fake.script(Reply(text="Bob again"), model=bob["model"])
    await page.get_by_role("textbox", name="Message").fill("once more")
    await page.get_by_role("button", name="Send").click()
    banner = page.locator("#floor")
    await expect(banner).to_be_visible(timeout=LIVE_MS)
    await expect(banner).to_have_class(re.compile(r"\bpaused\b"), timeout=LIVE_MS)
    await expect(banner).to_contain_text("Agents paused")

    # Bob leaves the room from the side panel, and may come back.
    await page.get_by_role("button", name=f"Remove {bob['name']} from the room").click()
    await expect(page.locator("#ri-agents")).not_to_contain_text(bob["name"])
    await page.get_by_label("Add one of my agents").select_option(bob["id"])
    await page.get_by_role("button", name="Add", exact=True).click()
    await expect(page.locator("#ri-agents")).to_contain_text(bob["name"])

    await check_a11y(page, "lab-room")
    await screenshots(page, "lab-room")

    # A conversation with one of my hosted agents (its provider, model and prompt apply).
    await page.get_by_text("New conversation").first.click()
    await page.get_by_label("Talk to").select_option(f"agent:{bob['id']}")
    await expect(page.get_by_label("Model")).to_be_hidden()
    await page.get_by_role("button", name="Start").click()
    await expect(page.locator("#lab-sub")).to_have_text(bob["name"])
    await page.get_by_role("textbox", name="Message").fill("hi bob")
    await page.get_by_role("button", name="Send").click()
    answer = page.locator("#lab-messages > li[data-role=assistant]").last
    # Bob's second room reply was never asked for (the floor paused first): it answers here.
    await expect(answer).to_contain_text("Bob again", timeout=LIVE_MS)
    assert fake.requests[-1].body["model"] == bob["model"]
    assert fake.requests[-1].body["messages"][0]["role"] == "system"
    assert not page.problems
    await context.close()


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (Debian nodejs)")
def test_sse_parser_and_usage_series_under_node() -> None:
    node = shutil.which("node")
    assert node is not None
    script = Path(__file__).with_name("test_studio_core.mjs")
    result = subprocess.run(
        [node, str(script)], capture_output=True, text=True, timeout=60, cwd=script.parent
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


async def test_lab_needs_sign_in_and_serves_no_inline_script(studio_web: ServerProcess) -> None:
    me = await human(studio_web)
    async with httpx.AsyncClient(base_url=studio_web.url) as client:
        anonymous = await client.get("/lab")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == "/login?next=/lab"
        client.cookies.set("ap_session", me.token)
        r = await client.get("/lab")
    assert r.status_code == 200
    assert r.headers["content-security-policy"] == CSP
    scripts = re.findall(r"<script\b[^>]*>", r.text)
    assert scripts and all("src=" in s or 'type="application/json"' in s for s in scripts)
    assert " style=" not in r.text and " on" + "click=" not in r.text


@needs_browser
@pytest.mark.slow
async def test_hostile_titles_and_answers_are_inert(
    browser: Any, studio_web: ServerProcess, fake: FakeLLM
) -> None:
    me = await human(studio_web)
    provider = await make_provider(studio_web, me, fake.url)
    model = unique("m")
    conv = await studio_call(
        studio_web, me, "POST", "/conversations/",
        {"title": HOSTILE, "provider_id": provider["id"], "model": model},
    )  # fmt: skip
    fake.script(Reply(text=HOSTILE), model=model)
    body = {"conversation_id": conv["id"], "content": HOSTILE}
    await studio_call(studio_web, me, "POST", "/messages/", body)
    context = await signed_in(browser, studio_web, me)
    page = await open_lab(context, f"#c={conv['id']}")
    await expect(page.locator("#lab-title")).to_have_text(HOSTILE)
    answer = page.locator("#lab-messages > li[data-role=assistant]")
    await expect(answer).to_contain_text("<script>window.pwned=1</script>")
    await expect(answer.locator("strong").last).to_have_text("bold")
    assert await page.evaluate("window.pwned") is None
    bad = "main script, main img[onerror], main a[href^='javascript']"
    assert await page.locator(bad).count() == 0

    # Deleted (after the confirmation): gone from the list and from the API.
    await page.get_by_role("button", name="Delete").click()
    await expect(page.locator("#convs")).to_contain_text("No conversations yet.")
    async with httpx.AsyncClient(base_url=studio_web.url, headers=me.headers) as client:
        gone = await client.get(f"/studio/api/conversations/{conv['id']}")
    assert gone.status_code == 404
    assert not page.problems
    await context.close()


async def test_studio_api_with_the_cookie_needs_the_csrf_token(studio_web: ServerProcess) -> None:
    """What the pages rely on: /studio accepts the session cookie, and a state change with it
    needs the double-submit token (a cross-site form or fetch cannot send it)."""
    me = await human(studio_web)
    body = {
        "name": unique("p"),
        "kind": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": "k",
    }
    async with httpx.AsyncClient(base_url=studio_web.url) as client:
        client.cookies.set("ap_session", me.token)
        client.cookies.set("ap_csrf", "tok")
        listed = await client.get("/studio/api/providers/")
        assert listed.status_code == 200 and listed.json()["success"] is True
        refused = await client.post("/studio/api/providers/", json=body)
        assert refused.status_code == 403
        assert refused.json()["success"] is False and refused.json()["code"] == 403
        evil = {"X-CSRF-Token": "tok", "Origin": "https://evil.example"}
        assert (
            await client.post("/studio/api/providers/", json=body, headers=evil)
        ).status_code == 403
        ok = await client.post("/studio/api/providers/", json=body, headers={"X-CSRF-Token": "tok"})
        assert ok.status_code == 201, ok.text
