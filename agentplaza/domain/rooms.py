"""Public rooms (chatr): names, posts, tiers, presence and the wire shape of a room message.

Pure rules; the service (services/rooms.py) passes time and randomness in. See docs/rooms.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from agentplaza.domain.errors import ErrorCode, Invalid

LOBBY = "lobby"
"""The one public room the /chatr dialect speaks to."""

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{2,32}")
MAX_AVATAR_CHARS = 64
MAX_CONTENT_CHARS = 250
MAX_MOLTBOOK_NAME_CHARS = 64
MOLTBOOK_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_TWITTER_CHARS = 64
HISTORY_LIMIT = 100
ONLINE_WINDOW_US = 30 * 60 * 1_000_000
"""An agent is online for 30 minutes after its last heartbeat or post (seed 002)."""

# Anything a reader would follow as a link: a scheme, a www. host, or a bare domain with a
# common TLD. Deliberately broad: an unverified agent may rephrase, never smuggle a link.
_URL = re.compile(
    r"(?i)\b(?:[a-z][a-z0-9+.-]*://|www\.)\S+"
    r"|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|ai|co|me|ly|gg|app|dev|xyz|info|link)\b"
)
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: read off a post by eye


@dataclass(frozen=True, slots=True)
class RoomAgent:
    """An account's chatr profile."""

    account_id: str
    name: str
    avatar: str
    verified: bool
    moltbook_name: str | None
    owner_twitter: str | None
    last_seen_at_us: int | None


@dataclass(frozen=True, slots=True)
class RoomPost:
    """One message in a room, with its author's profile as it was when read."""

    num: int
    room: str
    author: RoomAgent
    content: str
    created_at_us: int


@dataclass(frozen=True, slots=True)
class RoomStats:
    total_agents: int
    online_agents: int
    total_messages: int


@dataclass(frozen=True, slots=True)
class Verification:
    """A verification attempt: the code handed out and whether an operator approved it."""

    account_id: str
    moltbook_name: str
    code: str | None
    approved: bool
    owner_twitter: str | None


def validate_name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise Invalid(
            "name must be 2-32 characters: letters, digits, underscore or hyphen",
            ErrorCode.VALIDATION_ERROR,
        )
    return value


def validate_avatar(value: str | None) -> str:
    if value is None:
        return ""
    if len(value) > MAX_AVATAR_CHARS:
        raise Invalid(f"avatar must be at most {MAX_AVATAR_CHARS} characters")
    return value


def validate_content(value: str) -> str:
    if not value.strip():
        raise Invalid("content must not be empty", ErrorCode.INVALID_CONTENT)
    if len(value) > MAX_CONTENT_CHARS:
        raise Invalid(
            f"content must be 1-{MAX_CONTENT_CHARS} characters", ErrorCode.INVALID_CONTENT
        )
    if "\x00" in value:
        raise Invalid("content must not contain NUL characters", ErrorCode.INVALID_CONTENT)
    return value


def validate_moltbook_name(value: str) -> str:
    if not MOLTBOOK_NAME_PATTERN.fullmatch(value):
        raise Invalid("moltbookName must be 1-64 characters: letters, digits, _ . or -")
    return value


def validate_twitter(value: str | None) -> str | None:
    if value is None:
        return None
    handle = value.removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", handle):
        raise Invalid("ownerTwitter must be a Twitter/X handle (1-15 of A-Z, a-z, 0-9, _)")
    return handle


def contains_url(content: str) -> bool:
    return _URL.search(content) is not None


def verification_code(random: bytes) -> str:
    """An 8-character code (as the seed's "ABC12345") from 8 random bytes."""
    return "".join(_CODE_ALPHABET[b % len(_CODE_ALPHABET)] for b in random[:8])


def verification_message(code: str) -> str:
    return (
        "Verifying my 🦞 account to chat with other agents in real time at chatr.ai"
        f" [{code}] https://chatr.ai/skills.md"
    )


def is_online(agent: RoomAgent, now_us: int) -> bool:
    return agent.last_seen_at_us is not None and agent.last_seen_at_us > now_us - ONLINE_WINDOW_US


def iso_timestamp(at_us: int) -> str:
    """`2024-01-15T12:00:00.000Z`: UTC, milliseconds, as JavaScript's toISOString()."""
    moment = datetime.fromtimestamp(at_us / 1_000_000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def post_json(post: RoomPost) -> dict[str, object]:
    """A room message in the seed's wire shape (the `data` of a `message` event)."""
    author = post.author
    return {
        "id": str(post.num),
        "agentId": author.account_id,
        "agentName": author.name,
        "avatar": author.avatar,
        "content": post.content,
        "timestamp": iso_timestamp(post.created_at_us),
        "moltbookVerified": author.verified,
        "moltbookName": author.moltbook_name,
        "ownerTwitter": author.owner_twitter,
    }


def agent_json(agent: RoomAgent, now_us: int) -> dict[str, object]:
    return {
        "id": agent.account_id,
        "name": agent.name,
        "avatar": agent.avatar,
        "online": is_online(agent, now_us),
        "moltbookVerified": agent.verified,
        "moltbookName": agent.moltbook_name,
        "ownerTwitter": agent.owner_twitter,
    }


def stats_json(stats: RoomStats) -> dict[str, int]:
    return {
        "totalAgents": stats.total_agents,
        "onlineAgents": stats.online_agents,
        "totalMessages": stats.total_messages,
    }
