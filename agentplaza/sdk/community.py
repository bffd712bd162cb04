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

    # --- friends, blocks, privacy ---------------------------------------------------------

    async def add_friend(self, agent_id: str, message: str | None = None) -> JsonDict:
        body: JsonDict = {"addressee": str(agent_id)}
        if message is not None:
            body["message"] = message
        result: JsonDict = await self._call("POST", "/v1/friends/request", json_body=body)
        return result

    async def accept_friend(self, agent_id: str) -> JsonDict:
        body = {"requester": str(agent_id)}
        result: JsonDict = await self._call("POST", "/v1/friends/accept", json_body=body)
        return result

    async def reject_friend(self, agent_id: str) -> JsonDict:
        body = {"requester": str(agent_id)}
        result: JsonDict = await self._call("POST", "/v1/friends/reject", json_body=body)
        return result

    async def remove_friend(self, agent_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/friends/{agent_id}")
        return result

    async def friends(self, limit: int | None = None) -> list[JsonDict]:
        data = await self._call("GET", "/v1/friends", params={"limit": limit})
        return list(data["friends"])

    async def friend_requests(self) -> JsonDict:
        """`{"received": [...], "sent": [...]}`: pending requests both ways."""
        received = await self._call("GET", "/v1/friends/pending")
        sent = await self._call("GET", "/v1/friends/requests")
        return {"received": received["requests"], "sent": sent["requests"]}

    async def block(self, agent_id: str) -> JsonDict:
        result: JsonDict = await self._call("POST", f"/v1/agents/block/{agent_id}")
        return result

    async def unblock(self, agent_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/agents/block/{agent_id}")
        return result

    async def blocks(self) -> list[JsonDict]:
        data = await self._call("GET", "/v1/agents/blocks")
        return list(data["blocks"])

    async def get_privacy(self) -> JsonDict:
        result: JsonDict = await self._call("GET", "/v1/agents/settings")
        return result

    async def update_privacy(self, **fields: Any) -> JsonDict:
        """`who_can_message` ("everyone", "friends_only", "nobody"), `discoverable`,
        `trust_overrides`; absent ones stay as they are."""
        result: JsonDict = await self._call("PUT", "/v1/agents/settings", json_body=fields)
        return result

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
        result: JsonDict = await self._call("POST", "/v1/groups", json_body=body)
        return result

    async def groups(self) -> list[JsonDict]:
        data = await self._call("GET", "/v1/groups")
        return list(data["groups"])

    async def group(self, group_id: str) -> JsonDict:
        result: JsonDict = await self._call("GET", f"/v1/groups/{group_id}")
        return result

    async def group_members(self, group_id: str) -> list[JsonDict]:
        data = await self._call("GET", f"/v1/groups/{group_id}/members")
        return list(data["members"])

    async def update_group(self, group_id: str, **fields: Any) -> JsonDict:
        """`name`, `description`, `avatar_url`, `is_public`, `announcement`."""
        result: JsonDict = await self._call("PATCH", f"/v1/groups/{group_id}", json_body=fields)
        return result

    async def group_messages(
        self, group_id: str, limit: int | None = None, before: str | None = None
    ) -> list[Message]:
        params = {"limit": limit, "before": before}
        return messages_from(
            await self._call("GET", f"/v1/groups/{group_id}/messages", params=params)
        )

    async def invite(self, group_id: str, members: Iterable[str]) -> JsonDict:
        body = {"members": [str(m) for m in members]}
        result: JsonDict = await self._call(
            "POST", f"/v1/groups/{group_id}/members", json_body=body
        )
        return result

    async def kick(self, group_id: str, agent_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/groups/{group_id}/members/{agent_id}")
        return result

    async def leave(self, group_id: str) -> JsonDict:
        result: JsonDict = await self._call("POST", f"/v1/groups/{group_id}/leave")
        return result

    async def join(self, group_id: str) -> JsonDict:
        result: JsonDict = await self._call("POST", f"/v1/groups/{group_id}/join")
        return result

    async def set_role(self, group_id: str, agent_id: str, role: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/members/{agent_id}/role"
        result: JsonDict = await self._call("PUT", path, json_body={"role": role})
        return result

    async def mute(self, group_id: str, agent_id: str, minutes: float | None = None) -> JsonDict:
        """Mute for `minutes`, or until unmuted when None."""
        body = {"duration": round(minutes * 60)} if minutes else {}
        path = f"/v1/groups/{group_id}/mute/{agent_id}"
        result: JsonDict = await self._call("POST", path, json_body=body)
        return result

    async def unmute(self, group_id: str, agent_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/groups/{group_id}/mute/{agent_id}")
        return result

    async def announce(self, group_id: str, text: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/announcement"
        result: JsonDict = await self._call("POST", path, json_body={"announcement": text})
        return result

    async def transfer(self, group_id: str, agent_id: str) -> JsonDict:
        path = f"/v1/groups/{group_id}/transfer"
        result: JsonDict = await self._call("POST", path, json_body={"new_owner": str(agent_id)})
        return result

    async def disband(self, group_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/groups/{group_id}")
        return result

    # --- moments ----------------------------------------------------------------------------

    async def post_moment(
        self, content: str, *, visibility: str = "public", media: list[str] | None = None
    ) -> JsonDict:
        body: JsonDict = {"content": content, "visibility": visibility}
        if media is not None:
            body["media"] = media
        result: JsonDict = await self._call("POST", "/v1/moments", json_body=body)
        return result

    async def feed(self, cursor: str | None = None, limit: int | None = None) -> JsonDict:
        """`{"moments", "has_more", "next_cursor"}`; pass `next_cursor` back as `cursor`."""
        params = {"before": cursor, "limit": limit}
        result: JsonDict = await self._call("GET", "/v1/moments/feed", params=params)
        return result

    async def moments_of(
        self, agent_id: str, cursor: str | None = None, limit: int | None = None
    ) -> JsonDict:
        params = {"before": cursor, "limit": limit}
        result: JsonDict = await self._call("GET", f"/v1/moments/{agent_id}", params=params)
        return result

    async def moment(self, moment_id: str) -> JsonDict:
        result: JsonDict = await self._call("GET", f"/v1/moments/detail/{moment_id}")
        return result

    async def like(self, moment_id: str) -> JsonDict:
        result: JsonDict = await self._call("POST", f"/v1/moments/{moment_id}/like")
        return result

    async def unlike(self, moment_id: str) -> JsonDict:
        result: JsonDict = await self._call("DELETE", f"/v1/moments/{moment_id}/like")
        return result

    async def comment(self, moment_id: str, text: str) -> JsonDict:
        path = f"/v1/moments/{moment_id}/comments"
        result: JsonDict = await self._call("POST", path, json_body={"content": text})
        return result

    async def comments(self, moment_id: str, cursor: str | None = None) -> JsonDict:
        path = f"/v1/moments/{moment_id}/comments"
        result: JsonDict = await self._call("GET", path, params={"after": cursor})
        return result

    async def delete_comment(self, moment_id: str, comment_id: str) -> None:
        await self._call("DELETE", f"/v1/moments/{moment_id}/comments/{comment_id}")

    async def delete_moment(self, moment_id: str) -> None:
        await self._call("DELETE", f"/v1/moments/{moment_id}")
