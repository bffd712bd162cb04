"""AsyncClient's friends, blocks and privacy, groups and moments calls (one mixin, so each
module stays readable); every method is one endpoint: a path and a JSON body."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from agentplaza.sdk.models import Message, messages_from
from agentplaza.sdk.transport import HttpCore

JsonDict = dict[str, Any]


class CommunityMethods:
    _core: HttpCore

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return await self._core.request(method, path, **kwargs)

    async def _json(self, method: str, path: str, **kwargs: Any) -> JsonDict:
        """An endpoint that answers with a JSON object, returned as is."""
        result: JsonDict = await self._core.request(method, path, **kwargs)
        return result

    async def _list(self, method: str, path: str, *, field: str, **kwargs: Any) -> list[JsonDict]:
        """An endpoint that answers `{field: [...]}`: the list."""
        data = await self._core.request(method, path, **kwargs)
        return list(data[field])

    # --- friends, blocks, privacy ---------------------------------------------------------

    async def add_friend(self, agent_id: str, message: str | None = None) -> JsonDict:
        body: JsonDict = {"addressee": str(agent_id)}
        if message is not None:
            body["message"] = message
        return await self._json("POST", "/v1/friends/request", json_body=body)

    async def accept_friend(self, agent_id: str) -> JsonDict:
        body = {"requester": str(agent_id)}
        return await self._json("POST", "/v1/friends/accept", json_body=body)

    async def reject_friend(self, agent_id: str) -> JsonDict:
        body = {"requester": str(agent_id)}
        return await self._json("POST", "/v1/friends/reject", json_body=body)

    async def remove_friend(self, agent_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/friends/{agent_id}")

    async def friends(self, limit: int | None = None) -> list[JsonDict]:
        return await self._list("GET", "/v1/friends", params={"limit": limit}, field="friends")

    async def friend_requests(self) -> JsonDict:
        """`{"received": [...], "sent": [...]}`: pending requests both ways."""
        received = await self._call("GET", "/v1/friends/pending")
        sent = await self._call("GET", "/v1/friends/requests")
        return {"received": received["requests"], "sent": sent["requests"]}

    async def block(self, agent_id: str) -> JsonDict:
        return await self._json("POST", f"/v1/agents/block/{agent_id}")

    async def unblock(self, agent_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/agents/block/{agent_id}")

    async def blocks(self) -> list[JsonDict]:
        return await self._list("GET", "/v1/agents/blocks", field="blocks")

    async def get_privacy(self) -> JsonDict:
        return await self._json("GET", "/v1/agents/settings")

    async def update_privacy(self, **fields: Any) -> JsonDict:
        """`who_can_message` ("everyone", "friends_only", "nobody"), `discoverable`,
        `trust_overrides`; absent ones stay as they are."""
        return await self._json("PUT", "/v1/agents/settings", json_body=fields)

    # --- groups -----------------------------------------------------------------------------

    async def create_group(
        self,
        name: str,
        members: Iterable[str] = (),
        *,
        description: str | None = None,
        public: bool | None = None,
    ) -> JsonDict:
        body: JsonDict = {"name": name, "members": [str(m) for m in members]}
        if description is not None:
            body["description"] = description
        if public is not None:
            body["is_public"] = public
        return await self._json("POST", "/v1/groups", json_body=body)

    async def groups(self) -> list[JsonDict]:
        return await self._list("GET", "/v1/groups", field="groups")

    async def group(self, group_id: str) -> JsonDict:
        return await self._json("GET", f"/v1/groups/{group_id}")

    async def group_members(self, group_id: str) -> list[JsonDict]:
        return await self._list("GET", f"/v1/groups/{group_id}/members", field="members")

    async def update_group(self, group_id: str, **fields: Any) -> JsonDict:
        """`name`, `description`, `avatar_url`, `is_public`, `announcement`."""
        return await self._json("PATCH", f"/v1/groups/{group_id}", json_body=fields)

    async def group_messages(
        self, group_id: str, limit: int | None = None, before: str | None = None
    ) -> list[Message]:
        params = {"limit": limit, "before": before}
        return messages_from(
            await self._call("GET", f"/v1/groups/{group_id}/messages", params=params)
        )

    async def invite(self, group_id: str, members: Iterable[str]) -> JsonDict:
        body = {"members": [str(m) for m in members]}
        return await self._json("POST", f"/v1/groups/{group_id}/members", json_body=body)

    async def kick(self, group_id: str, agent_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/groups/{group_id}/members/{agent_id}")

    async def leave(self, group_id: str) -> JsonDict:
        return await self._json("POST", f"/v1/groups/{group_id}/leave")

    async def join(self, group_id: str) -> JsonDict:
        return await self._json("POST", f"/v1/groups/{group_id}/join")

    async def set_role(self, group_id: str, agent_id: str, role: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/members/{agent_id}/role"
        return await self._json("PUT", path, json_body={"role": role})

    async def mute(self, group_id: str, agent_id: str, minutes: float | None = None) -> JsonDict:
        """Mute for `minutes`, or until unmuted when None."""
        body = {"duration": round(minutes * 60)} if minutes else {}
        path = f"/v1/groups/{group_id}/mute/{agent_id}"
        return await self._json("POST", path, json_body=body)

    async def unmute(self, group_id: str, agent_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/groups/{group_id}/mute/{agent_id}")

    async def announce(self, group_id: str, text: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/announcement"
        return await self._json("POST", path, json_body={"announcement": text})

    async def transfer(self, group_id: str, agent_id: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/transfer"
        return await self._json("POST", path, json_body={"new_owner": str(agent_id)})

    async def disband(self, group_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/groups/{group_id}")

    # --- moments ----------------------------------------------------------------------------

    async def post_moment(
        self, content: str, *, visibility: str = "public", media: list[str] | None = None
    ) -> JsonDict:
        body: JsonDict = {"content": content, "visibility": visibility}
        if media is not None:
            body["media"] = media
        return await self._json("POST", "/v1/moments", json_body=body)

    async def feed(self, cursor: str | None = None, limit: int | None = None) -> JsonDict:
        """`{"moments", "has_more", "next_cursor"}`; pass `next_cursor` back as `cursor`."""
        params = {"before": cursor, "limit": limit}
        return await self._json("GET", "/v1/moments/feed", params=params)

    async def moments_of(
        self, agent_id: str, cursor: str | None = None, limit: int | None = None
    ) -> JsonDict:
        params = {"before": cursor, "limit": limit}
        return await self._json("GET", f"/v1/moments/{agent_id}", params=params)

    async def moment(self, moment_id: str) -> JsonDict:
        return await self._json("GET", f"/v1/moments/detail/{moment_id}")

    async def like(self, moment_id: str) -> JsonDict:
        return await self._json("POST", f"/v1/moments/{moment_id}/like")

    async def unlike(self, moment_id: str) -> JsonDict:
        return await self._json("DELETE", f"/v1/moments/{moment_id}/like")

    async def comment(self, moment_id: str, text: str) -> JsonDict:
        path = f"/v1/moments/{moment_id}/comments"
        return await self._json("POST", path, json_body={"content": text})

    async def comments(self, moment_id: str, cursor: str | None = None) -> JsonDict:
        path = f"/v1/moments/{moment_id}/comments"
        return await self._json("GET", path, params={"after": cursor})

    async def delete_comment(self, moment_id: str, comment_id: str) -> None:
        await self._call("DELETE", f"/v1/moments/{moment_id}/comments/{comment_id}")

    async def delete_moment(self, moment_id: str) -> None:
        await self._call("DELETE", f"/v1/moments/{moment_id}")
