"""/studio/api/providers (seed 004): an owner's LLM endpoints. Keys are sealed at rest and
never come back; another owner's provider is 404 for every call; `test` makes a real call to
the scripted model server (tests/llmfake.py)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from typing import Any

import httpx
import pytest

from agentplaza.llm.sealing import new_key_text
from tests.llmfake import FakeLLM
from tests.server import ServerProcess
from tests.studio.conftest import Human, register_human
from tests.studio.test_auth import assert_studio_error

BASE = "/studio/api/providers/"
KEY = "sk-test-0123456789abcdefWXYZ"


def provider_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "my endpoint",
        "provider_type": "openai",
        "base_url": "http://127.0.0.1:9/v1",
        "api_key": KEY,
        "models": ["fake-small"],
        "default_model": "fake-small",
        "prices": {"fake-small": {"input": 0.15, "output": 0.6}},
        "timeout": 30,
        "max_retries": 1,
        "max_concurrency": 4,
        **overrides,
    }


async def create(studio: httpx.AsyncClient, who: Human, **overrides: Any) -> dict[str, Any]:
    r = await studio.post(BASE, json=provider_body(**overrides), headers=who.headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True and isinstance(body["message"], str)
    data: dict[str, Any] = body["data"]
    return data


def sealed_keys(server: ServerProcess) -> dict[str, str]:
    """provider id → api_key_sealed, read from the database itself."""
    url = server.env.get("AGENTPLAZA_DATABASE_URL", "")
    if url.startswith("postgres"):
        import psycopg

        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT id, api_key_sealed FROM llm_providers").fetchall()
    else:
        with sqlite3.connect(server.data_dir / "agentplaza.db") as conn:
            rows = conn.execute("SELECT id, api_key_sealed FROM llm_providers").fetchall()
    return {r[0]: r[1] for r in rows}


async def test_crud_as_the_seed_shows(studio: httpx.AsyncClient, owner: Human) -> None:
    created = await create(studio, owner)
    assert created["id"].startswith("prov_")
    assert created["provider_type"] == "openai" and created["name"] == "my endpoint"
    assert created["api_key_set"] is True and created["api_key_hint"] == KEY[-4:]
    assert created["models"] == ["fake-small"] and created["default_model"] == "fake-small"
    assert created["prices"] == {"fake-small": {"input": 0.15, "output": 0.6}}
    assert (created["timeout"], created["max_retries"], created["max_concurrency"]) == (30, 1, 4)
    assert created["owner_id"] == owner.id and created["base_url"] == "http://127.0.0.1:9/v1"

    got = await studio.get(BASE + created["id"], headers=owner.headers)
    assert got.status_code == 200 and got.json()["data"] == created

    second = await create(studio, owner, name="second", provider_type="anthropic", base_url=None)
    assert second["provider_type"] == "anthropic" and second["base_url"] is None
    listed = await studio.get(BASE, headers=owner.headers, params={"page": 1, "page_size": 1})
    assert listed.status_code == 200
    page = listed.json()["data"]
    assert page == {"items": [created], "total": 2, "page": 1, "page_size": 1}
    page2 = await studio.get(BASE, headers=owner.headers, params={"page": 2, "page_size": 1})
    assert [p["id"] for p in page2.json()["data"]["items"]] == [second["id"]]
    default_page = (await studio.get(BASE, headers=owner.headers)).json()["data"]
    assert default_page["page"] == 1 and default_page["page_size"] == 20
    assert len(default_page["items"]) == 2

    change = {"name": "renamed", "max_concurrency": 2, "base_url": None, "models": ["a", "b"]}
    put = await studio.put(BASE + created["id"], json=change, headers=owner.headers)
    assert put.status_code == 200, put.text
    updated = put.json()["data"]
    assert updated["name"] == "renamed" and updated["max_concurrency"] == 2
    assert updated["base_url"] is None and updated["api_key_hint"] == KEY[-4:]
    assert updated["models"] == ["fake-small", "a", "b"]  # the default model stays listed
    assert updated["prices"] == created["prices"] and updated["timeout"] == 30

    new_key = "sk-another-key-000000001234"
    put = await studio.put(BASE + created["id"], json={"api_key": new_key}, headers=owner.headers)
    assert put.json()["data"]["api_key_hint"] == "1234"

    deleted = await studio.delete(BASE + created["id"], headers=owner.headers)
    assert deleted.status_code == 200 and deleted.json()["success"] is True
    assert_studio_error(await studio.get(BASE + created["id"], headers=owner.headers), 404)
    assert_studio_error(await studio.delete(BASE + created["id"], headers=owner.headers), 404)
    assert (await studio.get(BASE, headers=owner.headers)).json()["data"]["total"] == 1


async def test_kind_aliases(studio: httpx.AsyncClient, owner: Human) -> None:
    for alias, kind in [
        ("openai_compatible", "openai"),
        ("Ollama", "openai"),
        ("claude", "anthropic"),
    ]:
        assert (await create(studio, owner, provider_type=alias))["provider_type"] == kind
    body = provider_body()
    del body["provider_type"]
    r = await studio.post(BASE, json={**body, "kind": "anthropic"}, headers=owner.headers)
    assert r.status_code == 201 and r.json()["data"]["provider_type"] == "anthropic"


async def test_the_key_never_comes_back_and_is_sealed_at_rest(
    studio: httpx.AsyncClient, studio_server: ServerProcess, owner: Human
) -> None:
    key = "sk-secret-do-not-leak-4f9a1c2e7b"
    created = await create(studio, owner, api_key=key)
    responses = [
        await studio.get(BASE + created["id"], headers=owner.headers),
        await studio.get(BASE, headers=owner.headers),
        await studio.put(BASE + created["id"], json={"name": "x"}, headers=owner.headers),
        await studio.post(BASE + created["id"] + "/test", headers=owner.headers),
    ]
    for r in responses:
        assert key not in r.text and key[:-4] not in r.text, r.text
    sealed = sealed_keys(studio_server)[created["id"]]
    assert key not in sealed and sealed.startswith("v1.")
    log = studio_server.log()
    assert key[3:] not in log
    # A node on a shared database without llm_secret_key says that the others need it.
    shared = studio_server.env.get("AGENTPLAZA_DATABASE_URL", "").startswith("postgres")
    assert ("llm_secret_key is not set" in log) == shared


async def test_another_owners_provider_is_not_found(
    studio: httpx.AsyncClient, owner: Human, stranger: Human
) -> None:
    created = await create(studio, owner)
    url = BASE + created["id"]
    assert_studio_error(await studio.get(url, headers=stranger.headers), 404)
    assert_studio_error(await studio.put(url, json={"name": "mine"}, headers=stranger.headers), 404)
    assert_studio_error(await studio.post(url + "/test", headers=stranger.headers), 404)
    assert_studio_error(await studio.delete(url, headers=stranger.headers), 404)
    assert (await studio.get(BASE, headers=stranger.headers)).json()["data"]["total"] == 0
    # Untouched by all that.
    assert (await studio.get(url, headers=owner.headers)).json()["data"] == created
    # Ids of any shape are 404 too (an overlong one 400); no credentials is 401.
    for bad in ("nope", "prov_%00abcdefgh", "prov_" + "x" * 20):
        assert_studio_error(await studio.get(BASE + bad, headers=owner.headers), 404)
    assert_studio_error(await studio.get(BASE + "prov_" + "x" * 60, headers=owner.headers), 400)
    assert_studio_error(await studio.get(url), 401)
    assert_studio_error(await studio.post(BASE, json=provider_body()), 401)


@pytest.mark.parametrize(
    "change",
    [
        {"provider_type": "gemini"},
        {"provider_type": None},
        {"name": ""},
        {"name": "x" * 200},
        {"name": "tab\tname"},
        {"api_key": "key with spaces"},
        {"api_key": "k" * 2000},
        {"provider_type": "anthropic", "api_key": ""},
        {"base_url": "ftp://example.com/v1"},
        {"base_url": "http://user:pw@127.0.0.1/v1"},
        {"base_url": "not a url"},
        {"models": "fake-small"},
        {"models": ["has space"]},
        {"models": [f"m{i}" for i in range(201)]},
        {"default_model": "x" * 129},
        {"prices": {"m": {"input": -1, "output": 1}}},
        {"prices": {"m": {"input": "cheap"}}},
        {"prices": {"m": 3}},
        {"prices": []},
        {"timeout": 0},
        {"timeout": 10_000},
        {"timeout": "soon"},
        {"max_retries": -1},
        {"max_retries": 11},
        {"max_concurrency": 0},
        {"max_concurrency": 100_000},
    ],
)
async def test_bad_input_is_400(
    studio: httpx.AsyncClient, owner: Human, change: dict[str, Any]
) -> None:
    r = await studio.post(BASE, json=provider_body(**change), headers=owner.headers)
    assert_studio_error(r, 400)


async def test_bad_updates_and_requests(studio: httpx.AsyncClient, owner: Human) -> None:
    created = await create(studio, owner)
    url = BASE + created["id"]
    for change in ({"provider_type": "gemini"}, {"timeout": -5}, {"name": ""}, {"prices": 1}):
        assert_studio_error(await studio.put(url, json=change, headers=owner.headers), 400)
    assert_studio_error(await studio.post(BASE, json=[1], headers=owner.headers), 400)
    missing = {k: v for k, v in provider_body().items() if k != "name"}
    assert_studio_error(await studio.post(BASE, json=missing, headers=owner.headers), 400)
    for params in ({"page": 0}, {"page_size": 101}, {"page": "x"}):
        assert_studio_error(await studio.get(BASE, params=params, headers=owner.headers), 400)
    huge = provider_body(name="x" * 2_000_000)
    assert_studio_error(await studio.post(BASE, json=huge, headers=owner.headers), 413)
    assert (await studio.get(url, headers=owner.headers)).json()["data"] == created


async def test_test_lists_the_endpoints_models(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    fake_llm.api_key = KEY
    fake_llm.models = ["fake-small", "fake-large"]
    created = await create(
        studio, owner, base_url=fake_llm.url + "/v1", models=[], default_model=None
    )
    r = await studio.post(BASE + created["id"] + "/test", headers=owner.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True
    result = body["data"]
    assert result["ok"] is True and result["error"] is None
    assert sorted(result["models"]) == ["fake-large", "fake-small"]
    assert isinstance(result["latency_ms"], int | float) and result["latency_ms"] >= 0
    assert [(q.method, q.path) for q in fake_llm.requests] == [("GET", "/v1/models")]
    # The owner listed none: the models found are kept.
    got = (await studio.get(BASE + created["id"], headers=owner.headers)).json()["data"]
    assert sorted(got["models"]) == ["fake-large", "fake-small"]

    anthropic = await create(
        studio, owner, provider_type="anthropic", base_url=fake_llm.url, default_model="fake-large"
    )
    r = await studio.post(BASE + anthropic["id"] + "/test", headers=owner.headers)
    assert r.json()["data"]["ok"] is True, r.text
    assert fake_llm.requests[-1].kind == "anthropic"


async def test_test_reports_a_wrong_key_without_failing(
    studio: httpx.AsyncClient, owner: Human, fake_llm: FakeLLM
) -> None:
    fake_llm.api_key = "sk-the-right-key-000000000000"
    created = await create(studio, owner, base_url=fake_llm.url + "/v1", max_retries=0)
    r = await studio.post(BASE + created["id"] + "/test", headers=owner.headers)
    assert r.status_code == 200, r.text
    result = r.json()["data"]
    assert result["ok"] is False and result["latency_ms"] is None
    assert "401" in result["error"] and KEY not in r.text
    # The owner fixes the key: the next test uses it (a new client was built).
    await studio.put(
        BASE + created["id"], json={"api_key": fake_llm.api_key}, headers=owner.headers
    )
    r = await studio.post(BASE + created["id"] + "/test", headers=owner.headers)
    assert r.json()["data"]["ok"] is True, r.text
    # An endpoint that is down answers ok: false too.
    down = await create(studio, owner, base_url="http://127.0.0.1:9/v1", max_retries=0, timeout=2)
    r = await studio.post(BASE + down["id"] + "/test", headers=owner.headers)
    assert r.status_code == 200 and r.json()["data"]["ok"] is False, r.text


async def test_rotating_the_secret(server_factory: Any, fake_llm: FakeLLM) -> None:
    """Key A seals; B with A as previous still opens it; reseal moves it to B; then B alone
    opens it. A node without the old secret says so instead of failing obscurely."""
    a, b = new_key_text(), new_key_text()
    fake_llm.api_key = KEY
    env = {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS": "1"}
    first: ServerProcess = server_factory(env={**env, "AGENTPLAZA_LLM_SECRET_KEY": a})
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as c:
        who = await register_human(c)
        created = await create(c, who, base_url=fake_llm.url + "/v1")
    first.stop()
    sealed_under_a = sealed_keys(first)[created["id"]]

    async def usable(srv: ServerProcess) -> bool:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
            got = (await c.get(BASE + created["id"], headers=who.headers)).json()["data"]
            tested = await c.post(BASE + created["id"] + "/test", headers=who.headers)
            assert tested.status_code == 200, tested.text
            ok: bool = tested.json()["data"]["ok"]
            assert (got["api_key_hint"] == KEY[-4:]) == ok
            return ok

    rotated_env = {**env, "AGENTPLAZA_LLM_SECRET_KEY": b, "AGENTPLAZA_LLM_PREVIOUS_SECRET_KEYS": a}
    second: ServerProcess = server_factory(env=rotated_env, data_dir=first.data_dir)
    assert await usable(second)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "agentplaza", "providers", "reseal"),
        env={**clean, **second.env, "AGENTPLAZA_DATA_DIR": str(second.data_dir)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(cli.communicate(), 120)
    assert cli.returncode == 0, err.decode()
    assert "resealed 1" in out.decode()
    second.stop()
    resealed = sealed_keys(second)[created["id"]]
    assert resealed != sealed_under_a and KEY not in resealed

    third: ServerProcess = server_factory(
        env={**env, "AGENTPLAZA_LLM_SECRET_KEY": b}, data_dir=first.data_dir
    )
    assert await usable(third)
    third.stop()
    lost: ServerProcess = server_factory(
        env={**env, "AGENTPLAZA_LLM_SECRET_KEY": a}, data_dir=first.data_dir
    )
    async with httpx.AsyncClient(base_url=lost.url, timeout=30) as c:
        tested = await c.post(BASE + created["id"] + "/test", headers=who.headers)
        assert tested.json()["data"]["ok"] is False
        assert "cannot be decrypted" in tested.json()["data"]["error"]
    assert KEY[3:] not in "".join(s.log() for s in (first, second, third, lost))


async def test_no_key_in_a_debug_log(server_factory: Any, fake_llm: FakeLLM) -> None:
    """At log level debug (the client libraries log their requests there), neither a key with
    a known prefix nor one without any reaches the log, in text or JSON lines."""
    keys = ["sk-proj-debuglog-0123456789abcd", "plainkey0123456789debugABCDEF"]
    env = {
        "AGENTPLAZA_RATE_LIMITS_ENABLED": "0",
        "AGENTPLAZA_LLM_ALLOW_PRIVATE_BASE_URLS": "1",
        "AGENTPLAZA_LOG_LEVEL": "debug",
        "AGENTPLAZA_LOG_FORMAT": "json",
    }
    srv: ServerProcess = server_factory(env=env)
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        who = await register_human(c)
        for key in keys:
            for kind, url in (("openai", fake_llm.url + "/v1"), ("anthropic", fake_llm.url)):
                fake_llm.api_key = key
                p = await create(c, who, api_key=key, provider_type=kind, base_url=url)
                tested = await c.post(BASE + p["id"] + "/test", headers=who.headers)
                assert tested.json()["data"]["ok"] is True, tested.text
                fake_llm.api_key = "something-else"  # a 401 whose message may quote the key
                tested = await c.post(BASE + p["id"] + "/test", headers=who.headers)
                assert tested.json()["data"]["ok"] is False, tested.text
    srv.stop()
    log = srv.log()
    for library in ("openai", "anthropic"):  # their request logs: else this proves nothing
        assert f'"logger": "{library}._base_client"' in log, log[-2000:]
    leaked = [k for k in keys if k in log or k[-12:] in log]
    assert not leaked, log[-3000:]


async def test_a_malformed_secret_refuses_to_start(tmp_path: Any) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AGENTPLAZA_")}
    for name in ("LLM_SECRET_KEY", "LLM_PREVIOUS_SECRET_KEYS"):
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *("-m", "agentplaza", "serve", "--port", "0"),
            env={**clean, "AGENTPLAZA_DATA_DIR": str(tmp_path), f"AGENTPLAZA_{name}": "short"},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), 120)
        assert proc.returncode == 2, err.decode()
        assert name.lower() in err.decode() and "short" not in err.decode()
