"""Browser-test helpers: Debian's Chromium through Playwright, axe-core checks, screenshots
and page weights (under build/, gitignored)."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build"
SCREENSHOTS = BUILD / "screenshots"
WEIGHTS = BUILD / "page_weights.json"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# Playwright does not expose a context's base_url: the fixtures register it here.
BASE_URL_OF: dict[int, str] = {}


def _missing() -> str | None:
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (scripts/browser installs Debian's chromium)"
    return None


MISSING = _missing()
needs_browser = pytest.mark.skipif(MISSING is not None, reason=MISSING or "")


async def check_a11y(page: Any, name: str) -> None:
    """axe-core on the page as it is: no serious or critical violation.

    Evaluated through the DevTools protocol, which the page's CSP does not restrict, so the
    page under test keeps its real policy."""
    await page.evaluate(AXE.read_text("utf-8"))
    result = await page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: accessibility violations:\n" + "\n".join(bad)


async def screenshots(page: Any, name: str) -> None:
    """The page at desktop and phone sizes, light and dark (the switch's cookie, as a user
    would set it), then back to the desktop light view. On the way: axe-core in the dark
    theme too (its contrast differs), and no sideways scrolling on the phone."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = page.context
    url = page.url
    for theme in ("light", "dark"):
        await context.add_cookies([{"name": "theme", "value": theme, "url": url}])
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            await page.set_viewport_size(size)
            await page.reload(wait_until="networkidle")
            await page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}-{theme}.png"))
            if label == "phone":
                width = await page.evaluate("document.documentElement.scrollWidth")
                assert width <= size["width"], (
                    f"{name}: {width}px wide on a {size['width']}px phone"
                )
            elif theme == "dark":
                await check_a11y(page, f"{name} (dark)")
    await context.add_cookies([{"name": "theme", "value": "light", "url": url}])
    await page.set_viewport_size(DESKTOP)
    await page.reload(wait_until="networkidle")


async def page_weight(context: Any, url: str, name: str) -> int:
    """Bytes over the wire (compressed bodies plus headers) of a first load of `url`: a new
    context (empty cache) with `context`'s cookies, so a signed-in page loads signed in.
    Recorded in build/page_weights.json."""
    fresh = await context.browser.new_context(base_url=BASE_URL_OF[id(context)])
    await fresh.add_cookies(await context.cookies())
    page = await fresh.new_page()
    sizes: list[int] = []
    pending: list[Any] = []

    async def finished(request: Any) -> None:
        s = await request.sizes()
        sizes.append(s["responseBodySize"] + s["responseHeadersSize"])

    page.on("requestfinished", lambda request: pending.append(finished(request)))
    await page.goto(url, wait_until="networkidle")
    for job in pending:
        await job
    await fresh.close()
    total = sum(sizes)
    _record_weight(name, total, len(sizes))
    print(f"page weight {name}: {total} bytes in {len(sizes)} requests")  # noqa: T201
    return total


def _record_weight(name: str, total: int, requests: int) -> None:
    BUILD.mkdir(parents=True, exist_ok=True)
    # Two test workers (pytest-xdist) may record at once: read-modify-write under a lock.
    with open(BUILD / "page_weights.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        weights = json.loads(WEIGHTS.read_text()) if WEIGHTS.exists() else {}
        weights[name] = {"bytes": total, "requests": requests}
        WEIGHTS.write_text(json.dumps(weights, indent=2, sort_keys=True))
