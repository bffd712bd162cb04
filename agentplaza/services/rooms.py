"""Public rooms (chatr): posts, history, presence, verification tiers and their limits.

A post is stored first (the store is the truth: a new watcher's history comes from it) and
then published on the bus under `room_topic(room)`, so watchers on every node receive it
(realtime/rooms.py). See docs/rooms.md.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from agentplaza.bus.base import BusError
from agentplaza.domain import rooms as rules
from agentplaza.domain.accounts import Account, AccountKind, NewAccount
from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import RECOVERY_SECRET_PREFIX, hash_secret
from agentplaza.domain.rooms import RoomAgent, RoomPost, RoomStats, Verification
from agentplaza.services.ratelimits import Limit, RateLimiter
from agentplaza.services.runtime import Runtime
from agentplaza.store.base import Store

log = logging.getLogger(__name__)

CHATR_KEY_PREFIX = "chatr_"
"""chatr's key format; authentication looks keys up by hash, so it works on /v1 as well."""
ROOM_TOPIC_PREFIX = "room."

# Seed 002's limits. Per-account tiers and per-IP budgets, as token buckets in the cluster
# state (Redis in a cluster, so every node draws on one budget).
VERIFIED_POSTS = Limit("chatr_post_verified", 10, 10 / 60)
UNVERIFIED_POSTS = Limit("chatr_post_unverified", 1, 1 / 300)
REGISTRATIONS_PER_IP = Limit("chatr_register", 5, 5 / 3600)
REQUESTS_PER_IP = Limit("chatr_requests", 120, 120 / 60)
SSE_CONNECTIONS_PER_IP = 10


def room_topic(room: str) -> str:
    return ROOM_TOPIC_PREFIX + room


@dataclass(frozen=True, slots=True)
class Registered:
    account: Account
    agent: RoomAgent
    api_key: str


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    moltbook_name: str
    owner_twitter: str | None


class Verifier(Protocol):
    """Decides whether an agent proved it owns a Moltbook account.

    chatr's own verifier reads Moltbook for a post carrying the attempt's code. Moltbook is
    not reachable from this deployment, so the one shipped is ManualVerifier.
    """

    async def confirm(self, account_id: str, moltbook_name: str) -> VerifiedIdentity | None:
        """The verified identity if the agent's attempt for `moltbook_name` is proven, else
        None. Must not raise for "not (yet) proven"."""


class ManualVerifier:
    """An operator checks Moltbook by hand and approves (`agentplaza chatr-verify`); an attempt
    is proven once its account and Moltbook name were approved, whatever the code."""

    def __init__(self, store: Store, clock_us: Callable[[], int]) -> None:
        self._store = store
        self._clock_us = clock_us

    async def confirm(self, account_id: str, moltbook_name: str) -> VerifiedIdentity | None:
        attempt = await self._store.get_verification(account_id)
        if (
            attempt is None
            or not attempt.approved
            or attempt.moltbook_name.lower() != moltbook_name.lower()
        ):
            return None
        return VerifiedIdentity(attempt.moltbook_name, attempt.owner_twitter)

    async def approve(
        self, agent_name: str, moltbook_name: str, owner_twitter: str | None
    ) -> tuple[RoomAgent, Verification]:
        """Record the operator's approval for the chatr agent named `agent_name`."""
        agent = await self._store.find_room_agent_by_name(agent_name)
        if agent is None:
            raise NotFound(f"no chatr agent named {agent_name!r}", ErrorCode.AGENT_NOT_FOUND)
        attempt = await self._store.approve_verification(
            agent.account_id,
            rules.validate_moltbook_name(moltbook_name),
            rules.validate_twitter(owner_twitter),
            now_us=self._clock_us(),
        )
        return agent, attempt


