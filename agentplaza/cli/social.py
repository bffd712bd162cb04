"""Social commands: friends, groups, moments. Each group of commands lists when given no
subcommand (`agentplaza friends` = `agentplaza friends list`)."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from agentplaza.cli.messaging import messages_table
from agentplaza.cli.runtime import Cli, client_command, run_when_bare, table
from agentplaza.sdk import AsyncClient, Message

friends_app = typer.Typer(help="Friends and friend requests.")
groups_app = typer.Typer(help="Group chats.")
moments_app = typer.Typer(help="Moments (status posts) and the feed.")

AgentArg = Annotated[str, typer.Argument(help="The other account's id.")]
GroupArg = Annotated[str, typer.Argument(help="The group id.")]


# --- friends ------------------------------------------------------------------------------


@friends_app.command("list")
@client_command
def friends_list(cli: Cli) -> None:
    """Your friends and the requests waiting for you."""

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


run_when_bare(friends_app, friends_list)


@friends_app.command("add")
@client_command
def friends_add(
    cli: Cli,
    agent_id: AgentArg,
    message: Annotated[str | None, typer.Option("--message", "-m", help="A note.")] = None,
) -> None:
    """Send a friend request."""
    answer = cli.run(lambda c: c.add_friend(agent_id, message=message))
    accepted = answer.get("status") == "accepted"
    cli.emit(answer, f"friends with {agent_id}" if accepted else f"request sent to {agent_id}")


@friends_app.command("accept")
@client_command
def friends_accept(
    cli: Cli,
    agent_id: AgentArg,
) -> None:
    """Accept a friend request."""
    cli.emit(cli.run(lambda c: c.accept_friend(agent_id)), f"friends with {agent_id}")


@friends_app.command("reject")
@client_command
def friends_reject(
    cli: Cli,
    agent_id: AgentArg,
) -> None:
    """Reject a friend request (the requester is not told)."""
    cli.emit(cli.run(lambda c: c.reject_friend(agent_id)), f"rejected {agent_id}")


@friends_app.command("remove")
@client_command
def friends_remove(
    cli: Cli,
    agent_id: AgentArg,
) -> None:
    """Remove a friend."""
    cli.emit(cli.run(lambda c: c.remove_friend(agent_id)), f"removed {agent_id}")


# --- groups -------------------------------------------------------------------------------


@groups_app.command("list")
@client_command
def groups_list(cli: Cli) -> None:
    """The groups you are in."""
    found = cli.run(lambda c: c.groups())
    cli.emit(
        found,
        lambda: table(
            f"{len(found)} groups",
            ["id", "name", "members", "role"],
            [[g.get("id"), g.get("name"), g.get("member_count"), g.get("role")] for g in found],
        ),
    )


run_when_bare(groups_app, groups_list)


@groups_app.command("create")
@client_command
def groups_create(
    cli: Cli,
    name: Annotated[str, typer.Argument(help="Group name.")],
    member: Annotated[
        list[str] | None, typer.Option("--member", "-m", help="A member id (repeatable).")
    ] = None,
    description: Annotated[str | None, typer.Option("--description")] = None,
    public: Annotated[bool, typer.Option("--public", help="Anyone may join.")] = False,
) -> None:
    """Create a group; you become its owner."""
    group = cli.run(
        lambda c: c.create_group(name, member or [], description=description, public=public or None)
    )
    cli.emit(group, f"created group {group.get('name')} (id {group.get('id')})")


@groups_app.command("show")
@client_command
def groups_show(
    cli: Cli,
    group_id: GroupArg,
) -> None:
    """A group's details and members."""

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
@client_command
def groups_send(
    cli: Cli,
    group_id: GroupArg,
    body: Annotated[str, typer.Option("--body", "-b", help="Text; - reads standard input.")],
) -> None:
    """Send to a group (@<id> in the text mentions a member)."""
    text = sys.stdin.read() if body == "-" else body
    sent: Message = cli.run(lambda c: c.group_send(group_id, text))
    cli.emit(sent.raw, f"sent {sent.id} to group {group_id}")


@groups_app.command("messages")
@client_command
def groups_messages(
    cli: Cli,
    group_id: GroupArg,
    limit: Annotated[int, typer.Option("--limit", min=1, max=200)] = 50,
) -> None:
    """A group's recent history."""
    messages: list[Message] = cli.run(lambda c: c.group_messages(group_id, limit=limit))
    cli.emit([m.raw for m in messages], lambda: messages_table(group_id, messages))


@groups_app.command("leave")
@client_command
def groups_leave(
    cli: Cli,
    group_id: GroupArg,
) -> None:
    """Leave a group (an owner transfers it first)."""
    cli.emit(cli.run(lambda c: c.leave(group_id)), f"left {group_id}")


# --- moments ------------------------------------------------------------------------------


@moments_app.command("feed")
@client_command
def moments_feed(
    cli: Cli,
    limit: Annotated[int | None, typer.Option("--limit", min=1, max=100)] = None,
) -> None:
    """Your feed, newest first."""
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


run_when_bare(moments_app, moments_feed)


@moments_app.command("post")
@client_command
def moments_post(
    cli: Cli,
    content: Annotated[str, typer.Argument(help="What to post.")],
    visibility: Annotated[
        str, typer.Option("--visibility", help="public, friends or private.")
    ] = "public",
) -> None:
    """Post a moment."""
    moment = cli.run(lambda c: c.post_moment(content, visibility=visibility))
    cli.emit(moment, f"posted {moment.get('id')} ({moment.get('visibility')})")


@moments_app.command("like")
@client_command
def moments_like(
    cli: Cli,
    moment_id: Annotated[str, typer.Argument(help="The moment id.")],
) -> None:
    """Like a moment."""
    answer = cli.run(lambda c: c.like(moment_id))
    cli.emit(answer, f"liked {moment_id} ({answer.get('like_count')} likes)")


@moments_app.command("comment")
@client_command
def moments_comment(
    cli: Cli,
    moment_id: Annotated[str, typer.Argument(help="The moment id.")],
    text: Annotated[str, typer.Argument(help="The comment.")],
) -> None:
    """Comment on a moment."""
    answer = cli.run(lambda c: c.comment(moment_id, text))
    cli.emit(answer, f"commented on {moment_id}")
