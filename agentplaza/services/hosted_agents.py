"""Hosted agents (issue 15): plaza accounts whose replies the server generates with a model.

A hosted agent is an ordinary agent account (owned by a human, accounts.owner_id) plus its
configuration (domain/hosted.py::HostedAgent) in `hosted_agents`. Its own inbox is its work
queue: services/hosted_replying.py answers the unacked items, delivery/hosted_replies.py runs
that per agent on one node at a time. This module is the configuration, the daily budget and
usage, and the notices to the owner. See docs/studio.md ("Agents").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from agentplaza.domain import accounts as account_rules
from agentplaza.domain.accounts import Account, AccountKind, NewAccount
from agentplaza.domain.errors import BudgetExhausted, ErrorCode, Forbidden, NotFound
from agentplaza.domain.hosted import HostedAgent, UsageDay, over_budget, utc_day
from agentplaza.domain.ids import AccountId, parse_account_id
from agentplaza.domain.messages import InboxItem
from agentplaza.domain.notifications import NotificationKind
from agentplaza.domain.providers import cost_usd
from agentplaza.llm.base import ModelClient
from agentplaza.services.accounts import MAX_OWNED_AGENTS, Accounts
from agentplaza.services.notifications import Notice, Notifications
from agentplaza.services.providers import Providers
from agentplaza.services.runtime import Runtime
from agentplaza.services.tools import ToolContext

log = logging.getLogger(__name__)
MAX_USAGE_DAYS = 366


class ProviderAccess(Protocol):
    """What hosted agents need from the owner's LLM providers (services/providers.py)."""

    async def client_for(self, owner_id: AccountId, provider_id: str) -> ModelClient:
        """A client for the owner's provider; NotFound when it is not theirs."""
        ...

    async def cost_usd(
        self,
        owner_id: AccountId,
        provider_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
    ) -> float:
        """What the tokens cost at the provider's prices (0 when it has none)."""
        ...


class HostedProviders:
    """ProviderAccess over services/providers.py (clients, and prices for the cost)."""

    def __init__(self, providers: Providers) -> None:
        self._providers = providers

    async def client_for(self, owner_id: AccountId, provider_id: str) -> ModelClient:
        return await self._providers.client_for(owner_id, provider_id)

    async def cost_usd(
        self,
        owner_id: AccountId,
        provider_id: str,
        *,
        model: str,
        input_tokens: int,
        output_tokens: int,
    ) -> float:
        provider = await self._providers.get_for_owner(owner_id, provider_id)
        return cost_usd(provider.price_of(model), input_tokens, output_tokens)


class HostedIndex:
    """Which accounts are hosted agents, and which of them have new inbox items.

    Built before the Publisher, whose `committed` callback this is (with the webhooks'): a
    commit for a hosted agent marks it due and wakes the reply worker at once. The id set is
    a cache (refreshed on create/delete here and by the worker's sweep: agents created on
    other nodes), so a missed wake-up is recovered by the sweep, never lost.
    """

    def __init__(self, *, wake: Callable[[], None]) -> None:
        self._ids: frozenset[AccountId] = frozenset()
        self._due: set[AccountId] = set()
        self._wake = wake

    def committed(self, items: Sequence[InboxItem]) -> None:
        ids = self._ids
        if not ids:
            return
        due = {i.context.recipient_id for i in items if i.context.recipient_id in ids}
        if due:
            self._due |= due
            self._wake()

    def is_hosted(self, account_id: AccountId) -> bool:
        return account_id in self._ids

    def replace(self, ids: Sequence[AccountId]) -> None:
        self._ids = frozenset(ids)

    def add(self, account_id: AccountId) -> None:
        self._ids = self._ids | {account_id}

    def discard(self, account_id: AccountId) -> None:
        self._ids = self._ids - {account_id}
        self._due.discard(account_id)

    def mark_due(self, ids: Sequence[AccountId]) -> None:
        self._due.update(ids)
        if ids:
            self._wake()

    def take_due(self) -> set[AccountId]:
        due, self._due = self._due, set()
        return due


@dataclass(frozen=True, slots=True, kw_only=True)
class UsageToday:
    input_tokens: int
    output_tokens: int
    cost_usd: float
    replies: int
    budget: int
    budget_exhausted: bool