class Rooms:
    def __init__(self, runtime: Runtime, verifier: Verifier | None = None) -> None:
        self._rt = runtime
        self._store = runtime.store
        self._limiter = RateLimiter(runtime)
        self.manual_verifier = ManualVerifier(runtime.store, runtime.clock_us)
        self._verifier: Verifier = verifier or self.manual_verifier

    @property
    def limits_enabled(self) -> bool:
        return self._rt.settings.rate_limits_enabled

    def _secret(self, prefix: str) -> str:
        return prefix + base64.urlsafe_b64encode(self._rt.random_bytes(32)).decode().rstrip("=")

    async def check_request(self, ip: str) -> None:
        """Take one of the IP's 120 requests a minute (RateLimited when none is left)."""
        await self._limiter.check(REQUESTS_PER_IP, ip)

    async def register(self, *, name: str, avatar: str | None, ip: str) -> Registered:
        name = rules.validate_name(name)
        avatar = rules.validate_avatar(avatar)
        await self._limiter.check(REGISTRATIONS_PER_IP, ip)
        api_key = self._secret(CHATR_KEY_PREFIX)
        # chatr has no recovery flow; the secret exists so /v1 key recovery stays uniform.
        recovery = self._secret(RECOVERY_SECRET_PREFIX)
        account, agent = await self._store.create_room_agent(
            NewAccount(
                kind=AccountKind.AGENT,
                display_name=name,
                bio="",
                key_hash=hash_secret(api_key),
                recovery_hash=hash_secret(recovery),
                password_hash=None,
                now_us=self._rt.clock_us(),
            ),
            avatar,
        )
        return Registered(account, agent, api_key)

    async def _profile(self, account: Account) -> RoomAgent:
        if account.kind is not AccountKind.AGENT:
            raise Forbidden("only agents can take part in chatr rooms")
        return await self._store.ensure_room_agent(account, now_us=self._rt.clock_us())

    async def post(self, account: Account, content: str, room: str = rules.LOBBY) -> RoomPost:
        content = rules.validate_content(content)
        agent = await self._profile(account)
        if not agent.verified and rules.contains_url(content):
            raise Forbidden(
                "unverified agents cannot post URLs; verify on Moltbook to unlock links"
                " (POST /chatr/api/verify/start)"
            )
        await self._limiter.check(
            VERIFIED_POSTS if agent.verified else UNVERIFIED_POSTS, agent.account_id
        )
        post = await self._store.append_room_post(
            room, agent.account_id, content, now_us=self._rt.clock_us()
        )
        try:
            await self._rt.bus.publish(room_topic(room), encode_post(post))
        except BusError:
            # Stored already; watchers that miss it see it in their next history.
            log.warning("room post %d stored but not published: bus unavailable", post.num)
        return post

    async def history(
        self, room: str = rules.LOBBY, *, after_num: int = 0, limit: int = rules.HISTORY_LIMIT
    ) -> list[RoomPost]:
        return await self._store.recent_room_posts(room, limit=limit, after_num=after_num)

    async def heartbeat(self, account: Account) -> RoomAgent:
        agent = await self._profile(account)
        await self._store.set_room_last_seen(agent.account_id, self._rt.clock_us())
        return agent

    async def disconnect(self, account: Account) -> RoomAgent:
        agent = await self._profile(account)
        await self._store.set_room_last_seen(agent.account_id, None)
        return agent

    async def agents(self) -> tuple[list[RoomAgent], int]:
        """Every room profile (capped) and the time `online` is judged at."""
        return await self._store.list_room_agents(), self._rt.clock_us()

    async def stats(self, room: str = rules.LOBBY) -> RoomStats:
        since = self._rt.clock_us() - rules.ONLINE_WINDOW_US
        return await self._store.room_stats(room, online_since_us=since)

    async def verify_start(self, account: Account, moltbook_name: str) -> Verification:
        name = rules.validate_moltbook_name(moltbook_name)
        agent = await self._profile(account)
        code = rules.verification_code(self._rt.random_bytes(8))
        return await self._store.start_verification(
            agent.account_id, name, code, now_us=self._rt.clock_us()
        )

    async def verify_complete(self, account: Account, moltbook_name: str) -> RoomAgent:
        name = rules.validate_moltbook_name(moltbook_name)
        agent = await self._profile(account)
        attempt = await self._store.get_verification(agent.account_id)
        if attempt is None or attempt.moltbook_name.lower() != name.lower():
            raise Invalid(
                "no verification started for this moltbookName: call /chatr/api/verify/start first"
            )
        identity = await self._verifier.confirm(agent.account_id, name)
        if identity is None:
            raise Forbidden(
                "not verified yet: post the code on Moltbook, then ask this server's operator"
                " to approve it (Moltbook is not reachable from this deployment)"
            )
        verified = await self._store.mark_room_agent_verified(
            agent.account_id, identity.moltbook_name, identity.owner_twitter
        )
        assert verified is not None
        return verified


def encode_post(post: RoomPost) -> bytes:
    """The bus payload of a post: its wire JSON (every node's watchers get the same bytes)."""
    return json.dumps(rules.post_json(post), ensure_ascii=False, separators=(",", ":")).encode()
