"""Hosted agents (issue 15): configuration, the reply worker's per-agent lease and retry
state, daily usage and stranger counts. See services/hosted_agents.py and
delivery/hosted_replies.py.

The configuration is one JSON column (every field of domain/hosted.py::HostedAgent but the
ids and times): new fields with defaults need no migration, and old rows read with the
defaults.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from agentplaza.domain.accounts import Account, NewAccount
from agentplaza.domain.hosted import (
    AgentMode,
    DmPolicy,
    GroupPolicy,
    HostedAgent,
    Trust,
    UsageDay,
)
from agentplaza.domain.ids import AccountId
from agentplaza.store.engine import Txn
from agentplaza.store.queries.inbox import ack_txn
from agentplaza.store.queries.owners import create_owned_account_txn

_COLUMNS = "h.account_id, h.owner_id, h.provider_id, h.config, h.created_at, h.updated_at"
_LIVE = "JOIN accounts a ON a.id = h.account_id AND a.deleted_at IS NULL"
_OWN_COLUMNS = {"account_id", "owner_id", "provider_id", "created_at_us", "updated_at_us"}
_ENUMS: dict[str, Any] = {
    "dm_policy": DmPolicy,
    "group_policy": GroupPolicy,
    "mode": AgentMode,
}


def config_json(agent: HostedAgent) -> str:
    config = {
        f.name: getattr(agent, f.name)
        for f in dataclasses.fields(agent)
        if f.name not in _OWN_COLUMNS
    }
    config["tools"] = list(agent.tools)
    config["trust_overrides"] = {k: v.value for k, v in agent.trust_overrides.items()}
    return json.dumps(config, sort_keys=True)


def _agent_from_row(row: Any) -> HostedAgent:
    raw: dict[str, Any] = json.loads(row[3])
    known = {f.name for f in dataclasses.fields(HostedAgent)} - _OWN_COLUMNS
    config = {k: v for k, v in raw.items() if k in known}  # a field dropped since: ignored
    for name, enum in _ENUMS.items():
        if name in config:
            config[name] = enum(config[name])
    if "tools" in config:
        config["tools"] = tuple(config["tools"])
    if "trust_overrides" in config:
        config["trust_overrides"] = {k: Trust(v) for k, v in config["trust_overrides"].items()}
    return HostedAgent(
        account_id=AccountId(row[0]),
        owner_id=AccountId(row[1]),
        provider_id=row[2],
        created_at_us=row[4],
        updated_at_us=row[5],
        **config,
    )


def create_hosted_txn(txn: Txn, new: NewAccount, config: HostedAgent) -> HostedAgent:
    """The agent's account (owned by `config.owner_id`) and its configuration in one
    transaction: never an account without its configuration. `config.account_id` is ignored."""
    account: Account = create_owned_account_txn(txn, new, config.owner_id)
    agent = dataclasses.replace(
        config, account_id=account.id, created_at_us=new.now_us, updated_at_us=new.now_us
    )
    txn.execute(
        "INSERT INTO hosted_agents (account_id, owner_id, provider_id, config, created_at,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (
            agent.account_id,
            agent.owner_id,
            agent.provider_id,
            config_json(agent),
            new.now_us,
            new.now_us,
        ),
    )
    return agent


def get_hosted_txn(txn: Txn, account: AccountId) -> HostedAgent | None:
    """The configuration of a live hosted agent, or None."""
    row = txn.execute(
        f"SELECT {_COLUMNS} FROM hosted_agents h {_LIVE} WHERE h.account_id = ?", (account,)
    ).fetchone()
    return None if row is None else _agent_from_row(row)


def list_hosted_txn(txn: Txn, owner: AccountId, *, limit: int) -> list[HostedAgent]:
    """`owner`'s live hosted agents, oldest first."""
    rows = txn.execute(
        f"SELECT {_COLUMNS} FROM hosted_agents h {_LIVE} WHERE h.owner_id = ?"
        " ORDER BY h.created_at, h.account_id LIMIT ?",
        (owner, limit),
    ).fetchall()
    return [_agent_from_row(r) for r in rows]


