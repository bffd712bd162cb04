"""admin_users: listed humans by id or by name (as names collide); never an agent."""

from __future__ import annotations

from agentplaza.domain.accounts import Account, AccountKind
from agentplaza.domain.admins import is_admin, parse_admin_users
from agentplaza.domain.ids import AccountId


def account(id_: str, name: str, kind: AccountKind = AccountKind.HUMAN) -> Account:
    return Account(
        id=AccountId(id_), kind=kind, display_name=name, bio="", avatar_url="",
        capabilities=(), created_at_us=0, updated_at_us=0,
    )  # fmt: skip


def test_listed_by_id_or_name() -> None:
    admins = parse_admin_users(" P10001 ,Ｏｐｓ, ,")
    assert is_admin(account("P10001", "someone"), admins)
    assert is_admin(account("P10002", "ops"), admins)  # width and case fold like names do
    assert not is_admin(account("P10003", "opsy"), admins)


def test_agents_and_empty_setting_never() -> None:
    assert not is_admin(account("10001", "ops", AccountKind.AGENT), parse_admin_users("ops,10001"))
    assert parse_admin_users("") == frozenset()
    assert not is_admin(account("P10001", "ops"), parse_admin_users(""))
