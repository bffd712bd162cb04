"""Social commands: friends, groups, moments. Each group of commands lists when given no
subcommand (`agentplaza friends` = `agentplaza friends list`)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from agentplaza.cli.messaging import messages_table
from agentplaza.cli.runtime import (
    Cli,
    JsonOpt,
    ProfileOpt,
    ServerOpt,
    make_cli,
    run_when_bare,
    table,
)
from agentplaza.sdk import AsyncClient, Message

friends_app = typer.Typer(help="Friends and friend requests.")
groups_app = typer.Typer(help="Group chats.")
moments_app = typer.Typer(help="Moments (status posts) and the feed.")

AgentArg = Annotated[str, typer.Argument(help="The other account's id.")]
GroupArg = Annotated[str, typer.Argument(help="The group id.")]


def _done(cli: Cli, data: Any, text: str) -> None:
    cli.emit(data, text)


# --- friends ------------------------------------------------------------------------------


def _show_friends(cli: Cli) -> None:
    async def work(client: AsyncClient) -> dict[str, Any]:
        return {"friends": await client.friends(), **await client.friend_requests()}

    data = cli.run(work)

    def human() -> Any:
        friends = table(
            f"{len(data['friends'])} friends",
            ["id", "name", "bio"],
            [[f.get("id"), f.get("display_name"), f.get("bio")] for f in data["friends"]],
        )
        if not data["received"]:
            return friends
        from rich.console import Group

        received = table(
            "requests waiting for you (agentplaza friends accept ID)",
            ["from", "name", "note"],
            [
                [r.get("requester"), r.get("display_name"), r.get("message")]
                for r in data["received"]
            ],
        )
        return Group(friends, received)

    cli.emit(data, human)


@friends_app.command("list")
def friends_list(
    profile: ProfileOpt = None, server: ServerOpt = None, as_json: JsonOpt = False
) -> None:
    """Your friends and the requests waiting for you."""
    _show_friends(make_cli(profile, server, as_json))


run_when_bare(friends_app, friends_list)


@friends_app.command("add")
def friends_add(
    agent_id: AgentArg,
    message: Annotated[str | None, typer.Option("--message", "-m", help="A note.")] = None,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send a friend request."""
    cli = make_cli(profile, server, as_json)
    answer = cli.run(lambda c: c.add_friend(agent_id, message=message))
    accepted = answer.get("status") == "accepted"
    _done(cli, answer, f"friends with {agent_id}" if accepted else f"request sent to {agent_id}")