def hosted_ids_txn(txn: Txn) -> list[AccountId]:
    """Every live hosted agent's account id."""
    rows = txn.execute(f"SELECT h.account_id FROM hosted_agents h {_LIVE}").fetchall()
    return [AccountId(r[0]) for r in rows]


def hosted_pending_txn(txn: Txn, *, now_us: int) -> list[AccountId]:
    """Hosted agents that may have unacked inbox items (their ack floor is below their last
    seq), whose lease is free and whose retry, if any, is due."""
    rows = txn.execute(
        "SELECT h.account_id FROM hosted_agents h JOIN accounts a ON a.id = h.account_id"
        " WHERE a.deleted_at IS NULL AND a.last_seq > a.ack_floor"
        " AND (h.lease_until IS NULL OR h.lease_until < ?) AND h.retry_at <= ?",
        (now_us, now_us),
    ).fetchall()
    return [AccountId(r[0]) for r in rows]


def update_hosted_txn(txn: Txn, agent: HostedAgent, *, now_us: int) -> HostedAgent:
    """Replace the configuration (owner and account stay)."""
    updated = dataclasses.replace(agent, updated_at_us=now_us)
    txn.execute(
        "UPDATE hosted_agents SET provider_id = ?, config = ?, updated_at = ? WHERE account_id = ?",
        (updated.provider_id, config_json(updated), now_us, agent.account_id),
    )
    return updated


def delete_hosted_txn(txn: Txn, account: AccountId) -> bool:
    """Forget the configuration, usage and counts (the account is deleted by its own call)."""
    cur = txn.execute("DELETE FROM hosted_agents WHERE account_id = ?", (account,))
    txn.execute("DELETE FROM hosted_usage WHERE account_id = ?", (account,))
    txn.execute("DELETE FROM hosted_stranger_replies WHERE account_id = ?", (account,))
    return int(cur.rowcount) > 0


# --- the reply worker's lease -------------------------------------------------------------------


def claim_hosted_txn(
    txn: Txn, account: AccountId, *, node: str, now_us: int, lease_until_us: int
) -> bool:
    """Take (or extend) the lease on the agent's inbox for `node` until `lease_until_us`, if
    nobody else holds an unexpired one and no retry is pending before `now_us` (the holder
    itself always extends its own). One
    conditional UPDATE: on PostgreSQL a concurrent claimer waits for the row lock and then
    re-checks the condition, so two nodes never both succeed."""
    cur = txn.execute(
        "UPDATE hosted_agents SET lease_node = ?, lease_until = ? WHERE account_id = ?"
        " AND (lease_node = ? OR ((lease_until IS NULL OR lease_until < ?) AND retry_at <= ?))",
        (node, lease_until_us, account, node, now_us, now_us),
    )
    return int(cur.rowcount) > 0


def release_hosted_txn(txn: Txn, account: AccountId, *, node: str) -> None:
    """Give the lease back (only if `node` still holds it)."""
    txn.execute(
        "UPDATE hosted_agents SET lease_node = NULL, lease_until = NULL"
        " WHERE account_id = ? AND lease_node = ?",
        (account, node),
    )


def release_all_hosted_txn(txn: Txn) -> int:
    """Drop every lease: only for a database one process can use (SQLite), at its start,
    when any lease left is a dead process's. Returns how many were held."""
    cur = txn.execute(
        "UPDATE hosted_agents SET lease_node = NULL, lease_until = NULL"
        " WHERE lease_until IS NOT NULL"
    )
    return int(cur.rowcount)


