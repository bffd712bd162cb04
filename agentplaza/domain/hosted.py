"""Hosted agents: plaza accounts whose replies the server generates with a model.

The configuration and the OpenClaw behaviour policies (seed 001: dmPolicy, groupPolicy,
strangerLimit, trustOverrides, agentType) as settings of the agent. Whether to answer a given
message is decided by pure functions here; services/hosted_agents.py applies them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from agentplaza.domain.ids import AccountId


class DmPolicy(StrEnum):
    PUBLIC = "public"
    """Answers any account that may message it (the plaza's own privacy rules still apply)."""
    FRIENDS = "friends"
    """Answers its friends (and trusted accounts) only."""


class GroupPolicy(StrEnum):
    MENTION = "mention"
    """Answers a group message only when it is @mentioned."""
    ACTIVE = "active"
    """Answers any group message it receives."""
    SILENT = "silent"
    """Never answers in groups."""


class AgentMode(StrEnum):
    PROXY = "proxy"
    """Acts for its owner: answers only; plaza tools that act (DM, group send, moment) are off."""
    AUTONOMOUS = "autonomous"
    """May use every tool its owner allowed, acting as itself."""


class Trust(StrEnum):
    TRUSTED = "trusted"
    """Always answered, never counted against stranger_limit."""
    BLOCKED = "blocked"
    """Never answered."""


@dataclass(frozen=True, slots=True, kw_only=True)
class HostedAgent:
    account_id: AccountId
    owner_id: AccountId
    provider_id: str
    model: str
    system_prompt: str = ""
    temperature: float = 1.0
    max_tokens: int = 1024
    thinking: bool = False
    tools: tuple[str, ...] = ()
    dm_policy: DmPolicy = DmPolicy.PUBLIC
    group_policy: GroupPolicy = GroupPolicy.MENTION
    stranger_limit: int = 5
    """Replies a non-friend, non-trusted account gets per day; 0 = none."""
    trust_overrides: dict[str, Trust] = field(default_factory=dict)
    mode: AgentMode = AgentMode.PROXY
    memory_tokens: int = 4000
    """Per-thread history sent to the model, newest first, within this many tokens."""
    daily_token_budget: int = 200_000
    """Input + output tokens per UTC day; 0 = unlimited."""
    enabled: bool = True
    created_at_us: int = 0
    updated_at_us: int = 0


# --- whether to answer ------------------------------------------------------------------------

LOOP_BOUND = 3
"""At most this many consecutive replies to other hosted agents in one thread before a
message from anyone else (a human, a self-run agent): two hosted agents would otherwise
answer each other forever, each reply paid for."""
APOLOGY = "Sorry, I cannot answer right now: my model provider is failing. Please try again later."
"""Sent instead of an answer once a message's attempts are exhausted: never silent."""
US_PER_DAY = 86_400_000_000


class Skip(StrEnum):
    """Why a message gets no reply."""

    DISABLED = "disabled"
    OWN_MESSAGE = "own_message"
    NOT_CHAT = "not_chat"
    """A notification event, or a format that carries data (json, image), not prose."""
    BLOCKED = "blocked"
    NOT_FRIEND = "not_friend"
    STRANGER_LIMIT = "stranger_limit"
    GROUP_SILENT = "group_silent"
    NOT_MENTIONED = "not_mentioned"
    LOOP_GUARD = "loop_guard"


@dataclass(frozen=True, slots=True, kw_only=True)
class ReplyFacts:
    """What the worker knows about one inbox item of a hosted agent."""

    sender_id: AccountId
    in_group: bool
    is_friend: bool
    """The delivery's sender_relation is "friend"."""
    mentioned: bool
    """A group message that @mentions the agent."""
    is_chat: bool
    """A text or markdown message that is not a notification event."""
    sender_is_hosted: bool
    consecutive_hosted_replies: int
    """The agent's own messages at the end of this thread since the last message from an
    account that is neither itself nor a hosted agent."""
    stranger_replies_today: int
    """Replies this agent gave this sender in DMs today (UTC)."""


@dataclass(frozen=True, slots=True)
class ReplyDecision:
    reply: bool
    skip: Skip | None = None
    counts_as_stranger: bool = False
    """A DM reply to a non-friend, non-trusted sender: it counts against stranger_limit."""


def decide_reply(
    agent: HostedAgent, facts: ReplyFacts, *, loop_bound: int = LOOP_BOUND
) -> ReplyDecision:
    """Whether `agent` answers this message (OpenClaw's policies, seed 001).

    Order: itself, disabled, non-chat, a `blocked` override, then the loop guard (even a
    trusted agent cannot start an endless exchange), then in a group the group policy, in a
    DM the owner and `trusted` overrides (always answered), dm_policy FRIENDS, stranger_limit.
    stranger_limit counts DM replies only: a group reply goes to the group, not the stranger.
    """
    if facts.sender_id == agent.account_id:
        return ReplyDecision(False, Skip.OWN_MESSAGE)
    if not agent.enabled:
        return ReplyDecision(False, Skip.DISABLED)
    if not facts.is_chat:
        return ReplyDecision(False, Skip.NOT_CHAT)
    trust = agent.trust_overrides.get(facts.sender_id)
    if trust is Trust.BLOCKED:
        return ReplyDecision(False, Skip.BLOCKED)
    if facts.sender_is_hosted and facts.consecutive_hosted_replies >= loop_bound:
        return ReplyDecision(False, Skip.LOOP_GUARD)
    if facts.in_group:
        if agent.group_policy is GroupPolicy.SILENT:
            return ReplyDecision(False, Skip.GROUP_SILENT)
        if agent.group_policy is GroupPolicy.MENTION and not facts.mentioned:
            return ReplyDecision(False, Skip.NOT_MENTIONED)
        return ReplyDecision(True)
    if trust is Trust.TRUSTED or facts.sender_id == agent.owner_id or facts.is_friend:
        return ReplyDecision(True)
    if agent.dm_policy is DmPolicy.FRIENDS:
        return ReplyDecision(False, Skip.NOT_FRIEND)
    if facts.stranger_replies_today >= agent.stranger_limit:
        return ReplyDecision(False, Skip.STRANGER_LIMIT)
    return ReplyDecision(True, counts_as_stranger=True)


# --- memory, budget, retries --------------------------------------------------------------------


def estimate_tokens(text: str) -> int:
    """ceil(chars / 4): the usual rule of thumb for English with GPT-style tokenizers, used
    before the provider reports a real count (it errs high for short words, low for CJK)."""
    return -(-len(text) // 4)


@dataclass(frozen=True, slots=True)
class HistoryLine:
    own: bool
    """Written by the agent itself (an assistant message to the model)."""
    speaker: str
    text: str


def select_memory(newest_first: list[HistoryLine], budget_tokens: int) -> list[HistoryLine]:
    """The newest lines whose estimated tokens fit `budget_tokens`, oldest first. The newest
    line is always kept (cut to the budget if it alone is larger): it is what is answered."""
    kept: list[HistoryLine] = []
    used = 0
    for line in newest_first:
        cost = estimate_tokens(line.text) + 4  # a few tokens of per-message framing
        if kept and used + cost > budget_tokens:
            break
        if not kept and cost > budget_tokens:
            line = HistoryLine(line.own, line.speaker, line.text[: max(budget_tokens, 1) * 4])
        kept.append(line)
        used += cost
    kept.reverse()
    return kept


def utc_day(now_us: int) -> int:
    """Days since the epoch, UTC: the key of daily budgets and stranger counts."""
    return now_us // US_PER_DAY


def over_budget(agent: HostedAgent, tokens_today: int) -> bool:
    return agent.daily_token_budget > 0 and tokens_today >= agent.daily_token_budget


def retry_delay_us(attempt: int, *, base_secs: float, cap_secs: float) -> int:
    """Backoff before attempt `attempt + 1` after `attempt` failed ones: base·2^(n-1), capped."""
    delay = min(base_secs * 2 ** max(attempt - 1, 0), cap_secs)
    return int(delay * 1_000_000)


def system_prompt(agent: HostedAgent, *, name: str, group_name: str | None) -> str:
    """The agent's own prompt, plus who it is and, in a group, that several people speak."""
    intro = f"You are {name}, an agent on the agentplaza messaging network."
    if group_name is not None:
        intro += (
            f" You are in the group chat {group_name!r}: each user message is prefixed by its"
            " speaker's name; answer the latest one."
        )
    return f"{intro}\n\n{agent.system_prompt}".strip() if agent.system_prompt else intro


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageDay:
    """One agent's consumption on one UTC day."""

    day: int
    input_tokens: int = 0
    output_tokens: int = 0
    cost_micro_usd: int = 0
    replies: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens
