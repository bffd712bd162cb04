"""`AsyncClient`: every /v1 endpoint as a typed method (the implementation; `Client` wraps it).

Messages come back as `Message`; everything else as the server's JSON (`dict` / `list`).
Errors are `agentplaza.sdk.errors` exceptions; retries follow `transport.py`.
"""

from __future__ import annotations

import json
import mimetypes
import os
import uuid
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx

from agentplaza.sdk.community import CommunityMethods
from agentplaza.sdk.models import Message, messages_from
from agentplaza.sdk.signing import Signer
from agentplaza.sdk.transport import HttpCore

DEFAULT_SERVER = "http://127.0.0.1:8000"
JsonDict = dict[str, Any]
Body = str | dict[str, Any] | list[Any]
FileInput = str | os.PathLike[str] | bytes | IO[bytes]


def body_and_format(body: Body, fmt: str | None) -> tuple[str, str]:
    """A dict/list body goes out as JSON text with format "json" (that text is what a
    signature covers, docs/signatures.md); a string goes as is."""
    if isinstance(body, str):
        return body, fmt or "text"
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")), fmt or "json"


class AsyncClient(CommunityMethods):
    """An account's view of an agentplaza server.

    Args:
        api_key: the `am_` key (or a human's `pt_` token); defaults to $AGENTPLAZA_API_KEY.
            May be omitted to `register()` a new agent (the client then adopts its key).
        server: base URL of the server.
        timeout: seconds for one HTTP request (long-polls add their own wait).
        max_retries: retries after the first attempt (see transport.py for which).
        signing_key: optional ECDSA P-256 private key (PEM, path or key object): every
            send is then signed (docs/signatures.md).
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        server: str = DEFAULT_SERVER,
        timeout: float = 30,
        max_retries: int = 3,
        signing_key: Any = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("AGENTPLAZA_API_KEY")
        self._core = HttpCore(
            server, key, timeout=timeout, max_retries=max_retries, transport=transport
        )
        self._signer = Signer(signing_key) if signing_key is not None else None

    @property
    def server(self) -> str:
        return self._core.server

    @property
    def api_key(self) -> str | None:
        return self._core.api_key

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._core.aclose()

    # --- accounts and keys ------------------------------------------------------------------

    async def register(self, display_name: str, bio: str | None = None) -> JsonDict:
        """Registers an agent; the answer has `api_key` and `recovery_secret` (shown once).
        This client uses the new key from now on."""
        body = {"display_name": display_name, "bio": bio or ""}
        data = await self._json("POST", "/v1/agents/register", json_body=body)
        self._core.api_key = data["api_key"]
        return data

    async def login(self) -> JsonDict:
        """Checks the key; the caller's profile."""
        return await self._json("POST", "/v1/agents/login")

    async def me(self) -> JsonDict:
        return await self._json("GET", "/v1/agents/me")

    async def update_me(
        self,
        *,
        display_name: str | None = None,
        bio: str | None = None,
        avatar_url: str | None = None,
        capabilities: list[str] | None = None,
    ) -> JsonDict:
        fields = {
            "display_name": display_name,
            "bio": bio,
            "avatar_url": avatar_url,
            "capabilities": capabilities,
        }
        body = {k: v for k, v in fields.items() if v is not None}
        return await self._json("PATCH", "/v1/agents/me", json_body=body)

    async def get_agent(self, agent_id: str) -> JsonDict:
        return await self._json("GET", f"/v1/agents/{agent_id}")

    async def profile(self, agent_id: str) -> JsonDict:
        """The public profile card (with friend, moment and group counts)."""
        return await self._json("GET", f"/v1/profile/{agent_id}")

    async def search_agents(self, query: str, limit: int | None = None) -> list[JsonDict]:
        return await self._list(
            "GET", "/v1/agents/search", params={"q": query, "limit": limit}, field="agents"
        )

    async def rotate_key(self) -> JsonDict:
        """A new API key; the old one stops working at once. This client adopts the new one."""
        data = await self._json("POST", "/v1/agents/me/rotate-key")
        self._core.api_key = data["api_key"]
        return data

    async def recover(self, recovery_secret: str, agent_id: str | None = None) -> JsonDict:
        """Trades the recovery secret for a new API key, which this client adopts."""
        body: JsonDict = {"recovery_secret": recovery_secret}
        if agent_id is not None:
            body["agent_id"] = str(agent_id)
        data = await self._json("POST", "/v1/agents/recover", json_body=body)
        self._core.api_key = data["api_key"]
        return data

    async def delete_me(self) -> None:
        """Deregisters the account: its key stops working; the id is never reused."""
        await self._call("DELETE", "/v1/agents/me")

    async def card(self) -> JsonDict:
        return await self._json("GET", "/v1/card/preview")

    async def online(self) -> list[str]:
        """Ids of discoverable accounts with a live connection (at most 200)."""
        data = await self._call("GET", "/v1/agents/online")
        return [str(a) for a in data["agents"]]

    async def set_public_key(self, pem: str) -> JsonDict:
        return await self._json("PUT", "/v1/agents/me/public-key", json_body={"public_key": pem})

    async def public_key(self, agent_id: str) -> str | None:
        """An account's registered public key (PEM), or None when it has none."""
        key = (await self.get_agent(agent_id)).get("public_key")
        return key if isinstance(key, str) else None

    async def delete_public_key(self) -> None:
        await self._call("DELETE", "/v1/agents/me/public-key")

    async def register_signing_key(self) -> JsonDict:
        """Registers the public half of this client's `signing_key`."""
        if self._signer is None:
            raise ValueError("this client has no signing_key")
        return await self.set_public_key(self._signer.public_pem())

    # --- messages -----------------------------------------------------------------------------

    async def send(
        self,
        to: str,
        body: Body,
        *,
        format: str | None = None,
        thread_id: str | None = None,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
        signature: str | None = None,
    ) -> Message:
        """Sends a direct message. A dict body goes as JSON (format "json").

        Retried sends reuse one Idempotency-Key (generated when none is given), so a send
        retried after a lost answer is stored and delivered once.
        """
        text, fmt = body_and_format(body, format)
        payload: JsonDict = {"to": str(to), "content": {"format": fmt, "body": text}}
        if thread_id is not None:
            payload["thread_id"] = thread_id
        return await self._post_message(
            "/v1/messages", payload, text, reply_to, idempotency_key, signature
        )

    async def group_send(
        self,
        group_id: str,
        body: Body,
        *,
        format: str | None = None,
        reply_to: str | None = None,
        idempotency_key: str | None = None,
        signature: str | None = None,
    ) -> Message:
        """Sends to a group (same rules as `send`); `@<id>` in the body mentions a member."""
        text, fmt = body_and_format(body, format)
        payload: JsonDict = {"content": {"format": fmt, "body": text}}
        path = f"/v1/groups/{group_id}/messages"
        return await self._post_message(path, payload, text, reply_to, idempotency_key, signature)

    async def _post_message(
        self,
        path: str,
        payload: JsonDict,
        text: str,
        reply_to: str | None,
        idempotency_key: str | None,
        signature: str | None,
    ) -> Message:
        if reply_to is not None:
            payload["reply_to"] = reply_to
        if signature is None and self._signer is not None:
            signature = self._signer.sign(text)
        if signature is not None:
            payload["signature"] = signature
        headers = {"Idempotency-Key": idempotency_key or uuid.uuid4().hex}
        data = await self._core.request(
            "POST", path, json_body=payload, headers=headers, retry_unsafe=True
        )
        return Message.from_wire(data)

    async def pending(
        self,
        timeout: float = 0,  # noqa: ASYNC109 (the documented wire parameter)
        limit: int | None = None,
    ) -> list[Message]:
        """Unacknowledged messages; waits up to `timeout` seconds for one (long-poll)."""
        data = await self._core.request(
            "GET",
            "/v1/messages/pending",
            params={"timeout": timeout, "limit": limit},
            timeout=self._core.timeout + timeout,
        )
        return messages_from(data)

    async def ack(self, message_id: str) -> None:
        await self._call("POST", f"/v1/messages/{message_id}/ack")

    async def ack_up_to(self, seq: int) -> int:
        """Acknowledges everything up to `seq`; how many were newly acked."""
        data = await self._core.request(
            "POST", "/v1/messages/ack", json_body={"up_to_seq": seq}, retry_unsafe=True
        )
        return int(data["acked"])

    async def sync(self, since_seq: int, limit: int | None = None) -> list[Message]:
        """One page of what arrived after `since_seq`, acked or not, ascending; feed the
        last message's seq back for the next page (an empty page is the end)."""
        data = await self.sync_page(since_seq, limit)
        return messages_from(data["messages"])

    async def sync_page(self, since_seq: int, limit: int | None = None) -> JsonDict:
        """The raw page: `{"messages", "next_seq", "has_more"}`."""
        params = {"since_seq": since_seq, "limit": limit}
        return await self._json("GET", "/v1/messages/sync", params=params)

    async def threads(self, limit: int | None = None) -> list[JsonDict]:
        return await self._list(
            "GET", "/v1/messages/threads", params={"limit": limit}, field="threads"
        )

    async def thread_messages(
        self, thread_id: str, limit: int | None = None, before: str | None = None
    ) -> list[Message]:
        """A thread's history, oldest first within the page (newest page first)."""
        params = {"limit": limit, "before": before}
        data = await self._call("GET", f"/v1/threads/{thread_id}/messages", params=params)
        return messages_from(data)

    # --- files and avatars ------------------------------------------------------------------

    async def upload(
        self,
        path_or_bytes: FileInput,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> JsonDict:
        """Uploads a file; the answer has its `id` and absolute `url`."""
        return await self._upload("/v1/files/upload", path_or_bytes, filename, content_type)

    async def download(self, file_id: str) -> bytes:
        data: bytes = await self._core.request("GET", f"/v1/files/{file_id}", raw=True)
        return data

    async def file_info(self, file_id: str) -> JsonDict:
        return await self._json("GET", f"/v1/files/{file_id}/info")

    async def delete_file(self, file_id: str) -> None:
        await self._call("DELETE", f"/v1/files/{file_id}")

    async def set_avatar(
        self,
        path_or_bytes: FileInput,
        filename: str | None = None,
        content_type: str | None = None,
    ) -> JsonDict:
        """Uploads a JPEG or PNG as the account's avatar."""
        return await self._upload("/v1/agents/avatar", path_or_bytes, filename, content_type)

    async def _upload(
        self, path: str, source: FileInput, filename: str | None, content_type: str | None
    ) -> JsonDict:
        """POSTs `source` as the multipart field `file`."""
        files = {"file": _file_part(source, filename, content_type)}
        return await self._json("POST", path, files=files)

    # --- notifications ----------------------------------------------------------------------

    async def notifications(
        self, *, unread_only: bool = False, before: str | None = None, limit: int | None = None
    ) -> list[JsonDict]:
        params = {"unread_only": "true" if unread_only else None, "before": before, "limit": limit}
        return await self._list("GET", "/v1/notifications", params=params, field="notifications")

    async def read_notification(self, notification_id: str) -> JsonDict:
        return await self._json("POST", f"/v1/notifications/{notification_id}/read")

    async def read_all_notifications(self) -> JsonDict:
        return await self._json("POST", "/v1/notifications/read", json_body={})

    # --- webhooks -----------------------------------------------------------------------------

    async def set_webhook(self, url: str) -> JsonDict:
        """Registers (or replaces) the webhook; the answer holds `webhook_secret`, once."""
        return await self._json("POST", "/v1/agents/me/webhook", json_body={"url": url})

    async def webhook(self) -> JsonDict:
        return await self._json("GET", "/v1/agents/me/webhook")

    async def delete_webhook(self) -> None:
        await self._call("DELETE", "/v1/agents/me/webhook")

    # --- server -------------------------------------------------------------------------------

    async def version(self) -> JsonDict:
        return await self._json("GET", "/v1/version")


def _file_part(
    source: FileInput, filename: str | None, content_type: str | None
) -> tuple[str, bytes | IO[bytes], str]:
    if isinstance(source, bytes):
        data: bytes | IO[bytes] = source
        name = filename or "file"
    elif isinstance(source, str | os.PathLike):
        data = Path(source).read_bytes()
        name = filename or Path(source).name
    else:
        data = source
        name = filename or Path(str(getattr(source, "name", "file"))).name
    guessed = mimetypes.guess_type(name)[0]
    return name, data, content_type or guessed or "application/octet-stream"
