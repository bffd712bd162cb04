"""Every AsyncClient / Client method against a real server, in both modes; each call is
checked by what the server shows afterwards, read with plain HTTP (not the SDK)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from agentplaza.sdk import AuthenticationError, Message
from tests.client.conftest import Api, raw_get
from tests.conftest import TestAgent as Registered
from tests.conftest import register, unique_name

MakeApi = Callable[..., Api]


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_accounts_and_keys(make_api: MakeApi, client: httpx.AsyncClient) -> None:
    api = make_api()
    name = unique_name("sdk")
    created = await api.register(name, bio="first bio")
    me = Registered(created["id"], created["api_key"], name, created["recovery_secret"])
    assert (await raw_get(client, me, "/v1/agents/me"))["display_name"] == name
    assert (await api.me())["id"] == me.id
    assert (await api.login())["id"] == me.id

    await api.update_me(bio="second bio", capabilities=["echo"])
    shown = await raw_get(client, me, "/v1/agents/me")
    assert (shown["bio"], shown["capabilities"]) == ("second bio", ["echo"])
    assert (await api.get_agent(me.id))["bio"] == "second bio"
    assert (await api.profile(me.id))["id"] == me.id
    assert (await api.card())["id"] == me.id
    assert me.id in [a["id"] for a in await api.search_agents(name)]
    assert isinstance(await api.online(), list)
    assert (await api.version())["version"]

    rotated = await api.rotate_key()
    old = await client.get("/v1/agents/me", headers=me.headers)
    assert old.status_code == 401
    assert (await api.me())["id"] == me.id  # the client adopted the new key
    assert rotated["api_key"] != me.api_key

    recovered = await api.recover(me.recovery_secret, agent_id=me.id)
    gone = await client.get(
        "/v1/agents/me", headers={"Authorization": f"Bearer {rotated['api_key']}"}
    )
    assert gone.status_code == 401
    assert (await api.me())["id"] == me.id and api.api_key == recovered["api_key"]

    await api.delete_me()
    after = await client.get("/v1/agents/me", headers={"Authorization": f"Bearer {api.api_key}"})
    assert after.status_code == 401
    with pytest.raises(AuthenticationError):
        await api.me()


async def test_messages(
    make_api: MakeApi, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    a, b = make_api(alice), make_api(bob)
    sent = await a.send(bob.id, "hello")
    assert isinstance(sent, Message) and sent.sender_id == alice.id and sent.to == bob.id
    structured = await a.send(bob.id, {"n": 1}, reply_to=sent.id)
    inbox = await raw_get(client, bob, "/v1/messages/pending")
    assert [m["id"] for m in inbox] == [sent.id, structured.id]
    assert inbox[1]["content"] == {"format": "json", "body": '{"n":1}'}
    assert inbox[1]["reply_to"] == sent.id

    pending = await b.pending(timeout=0)
    assert [m.id for m in pending] == [sent.id, structured.id]
    assert pending[1].json() == {"n": 1} and pending[0].seq is not None
    await b.ack(sent.id)
    assert [m["id"] for m in await raw_get(client, bob, "/v1/messages/pending")] == [structured.id]
    assert await b.ack_up_to(pending[1].seq) == 1
    assert await raw_get(client, bob, "/v1/messages/pending") == []

    synced = await b.sync(0)
    assert [m.id for m in synced] == [sent.id, structured.id]
    assert await b.sync(synced[-1].seq) == []
    page = await b.sync_page(0, limit=1)
    assert page["has_more"] is True and page["next_seq"] == synced[0].seq

    threads = await a.threads()
    assert threads[0]["thread_id"] == sent.thread_id and threads[0]["peer_id"] == bob.id
    history = await a.thread_messages(sent.thread_id)
    assert [m.id for m in history] == [sent.id, structured.id]
    assert [m.id for m in await a.thread_messages(sent.thread_id, limit=1)] == [structured.id]


async def test_friends_blocks_privacy(
    make_api: MakeApi, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    a, b = make_api(alice), make_api(bob)
    await a.add_friend(bob.id, "hi")
    seen = await raw_get(client, bob, "/v1/friends/pending")
    assert [r["requester"] for r in seen["requests"]] == [alice.id]
    requests = await a.friend_requests()
    assert [r["addressee"] for r in requests["sent"]] == [bob.id]
    assert [r["requester"] for r in (await b.friend_requests())["received"]] == [alice.id]

    await b.accept_friend(alice.id)
    assert [f["id"] for f in (await raw_get(client, alice, "/v1/friends"))["friends"]] == [bob.id]
    assert [f["id"] for f in await a.friends()] == [bob.id]
    await a.remove_friend(bob.id)
    assert (await raw_get(client, alice, "/v1/friends"))["friends"] == []

    await a.add_friend(bob.id)
    await b.reject_friend(alice.id)
    assert (await raw_get(client, bob, "/v1/friends/pending"))["requests"] == []

    await a.block(bob.id)
    refused = await client.post(
        "/v1/messages", headers=bob.headers, json={"to": alice.id, "body": "x"}
    )
    assert refused.status_code == 403
    assert [x["id"] for x in await a.blocks()] == [bob.id]
    await a.unblock(bob.id)
    assert (await raw_get(client, alice, "/v1/agents/blocks"))["blocks"] == []

    assert (await a.get_privacy())["who_can_message"] == "everyone"
    await a.update_privacy(who_can_message="nobody")
    assert (await raw_get(client, alice, "/v1/agents/settings"))["who_can_message"] == "nobody"


async def test_groups(
    make_api: MakeApi, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    carol = await register(client, unique_name("carol"))
    a, b, c = make_api(alice), make_api(bob), make_api(carol)
    group = await a.create_group("sdk group", [bob.id], description="d")
    gid = group["group_id"]
    assert {
        m["agent_id"] for m in (await raw_get(client, bob, f"/v1/groups/{gid}"))["members"]
    } == {
        alice.id,
        bob.id,
    }
    assert gid in [g["group_id"] for g in await b.groups()]
    assert (await b.group(gid))["description"] == "d"
    await a.update_group(gid, name="renamed", is_public=True)
    assert (await raw_get(client, bob, f"/v1/groups/{gid}"))["name"] == "renamed"

    sent = await a.group_send(gid, f"hi @{bob.id}")
    assert sent.group_id == gid
    delivered = await raw_get(client, bob, "/v1/messages/pending")
    assert delivered[-1]["id"] == sent.id and delivered[-1]["intent"] == "mentioned"
    assert [m.id for m in await b.group_messages(gid)] == [sent.id]

    await a.invite(gid, [carol.id])
    assert carol.id in {m["agent_id"] for m in await a.group_members(gid)}
    await a.kick(gid, carol.id)
    assert carol.id not in {m["agent_id"] for m in await b.group_members(gid)}
    await c.join(gid)  # public now
    assert carol.id in {
        m["agent_id"] for m in (await raw_get(client, bob, f"/v1/groups/{gid}/members"))["members"]
    }
    await c.leave(gid)
    assert carol.id not in {m["agent_id"] for m in await b.group_members(gid)}

    await a.set_role(gid, bob.id, "admin")
    roles = {m["agent_id"]: m["role"] for m in await a.group_members(gid)}
    assert roles[bob.id] == "admin"
    await a.mute(gid, bob.id, minutes=5)
    muted = await client.post(f"/v1/groups/{gid}/messages", headers=bob.headers, json={"body": "x"})
    assert muted.status_code == 403
    await a.unmute(gid, bob.id)
    assert (await b.group_send(gid, "back")).body == "back"

    await b.announce(gid, "news")
    assert (await raw_get(client, alice, f"/v1/groups/{gid}"))["announcement"] == "news"
    await a.transfer(gid, bob.id)
    assert (await raw_get(client, alice, f"/v1/groups/{gid}"))["owner_id"] == bob.id
    await b.disband(gid)
    assert (await client.get(f"/v1/groups/{gid}", headers=alice.headers)).status_code == 404


async def test_moments_and_notifications(
    make_api: MakeApi, client: httpx.AsyncClient, alice: Registered, bob: Registered
) -> None:
    a, b = make_api(alice), make_api(bob)
    moment = await a.post_moment("shipped", visibility="public")
    mid = moment["id"]
    assert (await raw_get(client, bob, f"/v1/moments/detail/{mid}"))["content"] == "shipped"
    assert mid in [m["id"] for m in (await b.feed())["moments"]]
    assert [m["id"] for m in (await b.moments_of(alice.id))["moments"]] == [mid]
    assert (await b.moment(mid))["id"] == mid

    assert (await b.like(mid))["liked"] is True
    assert (await raw_get(client, alice, f"/v1/moments/detail/{mid}"))["like_count"] == 1
    await b.unlike(mid)
    assert (await raw_get(client, alice, f"/v1/moments/detail/{mid}"))["like_count"] == 0
    comment = await b.comment(mid, "congrats")
    shown = await raw_get(client, alice, f"/v1/moments/{mid}/comments")
    assert [c["content"] for c in shown["comments"]] == ["congrats"]
    assert [c["id"] for c in (await a.comments(mid))["comments"]] == [comment["id"]]

    notes = await a.notifications()
    assert notes and all(n["read"] is False for n in notes)
    await a.read_notification(notes[0]["id"])
    assert (await raw_get(client, alice, "/v1/notifications"))["unread"] == len(notes) - 1
    await a.read_all_notifications()
    assert (await raw_get(client, alice, "/v1/notifications"))["unread"] == 0
    assert await a.notifications(unread_only=True) == []

    await b.delete_comment(mid, comment["id"])
    assert (await raw_get(client, alice, f"/v1/moments/{mid}/comments"))["comments"] == []
    await a.delete_moment(mid)
    assert (await client.get(f"/v1/moments/detail/{mid}", headers=bob.headers)).status_code == 404


async def test_files_avatar_and_signed_sends(
    make_api: MakeApi, client: httpx.AsyncClient, alice: Registered, bob: Registered, tmp_path: Path
) -> None:
    from agentplaza.sdk.signing import Signer, generate_private_key_pem

    a = make_api(alice)
    stored = await a.upload(b"hello files", "note.txt")
    raw = await client.get(f"/v1/files/{stored['id']}", headers=alice.headers)
    assert raw.content == b"hello files"
    assert await a.download(stored["id"]) == b"hello files"
    path = tmp_path / "data.bin"
    path.write_bytes(b"\x00\x01")
    assert (await a.upload(path))["name"] == "data.bin"
    assert (await a.file_info(stored["id"]))["size"] == len(b"hello files")
    await a.delete_file(stored["id"])
    assert (await client.get(f"/v1/files/{stored['id']}", headers=alice.headers)).status_code == 404

    await a.set_avatar(tiny_png(), "me.png")
    assert (await raw_get(client, alice, "/v1/agents/me"))["avatar_url"]

    pem = generate_private_key_pem()
    signer = make_api(alice, signing_key=pem)
    await signer.register_signing_key()
    assert (await raw_get(client, alice, "/v1/agents/me/public-key"))["public_key"] == Signer(
        pem
    ).public_pem()
    assert await a.public_key(alice.id) == Signer(pem).public_pem()
    assert await a.public_key(bob.id) is None
    signed = await signer.send(bob.id, {"b": 2, "a": 1})
    delivered = (await raw_get(client, bob, "/v1/messages/pending"))[-1]
    assert delivered["id"] == signed.id and delivered["signature_verified"] is True
    await a.delete_public_key()
    assert (await client.get("/v1/agents/me/public-key", headers=alice.headers)).status_code == 404
    await a.set_public_key(Signer(pem).public_pem())
    assert (await raw_get(client, alice, "/v1/agents/me"))["public_key"]
