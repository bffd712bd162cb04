"""The `agentplaza` client commands, run through the installed entry point against a real
server, with HOME and the config dir in a temporary directory."""

from __future__ import annotations

import json
import stat
import subprocess
from typing import TYPE_CHECKING

import httpx

from tests.api.helpers import send
from tests.client.conftest import CliRunner
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:
    from tests.conftest import TestAgent


def _register(cli: CliRunner, server: ServerProcess, profile: str = "default") -> dict[str, str]:
    name = unique_name("cli")
    out = cli.json("register", "--name", name, "--bio", "made by a test", "-p", profile,
                   "--server", server.url)  # fmt: skip
    assert out["display_name"] == name and out["api_key"].startswith("am_")
    return out  # type: ignore[no-any-return]


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The whole stderr, checked to be one `error:` line (never a traceback)."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


async def test_register_saves_the_key_privately_and_whoami_uses_it(
    cli: CliRunner, server: ServerProcess
) -> None:
    me = _register(cli, server)
    mode = stat.S_IMODE(cli.config_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(cli.config_file.parent.stat().st_mode) == 0o700
    saved = json.loads(cli.config_file.read_text())["profiles"]["default"]
    assert saved["api_key"] == me["api_key"] and saved["server"] == server.url
    # No --server: the profile remembers where the account lives.
    who = cli.json("whoami")
    assert who["id"] == me["id"] and who["key_source"] == "profile default"
    assert me["display_name"] in cli.ok("whoami")

    # A second registration into the same profile would lose the first key: refused.
    again = cli.run("register", "--name", unique_name("cli"), "--server", server.url)
    assert again.returncode == 2 and "already holds the key" in _error_line(again)


async def test_profiles_and_the_environment_key(
    cli: CliRunner, server: ServerProcess, alice: TestAgent
) -> None:
    mine = _register(cli, server, "work")
    assert cli.json("whoami", "-p", "work")["id"] == mine["id"]
    # AGENTPLAZA_API_KEY wins over the saved key; AGENTPLAZA_PROFILE picks a profile.
    env = {"AGENTPLAZA_API_KEY": alice.api_key, "AGENTPLAZA_PROFILE": "work"}
    who = cli.json("whoami", env=env)
    assert who["id"] == alice.id and who["key_source"] == "env AGENTPLAZA_API_KEY"
    # A profile that does not exist has no key: exit 3.
    done = cli.run("whoami", "-p", "nobody", "--server", server.url)
    assert done.returncode == 3 and "no API key" in _error_line(done)


async def test_config_readable_by_others_is_refused(cli: CliRunner, server: ServerProcess) -> None:
    _register(cli, server)
    cli.config_file.chmod(0o644)
    done = cli.run("whoami")
    assert done.returncode == 2 and "chmod 600" in _error_line(done)


async def test_send_listen_and_threads(
    cli: CliRunner, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    a = _register(cli, server, "a")
    b = _register(cli, server, "b")
    sent = cli.json("send", "--to", b["id"], "--body", "hello from the cli", "-p", "a")
    assert sent["content"]["body"] == "hello from the cli"
    assert cli.ok("send", "--to", b["id"], "--body", "-", "-p", "a", input="from stdin\n")

    # listen prints the unacked backlog; without --ack nothing is consumed.
    out = cli.ok("listen", "-p", "b", "--count", "2", "--timeout", "20", "--json")
    got = [json.loads(line) for line in out.splitlines()]
    assert [m["content"]["body"] for m in got] == ["hello from the cli", "from stdin\n"]
    assert all(m["from"] == a["id"] for m in got)
    human = cli.ok("listen", "-p", "b", "--count", "1", "--timeout", "20")
    assert f"from {a['id']}" in human and "hello from the cli" in human

    # --ack consumes: afterwards nothing is pending.
    cli.ok("listen", "-p", "b", "--count", "2", "--ack", "--timeout", "20")
    pending = await client.get(
        "/v1/messages/pending", headers={"Authorization": f"Bearer {b['api_key']}"}
    )
    assert pending.json() == []

    # A message sent while listening arrives live.
    listener = cli.popen("listen", "-p", "b", "--count", "1", "--timeout", "30", "--json")
    try:
        cli.ok("send", "--to", b["id"], "--body", "live one", "-p", "a")
        out, err = listener.communicate(timeout=40)
    finally:
        listener.kill()
    assert listener.returncode == 0, err
    assert json.loads(out)["content"]["body"] == "live one"

    threads = cli.json("threads", "-p", "a")
    assert len(threads) == 1 and threads[0]["peer_id"] == b["id"]
    history = cli.json("threads", threads[0]["thread_id"], "-p", "b")
    assert [m["content"]["body"] for m in history][-1] == "live one"
    assert "live one" in cli.ok("threads", "-p", "a")


async def test_search_needs_no_key(cli: CliRunner, server: ServerProcess) -> None:
    me = _register(cli, server)
    found = cli.json("search", me["display_name"], "--server", server.url, "-p", "nobody")
    assert [a["id"] for a in found] == [me["id"]]
    assert me["display_name"] in cli.ok("search", me["display_name"])


async def test_friends_groups_and_moments(cli: CliRunner, server: ServerProcess) -> None:
    a = _register(cli, server, "a")
    b = _register(cli, server, "b")
    assert "request sent" in cli.ok("friends", "add", b["id"], "-m", "hi", "-p", "a")
    waiting = cli.json("friends", "-p", "b")
    assert [r["requester"] for r in waiting["received"]] == [a["id"]]
    cli.ok("friends", "accept", a["id"], "-p", "b")
    assert [f["id"] for f in cli.json("friends", "list", "-p", "a")["friends"]] == [b["id"]]

    group = cli.json("groups", "create", "crew", "-m", b["id"], "-p", "a")
    assert group["name"] == "crew"
    assert [g["id"] for g in cli.json("groups", "-p", "b")] == [group["id"]]
    shown = cli.json("groups", "show", group["id"], "-p", "b")
    assert {m["id"] for m in shown["members"]} == {a["id"], b["id"]}
    cli.ok("groups", "send", group["id"], "--body", "hello crew", "-p", "b")
    history = cli.json("groups", "messages", group["id"], "-p", "a")
    assert history[-1]["content"]["body"] == "hello crew"

    moment = cli.json("moments", "post", "shipped it", "-p", "a")
    assert moment["visibility"] == "public"
    assert cli.json("moments", "like", moment["id"], "-p", "b")["like_count"] == 1
    cli.ok("moments", "comment", moment["id"], "well done", "-p", "b")
    feed = cli.json("moments", "-p", "b")
    assert feed["moments"][0]["id"] == moment["id"]
    assert feed["moments"][0]["comment_count"] == 1
    assert "shipped it" in cli.ok("moments", "feed", "-p", "a")

    cli.ok("groups", "leave", group["id"], "-p", "b")
    assert cli.json("groups", "-p", "b") == []
    cli.ok("friends", "remove", b["id"], "-p", "a")
    assert cli.json("friends", "-p", "b")["friends"] == []


async def test_keys_rotate_saves_the_new_key(cli: CliRunner, server: ServerProcess) -> None:
    me = _register(cli, server)
    rotated = cli.json("keys", "rotate")
    assert rotated["api_key"] != me["api_key"]
    assert cli.json("whoami")["id"] == me["id"]  # the saved key is the new one
    done = cli.run("whoami", env={"AGENTPLAZA_API_KEY": me["api_key"]})
    assert done.returncode == 3 and "401" in _error_line(done)


async def test_exit_codes_and_one_line_errors(
    cli: CliRunner, server: ServerProcess, tmp_path: object
) -> None:
    _register(cli, server)
    unknown = cli.run("send", "--to", "99999999", "--body", "x")
    assert unknown.returncode == 4 and "not" in _error_line(unknown)
    bad = cli.run("moments", "post", "x", "--visibility", "everyone")
    assert bad.returncode == 1 and _error_line(bad)
    unreachable = cli.run("whoami", "--server", "http://127.0.0.1:9")
    assert unreachable.returncode == 5 and "127.0.0.1:9" in _error_line(unreachable)
    usage = cli.run("send", "--to", "1")
    assert usage.returncode == 2 and "--body" in _error_line(usage)
    as_json = cli.run("send", "--to", "99999999", "--body", "x", "--json")
    assert as_json.returncode == 4
    assert json.loads(as_json.stderr)["status"] == 404


async def test_server_commands_still_answer(cli: CliRunner) -> None:
    settings = json.loads(cli.ok("settings"))
    assert "port" in settings
    assert "serve" in cli.ok("--help") and "register" in cli.ok("--help")


async def test_register_then_other_agent_messages(
    cli: CliRunner, server: ServerProcess, client: httpx.AsyncClient
) -> None:
    """Interop: an account made by the CLI talks with one made over plain HTTP."""
    me = _register(cli, server)
    other = await register(client)
    await send(client, other, me["id"], "ping", "text")
    out = cli.ok("listen", "--count", "1", "--timeout", "20", "--json")
    assert json.loads(out)["from"] == other.id
