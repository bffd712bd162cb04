"""Providers in-process: the SSRF rule for base URLs, one client per provider (rebuilt on a
connection change only), and the sealing of keys (llm/sealing.py) with rotation."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from agentplaza.domain.accounts import Account
from agentplaza.domain.errors import Invalid, NotFound
from agentplaza.domain.providers import ProviderChanges
from agentplaza.llm.sealing import KEY_FILE_NAME, Sealer, SealError, load_sealer, parse_key
from agentplaza.services.provider_keys import reseal_all
from agentplaza.services.registry import Services
from agentplaza.settings import Settings
from tests.services.conftest import Clock, running_services

KEY = "sk-test-0123456789abcdefWXYZ"


async def human(services: Services, name: str) -> Account:
    session = await services.accounts.register_human(
        display_name=name, password="correct horse battery", bio=""
    )
    return session.account


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:11434/v1",
        "http://localhost:8000/v1",
        "http://10.1.2.3/v1",
        "http://192.168.0.10/v1",
        "http://169.254.169.254/latest",
        "http://[::1]:8080/v1",
        "http://metadata.google.internal/",
        "ftp://example.com/",
        "http://user:pw@example.com/v1",
    ],
)
async def test_private_base_urls_are_refused_by_default(services: Services, url: str) -> None:
    owner = await human(services, "olga")
    with pytest.raises(Invalid, match="base_url"):
        await services.providers.create(
            owner,
            name="p",
            kind="openai",
            base_url=url,
            api_key=KEY,
        )


async def test_private_base_urls_are_allowed_by_the_setting(tmp_path: Path, clock: Clock) -> None:
    settings = Settings(data_dir=str(tmp_path), llm_allow_private_base_urls=True)
    async with running_services(settings, clock) as services:
        owner = await human(services, "olga")
        created = await services.providers.create(
            owner,
            name="ollama",
            kind="ollama",
            base_url="http://127.0.0.1:11434/v1/",
            api_key="",
        )
        assert created.kind == "openai" and created.base_url == "http://127.0.0.1:11434/v1"


async def test_one_client_per_provider_rebuilt_on_connection_changes(services: Services) -> None:
    owner = await human(services, "olga")
    other = await human(services, "otto")
    p = await services.providers.create(
        owner,
        name="p",
        kind="openai",
        base_url=None,
        api_key=KEY,
    )
    providers = services.providers
    first = await providers.client_for(p.owner_id, p.id)
    assert await providers.client_for(p.owner_id, p.id) is first
    await providers.update(owner, p.id, ProviderChanges(name="renamed"))
    assert await providers.client_for(p.owner_id, p.id) is first
    await providers.update(owner, p.id, ProviderChanges(max_concurrency=1))
    second = await providers.client_for(p.owner_id, p.id)
    assert second is not first
    await providers.update(owner, p.id, ProviderChanges(api_key="sk-other-key-0000000000"))
    assert await providers.client_for(p.owner_id, p.id) is not second
    with pytest.raises(NotFound):
        await providers.client_for(other.id, p.id)
    with pytest.raises(NotFound):
        await providers.get_for_owner(other.id, p.id)
    await providers.close()


# --- sealing ------------------------------------------------------------------------------


def key_text() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_sealed_values_open_only_under_their_secret_and_row() -> None:
    a, b = parse_key(key_text(), "a"), parse_key(key_text(), "b")
    sealed = Sealer(a).seal(KEY, context="prov_1")
    assert KEY not in sealed and sealed.startswith("v1.")
    assert Sealer(a).open(sealed, context="prov_1") == KEY
    assert Sealer(b, [a]).open(sealed, context="prov_1") == KEY  # rotation: old still opens
    assert not Sealer(b, [a]).is_current(sealed)
    with pytest.raises(SealError, match="does not have"):
        Sealer(b).open(sealed, context="prov_1")
    with pytest.raises(SealError):
        Sealer(a).open(sealed, context="prov_2")  # copied into another row
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SealError):
        Sealer(a).open(tampered, context="prov_1")
    assert Sealer(a).seal(KEY, context="prov_1") != sealed  # a fresh nonce each time


def test_malformed_secrets_are_refused(tmp_path: Path) -> None:
    for bad in ("not base64!!", base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError):
            load_sealer(
                secret_key=bad, previous_keys="", data_dir=str(tmp_path), shared_database=False
            )
        with pytest.raises(ValueError):
            load_sealer(
                secret_key=key_text(),
                previous_keys=bad,
                data_dir=str(tmp_path),
                shared_database=False,
            )


def test_the_secret_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first = load_sealer(
        secret_key="", previous_keys="", data_dir=str(tmp_path), shared_database=False
    )
    path = tmp_path / KEY_FILE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_sealer(
        secret_key="", previous_keys="", data_dir=str(tmp_path), shared_database=False
    )
    assert again.current_key_id == first.current_key_id
    sealed = first.seal(KEY, context="p")
    assert again.open(sealed, context="p") == KEY
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]  # no temporary file left


async def test_reseal_moves_every_key_to_the_current_secret(tmp_path: Path, clock: Clock) -> None:
    old, new = key_text(), key_text()
    settings = Settings(data_dir=str(tmp_path), llm_secret_key=old)
    async with running_services(settings, clock) as services:
        owner = await human(services, "olga")
        created = [
            await services.providers.create(
                owner,
                name=f"p{i}",
                kind="openai",
                base_url=None,
                api_key=f"{KEY}{i}",
            )
            for i in range(3)
        ]
        store = services.runtime.store
        rotated = Sealer(parse_key(new, "new"), [parse_key(old, "old")])
        report = await reseal_all(store, rotated, batch=2)
        assert (report.resealed, report.already_current, report.failed) == (3, 0, ())
        assert (await reseal_all(store, rotated)).already_current == 3
        only_new = Sealer(parse_key(new, "new"))
        for i, p in enumerate(created):
            stored = await services.providers.get_for_owner(p.owner_id, p.id)
            assert only_new.open(stored.api_key_sealed, context=p.id) == f"{KEY}{i}"
        # A secret nobody kept: reported, not crashed on.
        lost = Sealer(parse_key(key_text(), "lost"))
        assert set((await reseal_all(store, lost)).failed) == {p.id for p in created}
