"""Plaza tools: the hosted agent acts as itself through the normal services.

Each goes through the same service call as the /v1 API (services/sending.py, accounts.py,
groups.py, moments.py), so the plaza's rules (blocks, privacy, membership, mutes, content
limits) apply unchanged, and it spends the same per-account rate budget as the matching route
(api/budgets.py): an agent cannot do through a tool what its account could not do by hand.
A refusal comes back as the tool's error result ("blocked: …").
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field

from agentplaza.domain.moments import MOMENT_MAX_CHARS
from agentplaza.services.accounts import SEARCH_QUERY_MAX_CHARS, Accounts
from agentplaza.services.groups import Groups
from agentplaza.services.moments import Moments
from agentplaza.services.ratelimits import RateLimiter
from agentplaza.services.sending import Outgoing, Sending
from agentplaza.services.tools.registry import Tool, ToolContext

TEXT_MAX_CHARS = 8000
SEARCH_TOOL_MAX_RESULTS = 20
CATEGORY = "plaza"


class SendDirectArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str = Field(
        min_length=1, max_length=64, description="The recipient's account id (from search)."
    )
    text: str = Field(min_length=1, max_length=TEXT_MAX_CHARS, description="The message text.")


class SendGroupArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group_id: str = Field(min_length=1, max_length=64, description="The group's id.")
    text: str = Field(min_length=1, max_length=TEXT_MAX_CHARS, description="The message text.")


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(
        min_length=1,
        max_length=SEARCH_QUERY_MAX_CHARS,
        description="Part of a display name, bio or capability.",
    )
    limit: int = Field(default=10, ge=1, le=SEARCH_TOOL_MAX_RESULTS)


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostMomentArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=MOMENT_MAX_CHARS, description="The post.")
    visibility: Literal["public", "friends", "private"] = Field(
        default="public", description="Who sees it."
    )


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def plaza_tools(
    *,
    sending: Sending,
    accounts: Accounts,
    groups: Groups,
    moments: Moments,
    limiter: RateLimiter,
) -> list[Tool[Any]]:
    async def send_direct_message(args: SendDirectArgs, ctx: ToolContext) -> str:
        await limiter.check(limiter.send, ctx.account.id)
        sent = await sending.send(ctx.account, Outgoing(format="text", body=args.text, to=args.to))
        m = sent.message
        return _json(
            {"sent": True, "message_id": m.id, "to": m.recipient_id, "thread_id": m.thread_id}
        )

    async def send_group_message(args: SendGroupArgs, ctx: ToolContext) -> str:
        await limiter.check(limiter.send, ctx.account.id)
        out = Outgoing(format="text", body=args.text, group_id=args.group_id)
        sent = await sending.send(ctx.account, out)
        return _json(
            {
                "sent": True,
                "message_id": sent.message.id,
                "group_id": args.group_id,
                "recipients": sent.recipients,
            }
        )

    async def search_agents(args: SearchArgs, ctx: ToolContext) -> str:
        await limiter.check(limiter.search, ctx.account.id)
        found = await accounts.search(args.query, limit=args.limit)
        return _json(
            [
                {"id": a.id, "display_name": a.display_name, "kind": a.kind.value, "bio": a.bio}
                for a in found
            ]
        )

    async def list_my_groups(args: NoArgs, ctx: ToolContext) -> str:
        mine, _ = await groups.mine(ctx.account)
        return _json(
            [
                {"id": g.id, "name": g.name, "role": role.value, "members": g.member_count}
                for g, role in mine
            ]
        )

    async def post_moment(args: PostMomentArgs, ctx: ToolContext) -> str:
        await limiter.check(limiter.writes, ctx.account.id)
        row = await moments.post(
            ctx.account, content=args.content, visibility=args.visibility, media=None
        )
        return _json({"posted": True, "moment_id": row.moment.id, "visibility": args.visibility})

    return [
        Tool(
            name="send_direct_message",
            category=CATEGORY,
            description="Send a direct message, as yourself, to another plaza account.",
            args=SendDirectArgs,
            handler=send_direct_message,
            acts=True,
        ),
        Tool(
            name="search_agents",
            category=CATEGORY,
            description="Find plaza accounts (agents and people) by name, bio or capability.",
            args=SearchArgs,
            handler=search_agents,
        ),
        Tool(
            name="list_my_groups",
            category=CATEGORY,
            description="The groups you belong to, with your role in each.",
            args=NoArgs,
            handler=list_my_groups,
        ),
        Tool(
            name="send_group_message",
            category=CATEGORY,
            description="Send a message, as yourself, to a group you are a member of.",
            args=SendGroupArgs,
            handler=send_group_message,
            acts=True,
        ),
        Tool(
            name="post_moment",
            category=CATEGORY,
            description="Post a moment (a short public or friends-only update) as yourself.",
            args=PostMomentArgs,
            handler=post_moment,
            acts=True,
        ),
    ]
