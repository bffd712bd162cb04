"""The /studio bad-input table: every HTTP route with what it takes, and the bad values of each
body field and query parameter (tests/studio/test_studio_bad_input.py runs them).

Bodies are templates: `{provider}`, `{agent}`, `{conversation}`, `{room}` become the ids of
things the test's owner really has, so a field case breaks exactly one field of a body that is
otherwise accepted. Limits come from the route modules' own constants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agentplaza.domain import chat_rooms as room_rules
from agentplaza.domain import providers as provider_rules
from agentplaza.domain.accounts import DISPLAY_NAME_MAX_CHARS, EMAIL_MAX_CHARS, PASSWORD_MAX_CHARS
from agentplaza.services.providers import BASE_URL_MAX_CHARS

S = "/studio/api"
# Unknown but well-formed ids, per path parameter (the shapes the services mint).
UNKNOWN_IDS = {
    "provider_id": "prov_" + "0" * 26,
    "agent_id": "99999999",
    "conversation_id": "conv_" + "0" * 26,
    "message_id": "msg_" + "0" * 26,
    "room_id": "room_" + "0" * 26,
    "name": "no_such_tool",
}
# Not ids at all. Documented (docs/studio.md): any id that is not one of yours is 404, like one
# that does not exist; an id longer than the route's cap is a malformed request, 400.
MALFORMED_IDS: dict[str, tuple[str, int]] = {
    "x": ("x", 404),
    "300-chars": ("i" * 300, 400),
    "dot-dot-slash": ("..%2Fetc", 404),  # one encoded path segment, not a traversal
    "unicode": ("%C3%BC%E5%AD%97%F0%9F%98%80", 404),  # ü字😀
}


@dataclass(frozen=True)
class Route:
    """auth: needs a credential; body: a valid JSON body (template), None when it takes none;
    fields: bad values per body field, merged one at a time into `body` (all 400 unless a
    status is given); query: bad query parameters (all 400)."""

    auth: bool = True
    body: dict[str, Any] | None = None
    fields: dict[str, tuple[dict[str, Any], int]] = field(default_factory=dict)
    query: dict[str, dict[str, str]] = field(default_factory=dict)
    raw_body: bool = False  # the body is read by hand (tools' execute): no pydantic model


def bad(**overrides: Any) -> tuple[dict[str, Any], int]:
    return overrides, 400


def over(name: str, max_chars: int) -> tuple[dict[str, Any], int]:
    return {name: "s" * (max_chars + 1)}, 400


PAGED = {
    "page-0": {"page": "0"},
    "page-negative": {"page": "-1"},
    "page-abc": {"page": "abc"},
    "page-huge": {"page": "10000000"},
    "page-size-0": {"page_size": "0"},
    "page-size-10000": {"page_size": "10000"},
    "page-size-abc": {"page_size": "abc"},
}

REGISTER = {
    "username-int": bad(username=5),
    "username-empty": bad(username=""),
    "username-long": over("username", DISPLAY_NAME_MAX_CHARS),
    "email-list": bad(email=["a@b.c"]),
    "email-long": over("email", EMAIL_MAX_CHARS),
    "password-int": bad(password=12345678),
    "password-null": bad(password=None),
    "password-long": over("password", PASSWORD_MAX_CHARS),
}
LOGIN = {k: v for k, v in REGISTER.items() if not k.startswith("email")}

_PROVIDER_FIELDS = {
    "name-int": bad(name=5),
    "name-long": over("name", provider_rules.NAME_MAX_CHARS * 2),
    "type-int": bad(provider_type=5),
    "type-long": over("provider_type", 32),
    "base-url-int": bad(base_url=5),
    "base-url-long": over("base_url", BASE_URL_MAX_CHARS),
    "api-key-list": bad(api_key=["k"]),
    "api-key-long": over("api_key", provider_rules.API_KEY_MAX_CHARS),
    "models-string": bad(models="m"),
    "models-ints": bad(models=[1, 2]),
    "models-too-many": bad(models=["m"] * (provider_rules.MODELS_MAX + 1)),
    "models-item-long": bad(models=["m" * (provider_rules.MODEL_ID_MAX_CHARS + 1)]),
    "default-model-int": bad(default_model=1),
    "default-model-long": over("default_model", provider_rules.MODEL_ID_MAX_CHARS),
    "prices-list": bad(prices=[]),
    "prices-too-many": bad(prices={f"m{i}": {} for i in range(provider_rules.PRICES_MAX + 1)}),
    "timeout-string": bad(timeout="abc"),
    "max-retries-string": bad(max_retries="abc"),
    "max-concurrency-list": bad(max_concurrency=[1]),
}
PROVIDER = {"name": "p", "provider_type": "openai", "base_url": "http://127.0.0.1:9/v1"}

_AGENT_CONFIG = {
    "description-int": bad(description=1),
    "description-long": over("description", 500),
    "system-prompt-long": over("system_prompt", 32_000),
    "temperature-string": bad(temperature="hot"),
    "temperature-3": bad(temperature=3),
    "max-tokens-0": bad(max_tokens=0),
    "max-tokens-string": bad(max_tokens="many"),
    "thinking-list": bad(thinking_enabled=[]),
    "tools-string": bad(tools="calculator"),
    "tools-too-many": bad(tools=["t"] * 33),
    "dm-policy-unknown": bad(dm_policy="everyone"),
    "group-policy-int": bad(group_policy=1),
    "stranger-limit-negative": bad(stranger_limit=-1),
    "trust-overrides-list": bad(trust_overrides=[]),
    "trust-overrides-bad-level": bad(trust_overrides={"1": "godlike"}),
    "agent-type-unknown": bad(agent_type="robot"),
    "memory-tokens-1": bad(memory_tokens=1),
    "daily-budget-negative": bad(daily_token_budget=-1),
    "enabled-dict": bad(enabled={}),
}
_AGENT_IDS = {
    "name-int": bad(name=1),
    "name-empty": bad(name=""),
    "name-long": over("name", 64),
    "provider-id-int": bad(provider_id=1),
    "provider-id-long": over("provider_id", 64),
    "model-list": bad(model=["m"]),
    "model-long": over("model", 200),
}

_CONVERSATION = {
    "project-id-int": bad(project_id=1),
    "project-id-long": over("project_id", 128),
    "title-list": bad(title=["t"]),
    "title-long": over("title", 200),
    "model-int": bad(model=1),
    "model-long": over("model", 200),
    "system-prompt-long": over("system_prompt", 32_000),
    "temperature-string": bad(temperature="warm"),
    "temperature-negative": bad(temperature=-0.1),
    "max-tokens-string": bad(max_tokens="1"),
    "max-tokens-0": bad(max_tokens=0),
    "thinking-string": bad(thinking_enabled="yes"),
    "provider-id-int": bad(provider_id=1),
    "provider-id-long": over("provider_id", 128),
    "agent-id-list": bad(agent_id=["a"]),
    "agent-id-long": over("agent_id", 128),
}
_SEND = {
    "conversation-id-missing": ({"conversation_id": None}, 400),
    "conversation-id-int": bad(conversation_id=1),
    "conversation-id-long": over("conversation_id", 128),
    "conversation-id-unknown": ({"conversation_id": UNKNOWN_IDS["conversation_id"]}, 404),
    "content-int": bad(content=1),
    "content-long": over("content", 1_000_000),
    "tools-enabled-string": bad(tools_enabled="true"),
}
_ROOM = {
    "name-int": bad(name=1),
    "name-empty": bad(name=""),
    "name-long": over("name", room_rules.MAX_NAME_CHARS),
    "description-list": bad(description=[]),
    "description-long": over("description", room_rules.MAX_DESCRIPTION_CHARS),
    "policy-unknown": bad(policy="anarchy"),
    "turns-string": bad(max_consecutive_agent_turns="6"),
    "turns-0": bad(max_consecutive_agent_turns=0),
    "budget-negative": bad(agent_token_budget=-1),
    "budget-float": bad(agent_token_budget=1.5),
    "moderator-int": bad(moderator_agent_id=1),
    "moderator-long": over("moderator_agent_id", 64),
}
_ROOM_CREATE = {
    **_ROOM,
    "agent-ids-string": bad(agent_ids="a"),
    "agent-ids-too-many": bad(agent_ids=["1"] * (room_rules.MAX_AGENTS_PER_ROOM + 1)),
    "agent-ids-item-long": bad(agent_ids=["1" * 65]),
}
_ROOM_AGENT = {
    "agent-id-int": bad(agent_id=1),
    "agent-id-long": over("agent_id", 64),
    "agent-id-unknown": ({"agent_id": UNKNOWN_IDS["agent_id"]}, 404),
}
_ROOM_MESSAGE = {
    "content-int": bad(content=1),
    "content-null": bad(content=None),
    "content-long": over("content", room_rules.MAX_CONTENT_CHARS),
}

ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/studio/"): Route(auth=False),
    ("GET", f"{S}/health"): Route(auth=False),
    ("POST", f"{S}/auth/register"): Route(
        auth=False,
        body={"username": "{fresh}", "email": "{fresh}@example.com", "password": "long enough"},
        fields=REGISTER,
    ),
    ("POST", f"{S}/auth/login"): Route(
        auth=False, body={"username": "{owner_name}", "password": "wrong"}, fields=LOGIN
    ),
    ("POST", f"{S}/auth/logout"): Route(),
    ("GET", f"{S}/auth/me"): Route(),
    ("GET", f"{S}/providers/"): Route(query=PAGED),
    ("POST", f"{S}/providers/"): Route(body=PROVIDER, fields=_PROVIDER_FIELDS),
    ("GET", f"{S}/providers/{{provider_id}}"): Route(),
    ("PUT", f"{S}/providers/{{provider_id}}"): Route(body={}, fields=_PROVIDER_FIELDS),
    ("DELETE", f"{S}/providers/{{provider_id}}"): Route(),
    ("POST", f"{S}/providers/{{provider_id}}/test"): Route(),
    ("GET", f"{S}/tools/"): Route(),
    ("GET", f"{S}/tools/{{name}}"): Route(),
    ("POST", f"{S}/tools/{{name}}/execute"): Route(body={}, raw_body=True),
    ("GET", f"{S}/agents/"): Route(query=PAGED),
    ("POST", f"{S}/agents/"): Route(
        body={"name": "{fresh}", "provider_id": "{provider}", "model": "m"},
        fields={**_AGENT_IDS, **_AGENT_CONFIG},
    ),
    ("GET", f"{S}/agents/{{agent_id}}"): Route(),
    ("PUT", f"{S}/agents/{{agent_id}}"): Route(body={}, fields={**_AGENT_IDS, **_AGENT_CONFIG}),
    ("DELETE", f"{S}/agents/{{agent_id}}"): Route(),
    ("GET", f"{S}/agents/{{agent_id}}/usage"): Route(
        query={"days-0": {"days": "0"}, "days-367": {"days": "367"}, "days-abc": {"days": "x"}}
    ),
    ("GET", f"{S}/conversations/"): Route(
        query={**PAGED, "project-id-long": {"project_id": "p" * 129}}
    ),
    ("POST", f"{S}/conversations/"): Route(body={}, fields=_CONVERSATION),
    ("GET", f"{S}/conversations/{{conversation_id}}"): Route(),
    ("PUT", f"{S}/conversations/{{conversation_id}}"): Route(body={}, fields=_CONVERSATION),
    ("DELETE", f"{S}/conversations/{{conversation_id}}"): Route(),
    ("GET", f"{S}/messages/{{conversation_id}}"): Route(query=PAGED),
    ("POST", f"{S}/messages/"): Route(
        body={"conversation_id": "{conversation}", "content": "hi"}, fields=_SEND
    ),
    ("POST", f"{S}/messages/stream"): Route(
        body={"conversation_id": "{conversation}", "content": "hi"}, fields=_SEND
    ),
    ("DELETE", f"{S}/messages/{{message_id}}"): Route(),
    ("GET", f"{S}/chat-rooms/"): Route(query=PAGED),
    ("POST", f"{S}/chat-rooms/"): Route(body={"name": "r"}, fields=_ROOM_CREATE),
    ("GET", f"{S}/chat-rooms/{{room_id}}"): Route(),
    ("PUT", f"{S}/chat-rooms/{{room_id}}"): Route(body={}, fields=_ROOM),
    ("DELETE", f"{S}/chat-rooms/{{room_id}}"): Route(),
    ("GET", f"{S}/chat-rooms/{{room_id}}/agents"): Route(),
    ("POST", f"{S}/chat-rooms/{{room_id}}/agents"): Route(
        body={"agent_id": "{agent}"}, fields=_ROOM_AGENT
    ),
    ("DELETE", f"{S}/chat-rooms/{{room_id}}/agents/{{agent_id}}"): Route(),
    ("GET", f"{S}/chat-rooms/{{room_id}}/messages"): Route(query=PAGED),
    ("POST", f"{S}/chat-rooms/{{room_id}}/messages"): Route(
        body={"content": "hi"}, fields=_ROOM_MESSAGE
    ),
}
