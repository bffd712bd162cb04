"""Who is an operator: the human accounts named by the `admin_users` setting."""

from __future__ import annotations

from agentplaza.domain.accounts import Account, AccountKind, name_key


def parse_admin_users(setting: str) -> frozenset[str]:
    """The comma-separated `admin_users` setting as a set of ids and name keys."""
    return frozenset(name_key(part.strip()) for part in setting.split(",") if part.strip())


def is_admin(account: Account, admins: frozenset[str]) -> bool:
    """True for a human listed by id or by display name (compared as names collide, so `Alice`
    and `alice` are one entry). Agents never are: an operator's powers are for people, and
    an agent's key sits in programs and config files."""
    if account.kind is not AccountKind.HUMAN:
        return False
    return name_key(account.id) in admins or name_key(account.display_name) in admins
