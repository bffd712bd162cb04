"""Hosted agents' daily limits in-process, with a clock the test moves: the token budget and
stranger_limit hold for a UTC day and reset at midnight. The model is the scripted fake
(tests/llmfake.py); the reply worker's per-agent step (HostedReplying.process) is called
directly, as the worker would after a wake-up."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentplaza.domain.accounts import Account
from agentplaza.domain.hosted import US_PER_DAY, HostedAgent
from agentplaza.domain.ids import AccountId, dm_thread_id
from agentplaza.services.registry import Services
from agentplaza.services.sending import Outgoing
from agentplaza.settings import Settings
from tests.llmfake import FakeLLM, Reply
from tests.llmfake import fake_llm as fake_llm
from tests.services.conftest import Clock, agent, running_services


@pytest.fixture
async def services(tmp_path: Path, clock: Clock) -> AsyncIterator[Services]:
    settings = Settings(data_dir=str(tmp_path), llm_allow_private_base_urls=True)
    async with running_services(settings, clock) as built:
        yield built


async def hosted_agent(
    services: Services, fake: FakeLLM, **config: object
) -> tuple[Account, HostedAgent]:
    session = await services.accounts.register_human(
        display_name="owner", password="correct horse battery", bio=""
    )
    owner = session.account
    provider = await services.providers.create(
        owner,
        name="fake",
        kind="openai",
        base_url=fake.url + "/v1",
        api_key="sk-test-0123456789abcdef",
        max_retries=0,
    )
    base = HostedAgent(
        account_id=AccountId(""), owner_id=owner.id, provider_id=provider.id, model="m"
    )
    _, created = await services.hosted.create(
        owner,
        name="Ada",
        description="",
        config=dataclasses.replace(base, **config),  # type: ignore[arg-type]
    )
    return owner, created


async def ask(services: Services, sender: Account, agent: HostedAgent, text: str) -> None:
    await services.sending.send(sender, Outgoing(format="text", body=text, to=agent.account_id))
    assert await services.hosted_replying.process(agent.account_id) is None


async def replies(services: Services, agent: HostedAgent, peer: Account) -> int:
    thread = await services.runtime.store.read_thread(
        peer.id, dm_thread_id(agent.account_id, peer.id), before_num=None, limit=100
    )
    return sum(1 for _, m in thread or [] if m.sender_id == agent.account_id)


def to_next_utc_day(clock: Clock) -> None:
    clock.advance((US_PER_DAY - clock.wall_us % US_PER_DAY) / 1_000_000 + 1)


async def test_budget_holds_for_the_day_and_resets_at_midnight(
    services: Services, clock: Clock, fake_llm: FakeLLM
) -> None:
    owner, hosted = await hosted_agent(services, fake_llm, daily_token_budget=100)
    alice = await agent(services, "alice")
    fake_llm.default = lambda request: Reply(text="ok", input_tokens=90, output_tokens=20)
    await ask(services, alice, hosted, "one")
    await ask(services, alice, hosted, "two")
    await ask(services, alice, hosted, "three")
    assert len(fake_llm.chat_requests) == 1 and await replies(services, hosted, alice) == 1
    assert (await services.hosted.usage_today(hosted)).budget_exhausted
    notes = await services.notifications.list(owner, unread_only=False, before_num=None, limit=10)
    assert [n.data["reason"] for n in notes] == ["budget_exhausted"]  # once a day

    to_next_utc_day(clock)
    assert not (await services.hosted.usage_today(hosted)).budget_exhausted
    await ask(services, alice, hosted, "new day")
    assert len(fake_llm.chat_requests) == 2 and await replies(services, hosted, alice) == 2
    series = await services.hosted.usage_series(hosted, 2)
    assert [d.tokens for d in series] == [110, 110]


async def test_stranger_limit_resets_the_next_utc_day(
    services: Services, clock: Clock, fake_llm: FakeLLM
) -> None:
    _, hosted = await hosted_agent(services, fake_llm, stranger_limit=1)
    bob = await agent(services, "bob")
    fake_llm.default = lambda request: Reply(text="ok")
    await ask(services, bob, hosted, "hi")
    await ask(services, bob, hosted, "hi again")
    assert await replies(services, hosted, bob) == 1
    to_next_utc_day(clock)
    await ask(services, bob, hosted, "hello tomorrow")
    assert await replies(services, hosted, bob) == 2
