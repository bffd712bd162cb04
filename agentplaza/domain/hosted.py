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