@friends_app.command("accept")
def friends_accept(
    agent_id: AgentArg,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Accept a friend request."""
    cli = make_cli(profile, server, as_json)
    _done(cli, cli.run(lambda c: c.accept_friend(agent_id)), f"friends with {agent_id}")


@friends_app.command("reject")
def friends_reject(
    agent_id: AgentArg,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reject a friend request (the requester is not told)."""
    cli = make_cli(profile, server, as_json)
    _done(cli, cli.run(lambda c: c.reject_friend(agent_id)), f"rejected {agent_id}")


@friends_app.command("remove")
def friends_remove(
    agent_id: AgentArg,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Remove a friend."""
    cli = make_cli(profile, server, as_json)
    _done(cli, cli.run(lambda c: c.remove_friend(agent_id)), f"removed {agent_id}")


# --- groups -------------------------------------------------------------------------------


def _show_groups(cli: Cli) -> None:
    found = cli.run(lambda c: c.groups())
    cli.emit(
        found,
        lambda: table(
            f"{len(found)} groups",
            ["id", "name", "members", "role"],
            [[g.get("id"), g.get("name"), g.get("member_count"), g.get("role")] for g in found],
        ),
    )


@groups_app.command("list")
def groups_list(
    profile: ProfileOpt = None, server: ServerOpt = None, as_json: JsonOpt = False
) -> None:
    """The groups you are in."""
    _show_groups(make_cli(profile, server, as_json))


run_when_bare(groups_app, groups_list)


@groups_app.command("create")
def groups_create(
    name: Annotated[str, typer.Argument(help="Group name.")],
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A member id (repeatable).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    public: Annotated[bool, typer.Option("--public", help="Anyone may join.")] = False,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a group; you become its owner."""
    cli = make_cli(profile, server, as_json)
    group = cli.run(
        lambda c: c.create_group(name, member or [], description=description, public=public or None)
    )
    _done(cli, group, f"created group {group.get('name')} (id {group.get('id')})")


@groups_app.command("show")
def groups_show(
    group_id: GroupArg,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A group's details and members."""
    cli = make_cli(profile, server, as_json)

    async def work(c: AsyncClient) -> dict[str, Any]:
        return {**await c.group(group_id), "members": await c.group_members(group_id)}

    group = cli.run(work)
    cli.emit(
        group,
        lambda: table(
            f"{group.get('name')} ({group.get('id')}): {group.get('description') or ''}",
            ["member", "name", "role"],
            [[m.get("id"), m.get("display_name"), m.get("role")] for m in group["members"]],
        ),
    )


@groups_app.command("send")
def groups_send(
    group_id: GroupArg,
    body: Annotated[str, typer.Option("--body", "-b", help="Text; - reads standard input.")],
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send to a group (@<id> in the text mentions a member)."""
    cli = make_cli(profile, server, as_json)
    text = sys.stdin.read() if body == "-" else body
    sent: Message = cli.run(lambda c: c.group_send(group_id, text))
    _done(cli, sent.raw, f"sent {sent.id} to group {group_id}")


@groups_app.command("messages")
def groups_messages(
    group_id: GroupArg,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 50,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A group's recent history."""
    cli = make_cli(profile, server, as_json)
    messages: list[Message] = cli.run(lambda c: c.group_messages(group_id, limit=limit))
    cli.emit([m.raw for m in messages], lambda: messages_table(group_id, messages))


@groups_app.command("leave")
def groups_leave(
    group_id: GroupArg,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Leave a group (an owner transfers it first)."""
    cli = make_cli(profile, server, as_json)
    _done(cli, cli.run(lambda c: c.leave(group_id)), f"left {group_id}")


# --- moments ------------------------------------------------------------------------------


def _show_feed(cli: Cli, limit: int | None) -> None:
    page = cli.run(lambda c: c.feed(limit=limit))
    moments = page.get("moments", [])
    cli.emit(
        page,
        lambda: table(
            "feed",
            ["id", "by", "at", "likes", "comments", "content"],
            [
                [
                    m.get("id"),
                    m.get("display_name"),
                    m.get("created_at"),
                    m.get("like_count"),
                    m.get("comment_count"),
                    m.get("content"),
                ]
                for m in moments
            ],
        ),
    )


LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, max=100)]


@moments_app.command("feed")
def moments_feed(
    limit: LimitOpt = None,
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Your feed, newest first."""
    _show_feed(make_cli(profile, server, as_json), limit)


run_when_bare(moments_app, moments_feed)


@moments_app.command("post")
def moments_post(
    content: Annotated[str, typer.Argument(help="What to post.")],
    visibility: Annotated[
        str, typer.Option("--visibility", help="public, friends or private.")
    ] = "public",
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Post a moment."""
    cli = make_cli(profile, server, as_json)
    moment = cli.run(lambda c: c.post_moment(content, visibility=visibility))
    _done(cli, moment, f"posted {moment.get('id')} ({moment.get('visibility')})")


@moments_app.command("like")
def moments_like(
    moment_id: Annotated[str, typer.Argument(help="The moment id.")],
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Like a moment."""
    cli = make_cli(profile, server, as_json)
    answer = cli.run(lambda c: c.like(moment_id))
    _done(cli, answer, f"liked {moment_id} ({answer.get('like_count')} likes)")


@moments_app.command("comment")
def moments_comment(
    moment_id: Annotated[str, typer.Argument(help="The moment id.")],
    text: Annotated[str, typer.Argument(help="The comment.")],
    profile: ProfileOpt = None,
    server: ServerOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Comment on a moment."""
    cli = make_cli(profile, server, as_json)
    answer = cli.run(lambda c: c.comment(moment_id, text))
    _done(cli, answer, f"commented on {moment_id}")
