"""Files over HTTP: upload, download, info, delete, avatars, and who may download what."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.helpers import assert_error, assert_no_server_errors, send
from tests.conftest import register

if TYPE_CHECKING:
    from tests.conftest import TestAgent
    from tests.server import ServerProcess

FILE_ID = re.compile(r"^f_[0-9A-HJKMNP-TV-Z]{26}$")
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4
GIF = b"GIF89a\x01\x00\x01\x00" + bytes(64)
UPLOAD_KEYS = {"id", "url", "name", "content_type", "size", "sha256", "created_at"}


async def upload(
    client: httpx.AsyncClient,
    agent: TestAgent,
    data: bytes,
    name: str = "cat.png",
    field: str = "file",
    declared_type: str = "application/octet-stream",
) -> httpx.Response:
    return await client.post(
        "/v1/files/upload", headers=agent.headers, files={field: (name, data, declared_type)}
    )


async def uploaded(
    client: httpx.AsyncClient, agent: TestAgent, data: bytes, name: str = "cat.png"
) -> dict[str, Any]:
    response = await upload(client, agent, data, name)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def image_body(url: str) -> str:
    return json.dumps({"url": url, "width": 16, "height": 16})


# --- upload ----------------------------------------------------------------------------------


async def test_upload_returns_the_file_with_an_absolute_url(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent
) -> None:
    response = await upload(client, alice, PNG, "cat.png", declared_type="text/html")
    assert response.status_code == 201, response.text
    data = response.json()
    assert set(data) >= UPLOAD_KEYS
    assert FILE_ID.match(data["id"]), data["id"]
    assert data["url"] == f"{server.url}/v1/files/{data['id']}"
    assert data["name"] == "cat.png"
    assert data["content_type"] == "image/png"  # from the bytes, not the declared text/html
    assert data["size"] == len(PNG)
    assert data["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert data["created_at"].endswith("Z")
    assert data["public"] is False


@pytest.mark.parametrize("field", ["file", "image"])
async def test_upload_accepts_the_documented_field_names(
    client: httpx.AsyncClient, alice: TestAgent, field: str
) -> None:
    response = await upload(client, alice, b"hello", "a.txt", field=field)
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == "text/plain; charset=utf-8"


async def test_upload_sniffs_the_type_and_sanitizes_the_name(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    data = await uploaded(client, alice, b"not an image at all", "../../secret/evil.png")
    assert data["content_type"] == "text/plain; charset=utf-8"
    assert data["name"] == "evil.png"
    data = await uploaded(client, alice, b"\x00\x01\x02\x03", "blob.bin")
    assert data["content_type"] == "application/octet-stream"


async def test_a_large_upload_streams_through_intact(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    blob = os.urandom(3 * 1024 * 1024 + 17)  # past the sniff window and the 1 MiB spool
    data = await uploaded(client, alice, blob, "random.bin")
    assert data["size"] == len(blob)
    assert data["sha256"] == hashlib.sha256(blob).hexdigest()
    response = await client.get(f"/v1/files/{data['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.content == blob


async def test_upload_refuses_bad_requests(client: httpx.AsyncClient, alice: TestAgent) -> None:
    assert_error(await upload(client, alice, b"", "empty.txt"), 400, "validation_error")
    assert_error(await upload(client, alice, b"x", field="other"), 400, "validation_error")
    response = await client.post("/v1/files/upload", headers=alice.headers, json={"file": "x"})
    assert_error(response, 400, "validation_error")
    response = await client.post(
        "/v1/files/upload",
        headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=zzz"},
        content=b"--zzz\r\nnonsense",
    )
    assert response.status_code in (400, 400), response.text
    assert_error(response, response.status_code)


async def test_upload_and_avatar_need_a_key(client: httpx.AsyncClient) -> None:
    files = {"file": ("cat.png", PNG, "image/png")}
    assert_error(await client.post("/v1/files/upload", files=files), 401, "unauthenticated")
    assert_error(await client.post("/v1/agents/avatar", files=files), 401, "unauthenticated")
    bad = {"Authorization": "Bearer am_wrong"}
    response = await client.post("/v1/files/upload", files=files, headers=bad)
    assert_error(response, 401, "invalid_credentials")


# --- download and info -----------------------------------------------------------------------


async def test_owner_downloads_with_safe_headers(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    data = await uploaded(client, alice, PNG, "cat.png")
    response = await client.get(f"/v1/files/{data['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-length"] == str(len(PNG))
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["etag"] == f'"{data["sha256"]}"'
    assert response.headers["content-disposition"].startswith("inline;")

    cached = await client.get(
        f"/v1/files/{data['id']}",
        headers={**alice.headers, "If-None-Match": response.headers["etag"]},
    )
    assert cached.status_code == 304
    assert cached.content == b""


async def test_non_images_download_as_attachments(
    client: httpx.AsyncClient, alice: TestAgent
) -> None:
    page = b"<html><script>alert(1)</script></html>"
    data = await uploaded(client, alice, page, "page.html")
    response = await client.get(f"/v1/files/{data['id']}", headers=alice.headers)
    assert response.status_code == 200
    assert response.content == page
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="page.html"')


async def test_info_returns_the_metadata(client: httpx.AsyncClient, alice: TestAgent) -> None:
    data = await uploaded(client, alice, b'{"k": 1}', "data.json")
    response = await client.get(f"/v1/files/{data['id']}/info", headers=alice.headers)
    assert response.status_code == 200, response.text
    info = response.json()
    assert info == data
    assert info["content_type"] == "application/json"
    assert info["owner_id"] == alice.id


async def test_another_accounts_private_file_is_not_found(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    data = await uploaded(client, alice, PNG)
    for path in (f"/v1/files/{data['id']}", f"/v1/files/{data['id']}/info"):
        assert_error(await client.get(path, headers=bob.headers), 404, "file_not_found")
        # Without credentials a private file asks for them, whether or not it exists.
        assert_error(await client.get(path), 401, "unauthenticated")
    missing = "f_" + "0" * 26
    assert_error(await client.get(f"/v1/files/{missing}"), 401, "unauthenticated")


async def test_bad_file_ids(client: httpx.AsyncClient, alice: TestAgent) -> None:
    for bad in ("nope", "f_" + "0" * 26, "m_01HV0000000000000000000000", "f_..%5C..%5Cetc"):
        response = await client.get(f"/v1/files/{bad}", headers=alice.headers)
        assert_error(response, 404, "file_not_found")
    # An encoded slash makes another path, which no route serves.
    assert_error(await client.get("/v1/files/f_..%2F..%2Fetc", headers=alice.headers), 404)
    response = await client.get("/v1/files/" + "f" * 200, headers=alice.headers)
    assert_error(response, 400, "validation_error")


async def test_delete(client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent) -> None:
    data = await uploaded(client, alice, PNG)
    path = f"/v1/files/{data['id']}"
    assert_error(await client.delete(path, headers=bob.headers), 404, "file_not_found")
    assert (await client.delete(path, headers=alice.headers)).status_code == 204
    assert_error(await client.get(path, headers=alice.headers), 404, "file_not_found")
    assert_error(await client.delete(path, headers=alice.headers), 404, "file_not_found")


# --- sharing through image messages ----------------------------------------------------------


async def test_an_image_message_lets_its_recipient_download(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    data = await uploaded(client, alice, PNG)
    path = f"/v1/files/{data['id']}"
    assert_error(await client.get(path, headers=bob.headers), 404, "file_not_found")

    await send(client, alice, bob.id, image_body(data["url"]), fmt="image")

    response = await client.get(path, headers=bob.headers)
    assert response.status_code == 200
    assert response.content == PNG
    assert (await client.get(path + "/info", headers=bob.headers)).status_code == 200
    assert_error(await client.get(path, headers=carol.headers), 404, "file_not_found")


async def test_nobody_can_share_a_file_they_cannot_read(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, bob: TestAgent
) -> None:
    offset = len(server.log())
    carol = await register(client)
    data = await uploaded(client, alice, PNG)
    response = await client.post(
        "/v1/messages",
        headers=carol.headers,
        json={"to": bob.id, "content": {"format": "image", "body": image_body(data["url"])}},
    )
    assert_error(response, 403, "forbidden")
    for reader in (bob, carol):
        response = await client.get(f"/v1/files/{data['id']}", headers=reader.headers)
        assert_error(response, 404, "file_not_found")
    assert_no_server_errors(server, offset)


async def test_a_recipient_may_forward_but_not_grant(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    carol = await register(client)
    data = await uploaded(client, alice, PNG)
    await send(client, alice, bob.id, image_body(data["url"]), fmt="image")
    # Bob may read it, so the message goes through; only the owner's sends grant access.
    await send(client, bob, carol.id, image_body(data["url"]), fmt="image")
    response = await client.get(f"/v1/files/{data['id']}", headers=carol.headers)
    assert_error(response, 404, "file_not_found")


async def test_image_urls_elsewhere_are_untouched(
    client: httpx.AsyncClient, alice: TestAgent, bob: TestAgent
) -> None:
    unknown = "https://other.example/v1/files/f_" + "1" * 26
    sent = await send(client, alice, bob.id, image_body(unknown), fmt="image")
    assert json.loads(sent["content"]["body"])["url"] == unknown


# --- avatars ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("image", "field"), [(PNG, "file"), (JPEG, "avatar")])
async def test_avatar_upload_sets_a_public_avatar_url(
    client: httpx.AsyncClient, server: ServerProcess, alice: TestAgent, image: bytes, field: str
) -> None:
    response = await client.post(
        "/v1/agents/avatar", headers=alice.headers, files={field: ("me.bin", image, "x/y")}
    )
    assert response.status_code == 200, response.text
    profile = response.json()
    assert profile["id"] == alice.id
    url = profile["avatar_url"]
    assert url.startswith(f"{server.url}/v1/files/f_"), url
    me = await client.get("/v1/agents/me", headers=alice.headers)
    assert me.json()["avatar_url"] == url
    # Public: anyone, even without a key (an <img> sends none), may fetch it.
    anonymous = await client.get(url)
    assert anonymous.status_code == 200
    assert anonymous.content == image
    assert anonymous.headers["content-type"] in ("image/png", "image/jpeg")


@pytest.mark.parametrize(
    ("data", "name"),
    [(b"this is text, not a picture", "face.png"), (GIF, "face.gif"), (b"%PDF-1.4", "a.jpg")],
)
async def test_avatar_must_be_jpeg_or_png_by_its_bytes(
    client: httpx.AsyncClient, alice: TestAgent, data: bytes, name: str
) -> None:
    response = await client.post(
        "/v1/agents/avatar", headers=alice.headers, files={"file": (name, data, "image/png")}
    )
    assert_error(response, 400, "unsupported_media_type")
    me = await client.get("/v1/agents/me", headers=alice.headers)
    assert me.json()["avatar_url"] == ""


# --- size limits -----------------------------------------------------------------------------


async def test_configured_limits_and_public_url(
    server_factory: Callable[..., ServerProcess],
) -> None:
    srv = server_factory(
        {
            "AGENTPLAZA_PUBLIC_URL": "https://plaza.example/",
            "AGENTPLAZA_MAX_UPLOAD_BYTES": "2000",
            "AGENTPLAZA_MAX_AVATAR_BYTES": "1000",
            "AGENTPLAZA_MAX_BODY_BYTES": "4096",
        }
    )
    offset = len(srv.log())
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice = await register(client)
        response = await upload(client, alice, b"a" * 2000, "ok.txt")
        assert response.status_code == 201, response.text
        assert response.json()["url"] == f"https://plaza.example/v1/files/{response.json()['id']}"
        # Over the file cap, within the body cap: the upload itself stops at the cap.
        assert_error(await upload(client, alice, b"a" * 2001, "big.txt"), 413, "payload_too_large")
        # Over the upload route's body cap (file + framing): refused before it is read.
        response = await upload(client, alice, b"a" * 40_000, "huge.txt")
        assert_error(response, 413, "payload_too_large")

        # Chunked, so no Content-Length to refuse up front: cut off as the bytes arrive.
        response = await client.post(
            "/v1/files/upload",
            headers={**alice.headers, "Content-Type": "multipart/form-data; boundary=b0undary"},
            content=_chunked_multipart(b"a" * 40_000, boundary=b"b0undary"),
        )
        assert_error(response, 413, "payload_too_large")

        big_png = PNG + bytes(1000)
        response = await client.post(
            "/v1/agents/avatar", headers=alice.headers, files={"file": ("a.png", big_png, "")}
        )
        assert_error(response, 413, "payload_too_large")
        # Other routes keep max_body_bytes although uploads may be larger.
        response = await client.post(
            "/v1/messages",
            headers=alice.headers,
            json={"to": alice.id, "content": {"body": "x" * 5000}},
        )
        assert_error(response, 413, "payload_too_large")
    assert_no_server_errors(srv, offset)


async def _chunked_multipart(data: bytes, *, boundary: bytes) -> AsyncIterator[bytes]:
    yield (
        b"--" + boundary + b"\r\n"
        b'Content-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        b"Content-Type: application/octet-stream\r\n\r\n"
    )
    for start in range(0, len(data), 4096):
        yield data[start : start + 4096]
    yield b"\r\n--" + boundary + b"--\r\n"


async def test_files_of_one_account_are_capped_by_the_quota(
    server_factory: Callable[..., ServerProcess],
) -> None:
    """`file_quota_bytes` caps the total size of an account's live files (avatars count);
    deleting one makes room again; another account has a quota of its own."""
    srv = server_factory(
        {"AGENTPLAZA_RATE_LIMITS_ENABLED": "0", "AGENTPLAZA_FILE_QUOTA_BYTES": "5000"}
    )
    offset = len(srv.log())
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as client:
        alice, bob = await register(client), await register(client)
        first = await upload(client, alice, b"a" * 2000, "one.txt")
        assert first.status_code == 201, first.text
        avatar = await client.post(
            "/v1/agents/avatar", headers=alice.headers, files={"file": ("a.png", PNG, "")}
        )
        assert avatar.status_code == 200, avatar.text
        room = 5000 - 2000 - len(PNG)
        over = await upload(client, alice, b"b" * 2000, "two.txt")
        body = assert_error(over, 413, "quota_exceeded")
        assert "5000" in body["detail"]
        assert (await upload(client, alice, b"c" * room, "fits.txt")).status_code == 201
        # Full to the byte: even one more byte is refused before the upload is read.
        assert_error(await upload(client, alice, b"d", "one-more.txt"), 413, "quota_exceeded")

        assert_error(await upload(client, bob, b"e" * 5001, "bob.txt"), 413, "quota_exceeded")
        assert (await upload(client, bob, b"e" * 5000, "bob.txt")).status_code == 201

        deleted = await client.delete(f"/v1/files/{first.json()['id']}", headers=alice.headers)
        assert deleted.status_code == 204
        again = await upload(client, alice, b"b" * 2000, "two.txt")
        assert again.status_code == 201, again.text
    assert_no_server_errors(srv, offset)
