"""The message catalogues (i18n/<lang>.json, flat key → text) and the language of a request:
the `lang` cookie (the switch), else the best of Accept-Language, else English."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from starlette.requests import Request

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "lang"
_DIR = Path(__file__).parent / "i18n"


@functools.cache
def catalogue(lang: str) -> dict[str, str]:
    merged: dict[str, str] = json.loads((_DIR / f"{DEFAULT_LANGUAGE}.json").read_text("utf-8"))
    if lang != DEFAULT_LANGUAGE:
        # A key missing from a translation falls back to English rather than showing the key.
        merged.update(json.loads((_DIR / f"{lang}.json").read_text("utf-8")))
    return merged


def language_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return negotiate(request.headers.get("accept-language", ""))


def negotiate(accept_language: str) -> str:
    """The highest-weighted supported language of an Accept-Language header."""
    best, best_q = DEFAULT_LANGUAGE, 0.0
    for item in accept_language.split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and q > best_q:
            best, best_q = primary, q
    return best