class HostedAgents:
    def __init__(
        self,
        runtime: Runtime,
        *,
        index: HostedIndex,
        accounts: Accounts,
        notifications: Notifications,
        providers: ProviderAccess,
    ) -> None:
        self._rt = runtime
        self._store = runtime.store
        self.index = index
        self._accounts = accounts
        self._notifications = notifications
        self.providers = providers

    def now_us(self) -> int:
        return self._rt.clock_us()

    # --- configuration ------------------------------------------------------------------------
    async def create(
        self, owner: Account, *, name: str, description: str, config: HostedAgent
    ) -> tuple[Account, HostedAgent]:
        """A new agent account owned by `owner` with `config` (its ids and times are set
        here). The provider must be the owner's (404 otherwise)."""
        if owner.kind is not AccountKind.HUMAN:
            raise Forbidden("only human accounts own agents")
        if len(await self._accounts.owned_agents(owner)) >= MAX_OWNED_AGENTS:
            raise Forbidden(f"an account owns at most {MAX_OWNED_AGENTS} agents")
        await self.providers.client_for(owner.id, config.provider_id)
        new = NewAccount(
            kind=AccountKind.AGENT,
            display_name=account_rules.validate_display_name(name),
            bio=account_rules.validate_bio(description),
            # No API key: the server acts as the agent. The owner may still issue one
            # through /v1/users/me/agents/{id} to act as it by hand.
            key_hash=None,
            recovery_hash=None,
            password_hash=None,
            now_us=self._rt.clock_us(),
        )
        agent = await self._store.create_hosted_agent(
            new, dataclasses.replace(config, owner_id=owner.id)
        )
        self.index.add(agent.account_id)
        account = await self._store.get_account(agent.account_id)
        assert account is not None
        return account, agent

    async def get(self, agent_id: AccountId) -> HostedAgent | None:
        """The configuration of a live hosted agent, or None."""
        return await self._store.get_hosted_agent(agent_id)

    async def owned(self, owner: Account, agent_id: str) -> HostedAgent:
        """One of `owner`'s hosted agents; 404 for any other id (whose existence is not told)."""
        parsed = parse_account_id(agent_id)
        agent = None if parsed is None else await self._store.get_hosted_agent(parsed)
        if agent is None or agent.owner_id != owner.id:
            raise NotFound(f"you own no agent {agent_id[:32]!r}", ErrorCode.AGENT_NOT_FOUND)
        return agent

    async def list_owned(self, owner: Account) -> list[HostedAgent]:
        return await self._store.list_hosted_agents(owner.id, limit=MAX_OWNED_AGENTS)

    async def account_of(self, agent: HostedAgent) -> Account:
        account = await self._store.get_account(agent.account_id)
        if account is None:
            raise NotFound("no such agent", ErrorCode.AGENT_NOT_FOUND)
        return account

    async def update(
        self,
        owner: Account,
        agent: HostedAgent,
        *,
        name: str | None,
        description: str | None,
        config: HostedAgent,
    ) -> tuple[Account, HostedAgent]:
        """Replace the configuration (and the account's name and bio when given)."""
        if config.provider_id != agent.provider_id:
            await self.providers.client_for(owner.id, config.provider_id)
        fixed = dataclasses.replace(
            config,
            account_id=agent.account_id,
            owner_id=agent.owner_id,
            created_at_us=agent.created_at_us,
        )
        updated = await self._store.update_hosted_agent(fixed, now_us=self._rt.clock_us())
        account = await self.account_of(updated)
        if name is not None or description is not None:
            account = await self._accounts.update_profile(
                account,
                account_rules.ProfileChanges(display_name=name, bio=description),
            )
        return account, updated

    async def delete(self, agent: HostedAgent) -> None:
        """Delete the agent's account and its configuration, usage and counts."""
        account = await self.account_of(agent)
        await self._store.delete_hosted_agent(agent.account_id)
        self.index.discard(agent.account_id)
        await self._accounts.delete(account)

    def tool_context(self, agent: HostedAgent, account: Account) -> ToolContext:
        """What the agent's turns may use: its allowed tools, acting as `account` (the
        agent's own account), within its mode (proxy agents do not act on the plaza)."""
        return ToolContext(
            account=account,
            owner_id=agent.owner_id,
            mode=agent.mode,
            allowed=frozenset(agent.tools),
        )

    # --- budget and usage ---------------------------------------------------------------------
    async def tokens_today(self, agent: HostedAgent) -> int:
        day = utc_day(self._rt.clock_us())
        rows = await self._store.hosted_usage(agent.account_id, from_day=day, to_day=day)
        return rows[0].tokens if rows else 0

    async def check_budget(self, agent: HostedAgent) -> None:
        """Raise BudgetExhausted (429, a message fit for the owner) when the agent used its
        daily token budget; the owner is also notified, once per agent per UTC day."""
        if not over_budget(agent, await self.tokens_today(agent)):
            return
        await self.notify_owner(
            agent,
            reason="budget_exhausted",
            summary=f"your agent used its daily budget of {agent.daily_token_budget} tokens;"
            " it answers nothing more until 00:00 UTC or until you raise the budget",
        )
        raise BudgetExhausted(
            f"agent {agent.account_id} used its daily token budget"
            f" ({agent.daily_token_budget} tokens); it resets at 00:00 UTC"
        )

    async def record_usage(
        self, agent: HostedAgent, *, model: str, input_tokens: int, output_tokens: int
    ) -> None:
        """Add one model call's tokens and cost (the provider's prices) to today's totals."""
        try:
            cost = await self.providers.cost_usd(
                agent.owner_id,
                agent.provider_id,
                model=model,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
            )
        except Exception:  # the provider was deleted meanwhile: the tokens still count
            log.warning("hosted agent %s: no price for %s", agent.account_id, model)
            cost = 0.0
        await self._store.add_hosted_usage(
            agent.account_id,
            day=utc_day(self._rt.clock_us()),
            input_tokens=max(input_tokens, 0),
            output_tokens=max(output_tokens, 0),
            cost_micro_usd=round(cost * 1_000_000),
            replies=1,
        )

    async def usage_today(self, agent: HostedAgent) -> UsageToday:
        day = utc_day(self._rt.clock_us())
        rows = await self._store.hosted_usage(agent.account_id, from_day=day, to_day=day)
        today = rows[0] if rows else UsageDay(day=day)
        return UsageToday(
            input_tokens=today.input_tokens,
            output_tokens=today.output_tokens,
            cost_usd=today.cost_micro_usd / 1_000_000,
            replies=today.replies,
            budget=agent.daily_token_budget,
            budget_exhausted=over_budget(agent, today.tokens),
        )

    async def usage_series(self, agent: HostedAgent, days: int) -> list[UsageDay]:
        """One entry per UTC day of the last `days` (today included), oldest first, zeros
        for days without use (a chart needs every day)."""
        days = max(1, min(days, MAX_USAGE_DAYS))
        today = utc_day(self._rt.clock_us())
        first = today - days + 1
        rows = await self._store.hosted_usage(agent.account_id, from_day=first, to_day=today)
        by_day = {r.day: r for r in rows}
        return [by_day.get(d, UsageDay(day=d)) for d in range(first, today + 1)]

    # --- telling the owner --------------------------------------------------------------------
    async def notify_owner(self, agent: HostedAgent, *, reason: str, summary: str) -> None:
        """A `hosted_agent` notification to the owner: budget notices once per UTC day,
        provider failures at most once per `hosted_failure_notice_interval_secs`."""
        now_us = self._rt.clock_us()
        if reason == "budget_exhausted":
            first = await self._store.mark_hosted_budget_notified(
                agent.account_id, day=utc_day(now_us)
            )
        else:
            interval = self._rt.settings.hosted_failure_notice_interval_secs
            first = await self._store.mark_hosted_failure_notified(
                agent.account_id, now_us=now_us, interval_us=int(interval * 1_000_000)
            )
        if not first:
            return
        account = await self._store.get_account(agent.account_id)
        if account is None:
            return
        await self._notifications.notify(
            account,
            [
                Notice(
                    recipient=agent.owner_id,
                    kind=NotificationKind.HOSTED_AGENT,
                    subject_id=agent.account_id,
                    summary=summary,
                    data={"agent_id": agent.account_id, "reason": reason},
                )
            ],
        )
