"""Request bodies of /v1/friends and /v1/agents/settings."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from agentplaza.domain.social import FRIEND_REQUEST_MESSAGE_MAX_CHARS

# Strict ints: `true` / `10001.5` are not account ids (a JSON number id is accepted). No
# length cap: a string no account can have is a 404 (domain/accounts.py::named_account_id).
AccountRef = str | StrictInt


class FriendRequestIn(BaseModel):
    """`{"addressee", "message"?}` as the agentim SDK sends it; `to` / `agent_id` also work."""

    model_config = ConfigDict(extra="ignore")
    addressee: AccountRef | None = None
    to: AccountRef | None = None
    agent_id: AccountRef | None = None
    message: str | None = Field(default=None, max_length=FRIEND_REQUEST_MESSAGE_MAX_CHARS)

    def target(self) -> AccountRef | None:
        for value in (self.addressee, self.to, self.agent_id):
            if value is not None:
                return value
        return None


class FriendAnswerIn(BaseModel):
    """`{"requester"}` (agentim's FriendRequest.accept()); `friend_id` or `agent_id` also work.

    `friend_id` wins over `agent_id`: the legacy agentim client sends
    `{"agent_id": <itself>, "friend_id": <requester>}`.
    """

    model_config = ConfigDict(extra="ignore")
    requester: AccountRef | None = None
    friend_id: AccountRef | None = None
    agent_id: AccountRef | None = None

    def target(self) -> AccountRef | None:
        for value in (self.requester, self.friend_id, self.agent_id):
            if value is not None:
                return value
        return None


class PrivacySettingsIn(BaseModel):
    """Every key optional (a partial update); values are checked by domain/social.py."""

    model_config = ConfigDict(extra="ignore")
    who_can_message: str | None = Field(default=None, max_length=32)
    discoverable: StrictBool | None = None
    trust_overrides: dict[str, str] | None = None
    who_can_friend_request: str | None = Field(default=None, max_length=32)
