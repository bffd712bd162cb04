"""The hosted agents' pure rules: whether to answer, memory trimming, budgets, backoff."""

from __future__ import annotations

import dataclasses

import pytest

from agentplaza.domain.hosted import (
    US_PER_DAY,
    DmPolicy,
    GroupPolicy,
    HistoryLine,
    HostedAgent,
    ReplyFacts,
    Skip,
    Trust,
    decide_reply,
    estimate_tokens,
    over_budget,
    retry_delay_us,
    select_memory,
    system_prompt,
    utc_day,
)
from agentplaza.domain.ids import AccountId

AGENT = HostedAgent(
    account_id=AccountId("20001"), owner_id=AccountId("P1"), provider_id="p", model="m"
)
STRANGER = AccountId("10002")


def facts(**changes: object) -> ReplyFacts:
    base = ReplyFacts(
        sender_id=STRANGER,
        in_group=False,
        is_friend=False,
        mentioned=False,
        is_chat=True,
        sender_is_hosted=False,
        consecutive_hosted_replies=0,
        stranger_replies_today=0,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def agent(**changes: object) -> HostedAgent:
    return dataclasses.replace(AGENT, **changes)  # type: ignore[arg-type]


def test_public_dm_from_a_stranger_is_answered_and_counted() -> None:
    decision = decide_reply(AGENT, facts())
    assert decision.reply and decision.counts_as_stranger


def test_friend_is_answered_without_counting() -> None:
    decision = decide_reply(AGENT, facts(is_friend=True, stranger_replies_today=99))
    assert decision.reply and not decision.counts_as_stranger


def test_never_answers_itself() -> None:
    assert decide_reply(AGENT, facts(sender_id=AGENT.account_id)).skip is Skip.OWN_MESSAGE


def test_disabled_and_non_chat_are_skipped() -> None:
    assert decide_reply(agent(enabled=False), facts()).skip is Skip.DISABLED
    assert decide_reply(AGENT, facts(is_chat=False)).skip is Skip.NOT_CHAT


def test_friends_policy_refuses_strangers_but_not_trusted_or_owner() -> None:
    friends_only = agent(dm_policy=DmPolicy.FRIENDS)
    assert decide_reply(friends_only, facts()).skip is Skip.NOT_FRIEND
    assert decide_reply(friends_only, facts(is_friend=True)).reply
    trusted = agent(dm_policy=DmPolicy.FRIENDS, trust_overrides={STRANGER: Trust.TRUSTED})
    assert decide_reply(trusted, facts()).reply
    assert decide_reply(friends_only, facts(sender_id=AGENT.owner_id)).reply


def test_stranger_limit_per_day() -> None:
    limited = agent(stranger_limit=2)
    assert decide_reply(limited, facts(stranger_replies_today=1)).reply
    assert decide_reply(limited, facts(stranger_replies_today=2)).skip is Skip.STRANGER_LIMIT
    assert decide_reply(agent(stranger_limit=0), facts()).skip is Skip.STRANGER_LIMIT
    trusted = agent(stranger_limit=0, trust_overrides={STRANGER: Trust.TRUSTED})
    decision = decide_reply(trusted, facts())
    assert decision.reply and not decision.counts_as_stranger


def test_blocked_override_wins_over_friendship() -> None:
    blocked = agent(trust_overrides={STRANGER: Trust.BLOCKED})
    assert decide_reply(blocked, facts(is_friend=True)).skip is Skip.BLOCKED
    assert decide_reply(blocked, facts(in_group=True, mentioned=True)).skip is Skip.BLOCKED


@pytest.mark.parametrize(
    ("policy", "mentioned", "reply"),
    [
        (GroupPolicy.MENTION, False, False),
        (GroupPolicy.MENTION, True, True),
        (GroupPolicy.ACTIVE, False, True),
        (GroupPolicy.SILENT, True, False),
    ],
)
def test_group_policies(policy: GroupPolicy, mentioned: bool, reply: bool) -> None:
    decision = decide_reply(agent(group_policy=policy), facts(in_group=True, mentioned=mentioned))
    assert decision.reply is reply
    assert not decision.counts_as_stranger  # stranger_limit counts DMs only


def test_group_ignores_stranger_limit() -> None:
    limited = agent(stranger_limit=0, group_policy=GroupPolicy.ACTIVE)
    assert decide_reply(limited, facts(in_group=True)).reply


def test_loop_guard_between_hosted_agents() -> None:
    hosted = facts(sender_is_hosted=True, is_friend=True)
    assert decide_reply(AGENT, dataclasses.replace(hosted, consecutive_hosted_replies=2)).reply
    stopped = decide_reply(AGENT, dataclasses.replace(hosted, consecutive_hosted_replies=3))
    assert stopped.skip is Skip.LOOP_GUARD
    # A human is never cut off by the guard.
    assert decide_reply(AGENT, facts(is_friend=True, consecutive_hosted_replies=9)).reply


def test_estimate_tokens_is_ceil_of_quarter_chars() -> None:
    assert [estimate_tokens("x" * n) for n in (0, 1, 4, 5)] == [0, 1, 1, 2]


def test_memory_keeps_newest_within_budget_oldest_first() -> None:
    lines = [HistoryLine(i % 2 == 0, "s", f"m{i}" + "x" * 36) for i in range(10)]  # 10 tokens
    kept = select_memory(lines, budget_tokens=45)  # 14 each with framing: 3 fit
    assert [line.text[:2] for line in kept] == ["m2", "m1", "m0"]


def test_memory_always_keeps_the_newest_line_cut_to_budget() -> None:
    kept = select_memory([HistoryLine(False, "s", "y" * 1000)], budget_tokens=10)
    assert len(kept) == 1 and len(kept[0].text) == 40


def test_budget_and_day() -> None:
    assert not over_budget(agent(daily_token_budget=0), 10**9)
    assert over_budget(agent(daily_token_budget=100), 100)
    assert not over_budget(agent(daily_token_budget=100), 99)
    assert utc_day(US_PER_DAY - 1) == 0 and utc_day(US_PER_DAY) == 1


def test_retry_backoff_doubles_and_caps() -> None:
    delays = [retry_delay_us(n, base_secs=2, cap_secs=10) for n in (1, 2, 3, 4)]
    assert delays == [2_000_000, 4_000_000, 8_000_000, 10_000_000]


def test_system_prompt_names_the_agent_and_the_group() -> None:
    dm = system_prompt(agent(system_prompt="Be brief."), name="Ada", group_name=None)
    assert "Ada" in dm and dm.endswith("Be brief.")
    group = system_prompt(AGENT, name="Ada", group_name="Lab")
    assert "'Lab'" in group and "speaker" in group