def record_failure_txn(txn: Txn, account: AccountId, *, error: str, retry_at_us: int) -> int:
    """Count a failed attempt at the agent's oldest unanswered message; nothing of it is
    claimed again before `retry_at_us`. Returns the attempts so far."""
    txn.execute(
        "UPDATE hosted_agents SET attempts = attempts + 1, retry_at = ?, last_error = ?"
        " WHERE account_id = ?",
        (retry_at_us, error[:500], account),
    )
    row = txn.execute(
        "SELECT attempts FROM hosted_agents WHERE account_id = ?", (account,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def attempts_txn(txn: Txn, account: AccountId) -> int:
    """Failed attempts at the agent's oldest unanswered message."""
    row = txn.execute(
        "SELECT attempts FROM hosted_agents WHERE account_id = ?", (account,)
    ).fetchone()
    return 0 if row is None else int(row[0])


def finish_item_txn(
    txn: Txn,
    account: AccountId,
    message_id: str,
    *,
    stranger: AccountId | None,
    day: int,
    now_us: int,
) -> None:
    """The item is handled (answered or skipped): ack it, count the reply against
    `stranger`'s limit for `day` when given, and clear the retry state, in one transaction,
    so a counted reply is always an acked one."""
    ack_txn(txn, account, message_id, now_us=now_us)
    if stranger is not None:
        txn.execute(
            "INSERT INTO hosted_stranger_replies (account_id, peer_id, day, replies)"
            " VALUES (?, ?, ?, 1) ON CONFLICT (account_id, peer_id, day)"
            " DO UPDATE SET replies = hosted_stranger_replies.replies + 1",
            (account, stranger, day),
        )
    txn.execute(
        "UPDATE hosted_agents SET attempts = 0, retry_at = 0, last_error = NULL"
        " WHERE account_id = ? AND attempts > 0",
        (account,),
    )


def stranger_replies_txn(txn: Txn, account: AccountId, peer: AccountId, *, day: int) -> int:
    """How many DM replies the hosted agent `account` gave `peer` on UTC `day` (0 if none):
    what its stranger_limit is checked against."""
    row = txn.execute(
        "SELECT replies FROM hosted_stranger_replies WHERE account_id = ? AND peer_id = ?"
        " AND day = ?",
        (account, peer, day),
    ).fetchone()
    return 0 if row is None else int(row[0])


# --- usage --------------------------------------------------------------------------------------


def add_usage_txn(
    txn: Txn,
    account: AccountId,
    *,
    day: int,
    input_tokens: int,
    output_tokens: int,
    cost_micro_usd: int,
    replies: int,
) -> None:
    """Add to the agent's totals for `day`."""
    txn.execute(
        "INSERT INTO hosted_usage (account_id, day, input_tokens, output_tokens,"
        " cost_micro_usd, replies) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, day)"
        " DO UPDATE SET input_tokens = hosted_usage.input_tokens + excluded.input_tokens,"
        " output_tokens = hosted_usage.output_tokens + excluded.output_tokens,"
        " cost_micro_usd = hosted_usage.cost_micro_usd + excluded.cost_micro_usd,"
        " replies = hosted_usage.replies + excluded.replies",
        (account, day, input_tokens, output_tokens, cost_micro_usd, replies),
    )


def usage_txn(txn: Txn, account: AccountId, *, from_day: int, to_day: int) -> list[UsageDay]:
    """The days from `from_day` to `to_day` (inclusive) with any usage, oldest first."""
    rows = txn.execute(
        "SELECT day, input_tokens, output_tokens, cost_micro_usd, replies FROM hosted_usage"
        " WHERE account_id = ? AND day >= ? AND day <= ? ORDER BY day",
        (account, from_day, to_day),
    ).fetchall()
    return [
        UsageDay(
            day=int(r[0]),
            input_tokens=int(r[1]),
            output_tokens=int(r[2]),
            cost_micro_usd=int(r[3]),
            replies=int(r[4]),
        )
        for r in rows
    ]


def mark_budget_notified_txn(txn: Txn, account: AccountId, *, day: int) -> bool:
    """True the first time per `day`: the owner is told once a day that the budget ran out."""
    cur = txn.execute(
        "UPDATE hosted_agents SET budget_notified_day = ? WHERE account_id = ?"
        " AND budget_notified_day < ?",
        (day, account, day),
    )
    return int(cur.rowcount) > 0


def mark_failure_notified_txn(
    txn: Txn, account: AccountId, *, now_us: int, interval_us: int
) -> bool:
    """True at most once per `interval_us`: provider failures are told to the owner, not
    once per retry."""
    cur = txn.execute(
        "UPDATE hosted_agents SET failure_notified_at = ? WHERE account_id = ?"
        " AND failure_notified_at <= ?",
        (now_us, account, now_us - interval_us),
    )
    return int(cur.rowcount) > 0
