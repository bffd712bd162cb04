"""Bad input on every endpoint: always a 4xx with the error shape, never a 5xx.

`ENDPOINTS` lists every path+method of the API and `CASES` the bad inputs per endpoint (the
social areas' in bad_input_cases.py, with `Endpoint` and `Case`);
`test_table_covers_every_endpoint` compares them with /openapi.json, so a new endpoint (or a new
parameter of an existing one) without bad-input cases fails the suite. On top of the specific
cases every endpoint gets generic ones: a body over its cap (413), and where applicable missing
or invalid credentials (401), malformed JSON (400) and a non-object JSON body (400), or for the
upload routes a body that is not multipart (400). A case answered from the request alone runs on
SQLite only, one whose answer depends on stored rows on both stores: `answered_from_request`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.api.bad_input_cases import (
    IC,
    INT64_OVERFLOW,
    MAX_MESSAGE_BODY_BYTES,
    PNG_BYTES,
    SIGNATURE_CASES,
    SOCIAL_CASES,
    SOCIAL_ENDPOINTS,
    UNSET,
    Case,
    Endpoint,
    V,
    limit_cases,
    path_cases,
)
from tests.api.helpers import assert_error, assert_no_server_errors, send
from tests.conftest import register, unique_name
from tests.server import ServerProcess

if TYPE_CHECKING:  # imported at run time pytest would try to collect it as a test class
    from tests.conftest import TestAgent

ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/health"): Endpoint(auth=False, json_body=False),
    ("GET", "/v1/version"): Endpoint(auth=False, json_body=False),
    ("POST", "/v1/agents/register"): Endpoint(auth=False, json_body=True),
    ("GET", "/v1/agents/me"): Endpoint(auth=True, json_body=False),
    ("PATCH", "/v1/agents/me"): Endpoint(auth=True, json_body=True),
    ("DELETE", "/v1/agents/me"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/agents/login"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/agents/me/rotate-key"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/agents/recover"): Endpoint(auth=False, json_body=True),
    ("POST", "/v1/agents/me/rotate-recovery-secret"): Endpoint(auth=True, json_body=True),
    ("GET", "/v1/agents/online"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/agents/search"): Endpoint(auth=False, json_body=False),
    ("GET", "/v1/agents/{agent_id}"): Endpoint(auth=False, json_body=False),
    ("POST", "/v1/users/register"): Endpoint(auth=False, json_body=True),
    ("POST", "/v1/users/login"): Endpoint(auth=False, json_body=True),
    ("POST", "/v1/users/logout"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/users/sessions"): Endpoint(auth=True, json_body=False),
    ("DELETE", "/v1/users/sessions/{session_id}"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/users/me/agents"): Endpoint(auth=True, json_body=True),
    ("GET", "/v1/users/me/agents"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/users/me/agents/{agent_id}"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/users/me/agents/{agent_id}/rotate-key"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/profile/{account_id}"): Endpoint(auth=False, json_body=False),
    ("POST", "/v1/messages"): Endpoint(auth=True, json_body=True),
    ("GET", "/v1/messages/pending"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/messages/ack"): Endpoint(auth=True, json_body=True),
    ("POST", "/v1/messages/{message_id}/ack"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/messages/sync"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/messages/threads"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/threads/{thread_id}/messages"): Endpoint(auth=True, json_body=False),
    ("GET", "/v1/admin/stats"): Endpoint(auth=True, json_body=False),
    **SOCIAL_ENDPOINTS,
}


def _msg(**fields: Any) -> dict[str, Any]:
    return {"to": "{peer}", "content": {"format": "text", "body": "hi"}, **fields}


def _content(fmt: Any, body: Any) -> dict[str, Any]:
    return {"to": "{peer}", "content": {"format": fmt, "body": body}}


CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/health"): [],
    ("GET", "/v1/version"): [],
    ("GET", "/v1/admin/stats"): [],  # no parameters; 403 for non-admins: test_admin_stats.py
    ("POST", "/v1/agents/register"): [
        Case("name-missing", "body", 400, V, json={"bio": "x"}),
        Case("name-int", "body", 400, V, json={"display_name": 5}),
        Case("name-null", "body", 400, V, json={"display_name": None}),
        Case("name-object", "body", 400, V, json={"display_name": {"a": 1}}),
        Case("name-empty", "body", 400, V, json={"display_name": ""}),
        Case("name-blank", "body", 400, V, json={"display_name": "   "}),
        Case("name-65", "body", 400, V, json={"display_name": "n" * 65}),
        Case("name-huge", "body", 400, V, json={"display_name": "n" * 100_000}),
        Case("name-control", "body", 400, V, json={"display_name": "a\u0000b"}),
        Case("name-newline", "body", 400, V, json={"display_name": "a\nb"}),
        Case("name-bidi", "body", 400, V, json={"display_name": "a\u202eb"}),
        Case("name-taken", "body", 409, "name_taken", json={"display_name": "{my_name}"}),
        Case(
            "name-surrogate",
            "body",
            400,
            V,
            content=b'{"display_name": "a\\ud800"}',
            headers={"Content-Type": "application/json"},
        ),
        Case("bio-int", "body", 400, V, json={"display_name": "fine", "bio": 1}),
        Case("bio-501", "body", 400, V, json={"display_name": "fine", "bio": "b" * 501}),
    ],
    ("GET", "/v1/agents/me"): [],
    ("PATCH", "/v1/agents/me"): [
        Case("unknown-field", "body", 400, V, json={"nickname": "x"}),
        Case("name-int", "body", 400, V, json={"display_name": 1}),
        Case("name-empty", "body", 400, V, json={"display_name": ""}),
        Case("name-blank", "body", 400, V, json={"display_name": "  "}),
        Case("name-65", "body", 400, V, json={"display_name": "n" * 65}),
        Case("name-control", "body", 400, V, json={"display_name": "a\tb"}),
        Case("name-taken", "body", 409, "name_taken", json={"display_name": "{peer_name}"}),
        Case("bio-501", "body", 400, V, json={"bio": "b" * 501}),
        Case("bio-list", "body", 400, V, json={"bio": ["b"]}),
        Case("avatar-relative", "body", 400, V, json={"avatar_url": "/a.png"}),
        Case("avatar-javascript", "body", 400, V, json={"avatar_url": "javascript:alert(1)"}),
        Case("avatar-long", "body", 400, V, json={"avatar_url": "https://x/" + "a" * 2048}),
        Case("avatar-int", "body", 400, V, json={"avatar_url": 3}),
        Case("caps-string", "body", 400, V, json={"capabilities": "chat"}),
        Case("caps-ints", "body", 400, V, json={"capabilities": [1, 2]}),
        Case("caps-33", "body", 400, V, json={"capabilities": ["c"] * 33}),
        Case("caps-empty-item", "body", 400, V, json={"capabilities": [""]}),
        Case("caps-long-item", "body", 400, V, json={"capabilities": ["c" * 65]}),
        Case(
            "caps-surrogate",
            "body",
            400,
            V,
            content=b'{"capabilities": ["\\ud800"]}',
            headers={"Content-Type": "application/json"},
        ),
    ],
    ("DELETE", "/v1/agents/me"): [],
    ("POST", "/v1/agents/login"): [
        Case(
            "x-api-key-garbage",
            "auth",
            401,
            "invalid_credentials",
            credentials="none",
            headers={"X-API-Key": "am_garbage"},
        ),
        Case(
            "basic-auth",
            "auth",
            401,
            "unauthenticated",
            credentials="none",
            headers={"Authorization": "Basic YTpi"},
        ),
    ],
    ("POST", "/v1/agents/me/rotate-key"): [
        Case("human-token", "auth", 400, V, credentials="human"),
    ],
    ("POST", "/v1/agents/recover"): [
        Case("secret-missing", "body", 400, V, json={}),
        Case("secret-empty", "body", 400, V, json={"recovery_secret": ""}),
        Case("secret-int", "body", 400, V, json={"recovery_secret": 12345}),
        Case("secret-257", "body", 400, V, json={"recovery_secret": "r" * 257}),
        Case(
            "secret-unknown",
            "body",
            401,
            "invalid_credentials",
            json={"recovery_secret": "rs_unknown"},
        ),
        Case(
            "agent-id-33",
            "body",
            400,
            V,
            json={"recovery_secret": "{secret}", "agent_id": "1" * 33},
        ),
        Case(
            "agent-id-mismatch",
            "body",
            401,
            "invalid_credentials",
            json={"recovery_secret": "{secret}", "agent_id": "{peer}"},
        ),
        Case("agent-id-int", "body", 400, V, json={"recovery_secret": "{secret}", "agent_id": 1}),
    ],
    ("POST", "/v1/agents/me/rotate-recovery-secret"): [
        Case("secret-missing", "body", 400, V, json={}),
        Case("secret-empty", "body", 400, V, json={"recovery_secret": ""}),
        Case("secret-int", "body", 400, V, json={"recovery_secret": 12345}),
        Case("secret-257", "body", 400, V, json={"recovery_secret": "r" * 257}),
        Case("secret-wrong", "body", 401, "invalid_credentials", json={"recovery_secret": "rs_x"}),
        Case("human-token", "auth", 400, V, credentials="human", json={"recovery_secret": "rs_x"}),
    ],
    ("POST", "/v1/users/logout"): [
        Case("api-key", "auth", 400, V),  # an API key is rotated, not logged out
    ],
    ("GET", "/v1/users/sessions"): [],
    # Owned agents: the body cases come from a human (an agent owns none: 403 first).
    ("POST", "/v1/users/me/agents"): [
        Case("name-missing", "body", 400, V, json={}, credentials="human"),
        Case("name-int", "body", 400, V, json={"display_name": 5}, credentials="human"),
        Case("name-blank", "body", 400, V, json={"display_name": "  "}, credentials="human"),
        Case("name-65", "body", 400, V, json={"display_name": "n" * 65}, credentials="human"),
        Case("bio-int", "body", 400, V, json={"display_name": "x", "bio": 1}, credentials="human"),
        Case("agent-caller", "auth", 403, "forbidden", json={"display_name": "owned-by-agent"}),
    ],
    ("GET", "/v1/users/me/agents"): [],
    ("GET", "/v1/users/me/agents/{agent_id}"): [
        *path_cases("/v1/users/me/agents/{agent_id}", "agent_id", "agent_not_found"),
        Case(
            "not-mine", "path:agent_id", 404, "agent_not_found", path="/v1/users/me/agents/{peer}"
        ),
    ],
    ("POST", "/v1/users/me/agents/{agent_id}/rotate-key"): [
        *path_cases("/v1/users/me/agents/{agent_id}/rotate-key", "agent_id", "agent_not_found"),
        Case(
            "not-mine",
            "path:agent_id",
            404,
            "agent_not_found",
            path="/v1/users/me/agents/{peer}/rotate-key",
        ),
    ],
    ("DELETE", "/v1/users/sessions/{session_id}"): [
        *path_cases("/v1/users/sessions/{session_id}", "session_id", "session_not_found"),
        Case(
            "unknown-session",
            "path:session_id",
            404,
            "session_not_found",
            path="/v1/users/sessions/ses_0123456789abcdef",
        ),
        Case(
            "uppercase-hex",
            "path:session_id",
            404,
            "session_not_found",
            path="/v1/users/sessions/ses_0123456789ABCDEF",
        ),
    ],
    ("GET", "/v1/agents/online"): [],
    ("GET", "/v1/agents/search"): [
        Case("q-missing", "query:q", 400, V),
        Case("q-empty", "query:q", 400, V, params={"q": ""}),
        Case("q-blank", "query:q", 400, V, params={"q": "    "}),
        Case("q-65", "query:q", 400, V, params={"q": "q" * 65}),
        Case("q-huge", "query:q", 400, V, params={"q": "q" * 5000}),
        Case("q-nul", "query:q", 400, V, params={"q": "\x00"}),  # would match every account
        Case("q-control", "query:q", 400, V, params={"q": "a\x1bb"}),
        *limit_cases(50, q="x"),
    ],
    ("GET", "/v1/agents/{agent_id}"): [
        *path_cases("/v1/agents/{agent_id}", "agent_id", "agent_not_found", capped=False),
        Case("deleted-style-id", "path:agent_id", 404, "agent_not_found", path="/v1/agents/0"),
        Case("negative-id", "path:agent_id", 404, "agent_not_found", path="/v1/agents/-10001"),
        Case("float-id", "path:agent_id", 404, "agent_not_found", path="/v1/agents/10001.0"),
    ],
    ("POST", "/v1/users/register"): [
        Case("password-missing", "body", 400, V, json={"display_name": "h"}),
        Case("password-short", "body", 400, V, json={"display_name": "h", "password": "short"}),
        Case("password-257", "body", 400, V, json={"display_name": "h", "password": "p" * 257}),
        Case("password-int", "body", 400, V, json={"display_name": "h", "password": 12345678}),
        Case("name-missing", "body", 400, V, json={"password": "long enough"}),
        Case("name-65", "body", 400, V, json={"display_name": "n" * 65, "password": "long enough"}),
        Case(
            "name-taken",
            "body",
            409,
            "name_taken",
            json={"display_name": "{my_name}", "password": "long enough"},
        ),
    ],
    ("POST", "/v1/users/login"): [
        Case("no-name-or-id", "body", 400, V, json={"password": "whatever1"}),
        Case("password-missing", "body", 400, V, json={"display_name": "{my_name}"}),
        Case("password-empty", "body", 400, V, json={"display_name": "x", "password": ""}),
        Case("name-int", "body", 400, V, json={"display_name": 1, "password": "whatever1"}),
        Case("username-int", "body", 400, V, json={"username": 1, "password": "whatever1"}),
        Case("username-65", "body", 400, V, json={"username": "u" * 65, "password": "whatever1"}),
        Case("id-33", "body", 400, V, json={"id": "P" + "1" * 32, "password": "whatever1"}),
        Case(
            "unknown-name",
            "body",
            401,
            "invalid_credentials",
            json={"display_name": "nobody-" + unique_name(), "password": "whatever1"},
        ),
        Case(
            "agent-name",
            "body",
            401,
            "invalid_credentials",
            json={"display_name": "{my_name}", "password": "whatever1"},
        ),
        Case(
            "agent-id",
            "body",
            401,
            "invalid_credentials",
            json={"id": "{me}", "password": "whatever1"},
        ),
    ],
    ("GET", "/v1/profile/{account_id}"): [
        *path_cases("/v1/profile/{account_id}", "account_id", "agent_not_found", capped=False),
        Case(
            "human-style-unknown",
            "path:account_id",
            404,
            "agent_not_found",
            path="/v1/profile/P999999999",
        ),
    ],
    ("POST", "/v1/messages"): [
        *[replace(c, json=_msg(**c.json)) for c in SIGNATURE_CASES],
        # `to`
        Case("to-missing", "body", 400, V, json={"content": {"body": "hi"}}),
        Case("to-null", "body", 400, V, json={"to": None, "body": "hi"}),
        Case("to-list", "body", 400, V, json={"to": ["{peer}"], "body": "hi"}),
        Case("to-object", "body", 400, V, json={"to": {"id": "{peer}"}, "body": "hi"}),
        Case("to-bool", "body", 400, V, json={"to": True, "body": "hi"}),
        Case("to-float", "body", 400, V, json={"to": 10001.0, "body": "hi"}),
        Case("to-empty", "body", 404, "agent_not_found", json={"to": "", "body": "hi"}),
        Case("to-garbage", "body", 404, "agent_not_found", json={"to": "alice", "body": "hi"}),
        Case("to-negative", "body", 404, "agent_not_found", json={"to": -10001, "body": "hi"}),
        Case("to-huge-int", "body", 404, "agent_not_found", json={"to": 10**30, "body": "hi"}),
        Case("to-traversal", "body", 404, "agent_not_found", json={"to": "../10001", "body": "hi"}),
        Case("to-unknown", "body", 404, "agent_not_found", json={"to": "999999999", "body": "x"}),
        Case("to-self", "body", 400, V, json={"to": "{me}", "body": "hi"}),
        # content
        Case("content-string", "body", 400, V, json={"to": "{peer}", "content": "hi"}),
        Case("content-list", "body", 400, V, json={"to": "{peer}", "content": ["hi"]}),
        Case("body-missing", "body", 400, IC, json={"to": "{peer}"}),
        Case("body-null", "body", 400, IC, json=_content("text", None)),
        Case("body-empty", "body", 400, IC, json=_content("text", "")),
        Case("body-int", "body", 400, IC, json=_content("text", 42)),
        Case("body-list-text", "body", 400, IC, json=_content("text", ["a"])),
        Case("body-object-markdown", "body", 400, IC, json=_content("markdown", {"a": 1})),
        Case(
            "body-over-max",
            "body",
            400,
            IC,
            json=_content("text", "x" * (MAX_MESSAGE_BODY_BYTES + 1)),
        ),
        Case(
            "body-over-max-multibyte",
            "body",
            400,
            IC,
            json=_content("text", "€" * (MAX_MESSAGE_BODY_BYTES // 3 + 1)),
        ),
        Case(
            "flat-body-over-max",
            "body",
            400,
            IC,
            json={"to": "{peer}", "body": "x" * (MAX_MESSAGE_BODY_BYTES + 1)},
        ),
        Case(
            "body-lone-surrogate",
            "body",
            400,
            IC,
            content=b'{"to": "{peer}", "content": {"format": "text", "body": "a\\udc00b"}}',
            headers={"Content-Type": "application/json"},
        ),
        Case(
            "json-body-lone-surrogate",
            "body",
            400,
            IC,
            content=b'{"to": "{peer}", "content": {"format": "json", "body": {"k": "\\ud800"}}}',
            headers={"Content-Type": "application/json"},
        ),
        Case("format-unknown", "body", 400, IC, json=_content("video", "x")),
        Case("format-uppercase", "body", 400, IC, json=_content("TEXT", "x")),
        Case("format-int", "body", 400, V, json=_content(1, "x")),
        Case("format-17", "body", 400, V, json=_content("t" * 17, "x")),
        Case(
            "flat-format-unknown",
            "body",
            400,
            IC,
            json={"to": "{peer}", "body": "x", "format": "html"},
        ),
        Case("json-invalid", "body", 400, IC, json=_content("json", "{not json")),
        Case("json-truncated", "body", 400, IC, json=_content("json", '{"a": ')),
        Case("json-garbage", "body", 400, IC, json=_content("json", "NaN!")),
        # Python's json accepts these; JSON (RFC 8259) and every other parser do not.
        Case("json-nan", "body", 400, IC, json=_content("json", "NaN")),
        Case("json-infinity", "body", 400, IC, json=_content("json", '{"x": -Infinity}')),
        Case("json-deeply-nested", "body", 400, IC, json=_content("json", "[" * 60_000)),
        Case("image-no-url", "body", 400, IC, json=_content("image", '{"width": 10}')),
        Case("image-deeply-nested", "body", 400, IC, json=_content("image", "[" * 60_000)),
        Case("image-not-json", "body", 400, IC, json=_content("image", "https://x/a.png")),
        Case("image-relative-url", "body", 400, IC, json=_content("image", '{"url": "/a.png"}')),
        Case("image-url-int", "body", 400, IC, json=_content("image", '{"url": 5}')),
        Case(
            "image-data-url",
            "body",
            400,
            IC,
            json=_content("image", '{"url": "data:image/png;base64,AAAA"}'),
        ),
        Case("image-body-object-no-url", "body", 400, IC, json=_content("image", {"w": 1})),
        # thread_id, reply_to, type, idempotency
        Case("thread-id-bad-chars", "body", 400, "invalid_id", json=_msg(thread_id="a b/c")),
        Case("thread-id-traversal", "body", 400, "invalid_id", json=_msg(thread_id="../x")),
        Case("thread-id-129", "body", 400, V, json=_msg(thread_id="t" * 129)),
        Case("thread-id-int", "body", 400, V, json=_msg(thread_id=5)),
        Case("reply-to-garbage", "body", 400, "invalid_id", json=_msg(reply_to="not-an-id")),
        Case("reply-to-65", "body", 400, V, json=_msg(reply_to="m" * 65)),
        Case("reply-to-int", "body", 400, V, json=_msg(reply_to=7)),
        Case("type-unknown", "body", 400, V, json=_msg(type="friend_request")),
        Case("type-int", "body", 400, V, json=_msg(type=1)),
        Case("idempotency-empty", "body", 400, V, json=_msg(idempotency_key="")),
        Case("idempotency-129", "body", 400, V, json=_msg(idempotency_key="k" * 129)),
        Case("idempotency-control", "body", 400, V, json=_msg(idempotency_key="a\u0001b")),
        Case("idempotency-int", "body", 400, V, json=_msg(idempotency_key=5)),
        Case(
            "idempotency-header-129",
            "header:idempotency-key",
            400,
            V,
            json=_msg(),
            headers={"Idempotency-Key": "k" * 129},
        ),
    ],
    ("GET", "/v1/messages/pending"): [
        Case("timeout-negative", "query:timeout", 400, V, params={"timeout": -1}),
        Case("timeout-text", "query:timeout", 400, V, params={"timeout": "soon"}),
        Case("timeout-nan", "query:timeout", 400, V, params={"timeout": "nan"}),
        Case("timeout-inf", "query:timeout", 400, V, params={"timeout": "inf"}),
        Case("timeout-huge", "query:timeout", 400, V, params={"timeout": 10**9}),
        *limit_cases(500),
    ],
    ("POST", "/v1/messages/ack"): [
        Case("missing", "body", 400, V, json={}),
        Case("negative", "body", 400, V, json={"up_to_seq": -1}),
        Case("text", "body", 400, V, json={"up_to_seq": "five"}),
        Case("float", "body", 400, V, json={"up_to_seq": 1.5}),
        Case("null", "body", 400, V, json={"up_to_seq": None}),
        Case("int64-overflow", "body", 400, V, json={"up_to_seq": INT64_OVERFLOW}),
        Case("huge", "body", 400, V, json={"up_to_seq": 10**40}),
        Case("unknown-field", "body", 400, V, json={"up_to_seq": 1, "id": "x"}),
    ],
    ("POST", "/v1/messages/{message_id}/ack"): [
        *path_cases("/v1/messages/{message_id}/ack", "message_id", "message_not_found"),
        Case(
            "unknown-valid-id",
            "path:message_id",
            404,
            "message_not_found",
            path="/v1/messages/m_" + "0" * 26 + "/ack",
        ),
        Case(
            "own-sent-message",
            "path:message_id",
            404,
            "message_not_found",
            path="/v1/messages/{sent_msg}/ack",
        ),
        Case(
            "lowercase-id",
            "path:message_id",
            404,
            "message_not_found",
            path="/v1/messages/{inbox_msg_lower}/ack",
        ),
    ],
    ("GET", "/v1/messages/sync"): [
        # Seed 003 lists `since` as required (or since_seq, what the agentim SDK sends).
        Case("no-since", "query:since", 400, V, params={}),
        Case("only-limit", "query:since", 400, V, params={"limit": 5}),
        Case("since-seq-negative", "query:since_seq", 400, V, params={"since_seq": -1}),
        Case("since-seq-text", "query:since_seq", 400, V, params={"since_seq": "abc"}),
        Case("since-seq-float", "query:since_seq", 400, V, params={"since_seq": "1.5"}),
        Case(
            "since-seq-int64-overflow",
            "query:since_seq",
            400,
            V,
            params={"since_seq": INT64_OVERFLOW},
        ),
        Case("since-seq-huge", "query:since_seq", 400, V, params={"since_seq": "9" * 40}),
        Case(
            "since-not-a-date", "query:since", 400, "invalid_cursor", params={"since": "not-a-date"}
        ),
        Case("since-empty", "query:since", 400, "invalid_cursor", params={"since": ""}),
        Case(
            "since-bad-month",
            "query:since",
            400,
            "invalid_cursor",
            params={"since": "2026-13-01T00:00:00Z"},
        ),
        Case(
            "since-bad-offset",
            "query:since",
            400,
            "invalid_cursor",
            params={"since": "2026-01-01T00:00:00+99:00"},
        ),
        Case("since-nul", "query:since", 400, "invalid_cursor", params={"since": "\x00"}),
        Case("since-65", "query:since", 400, V, params={"since": "2" * 65}),
        *limit_cases(500),
    ],
    ("GET", "/v1/messages/threads"): limit_cases(200),
    ("GET", "/v1/threads/{thread_id}/messages"): [
        *path_cases("/v1/threads/{thread_id}/messages", "thread_id", "thread_not_found"),
        Case(
            "unknown-dm-thread",
            "path:thread_id",
            404,
            "thread_not_found",
            path="/v1/threads/dm_00000000000000000000/messages",
        ),
        Case(
            "uuid-thread",
            "path:thread_id",
            404,
            "thread_not_found",
            path="/v1/threads/11111111-2222-3333-4444-555555555555/messages",
        ),
        Case(
            "before-garbage",
            "query:before",
            400,
            "invalid_cursor",
            path="/v1/threads/{thread}/messages",
            params={"before": "@@@"},
        ),
        Case(
            "before-not-base64-cursor",
            "query:before",
            400,
            "invalid_cursor",
            path="/v1/threads/{thread}/messages",
            params={"before": "aGVsbG8"},
        ),
        Case(
            "before-negative",
            "query:before",
            400,
            "invalid_cursor",
            path="/v1/threads/{thread}/messages",
            params={"before": "ci0x"},
        ),  # "r-1"
        Case(
            "before-int64-overflow",
            "query:before",
            400,
            "invalid_cursor",
            path="/v1/threads/{thread}/messages",
            params={"before": "cjk5OTk5OTk5OTk5OTk5OTk5OTk5"},
        ),  # "r" + 9 * 21
        Case(
            "before-65",
            "query:before",
            400,
            V,
            path="/v1/threads/{thread}/messages",
            params={"before": "c" * 65},
        ),
        *limit_cases(200, path="/v1/threads/{thread}/messages"),
    ],
    **SOCIAL_CASES,
}


JSON_HEADERS = {"Content-Type": "application/json"}


def _generic_cases(key: tuple[str, str], endpoint: Endpoint) -> list[Case]:
    if endpoint.multipart_body:
        # A well-formed upload whose file alone is over the route's cap.
        head = (
            b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + PNG_BYTES
        )
        oversize = head + b"\x00" * endpoint.body_cap + b"\r\n--xyz--\r\n"
        headers = {"Content-Type": "multipart/form-data; boundary=xyz"}
    else:
        oversize = b"{" + b" " * (endpoint.body_cap - 1) + b"}"
        headers = JSON_HEADERS
    cases = [
        Case("oversize-body", "size", 413, "payload_too_large", content=oversize, headers=headers)
    ]
    if endpoint.json_body or endpoint.multipart_body:
        # No Content-Length: the cap is enforced by counting what arrives (api/limits.py).
        cases.append(replace(cases[0], name="oversize-chunked-body", chunked=True))
    if endpoint.auth:
        cases += [
            Case("no-credentials", "auth", 401, "unauthenticated", credentials="none"),
            Case("invalid-key", "auth", 401, "invalid_credentials", credentials="invalid"),
        ]
    if endpoint.multipart_body:
        cases += [
            Case("json-object", "body", 400, V, json={"file": "a.png"}),
            Case(
                "urlencoded",
                "body",
                400,
                V,
                content=b"file=a.png",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            Case(
                "raw-bytes",
                "body",
                400,
                V,
                content=PNG_BYTES,
                headers={"Content-Type": "image/png"},
            ),
        ]
    if endpoint.json_body:
        cases += [
            Case(
                "malformed-json",
                "body",
                400,
                "invalid_json",
                content=b'{"a": ',
                headers=JSON_HEADERS,
            ),
            Case(
                "json-array",
                "body",
                endpoint.invalid_status,
                V,
                content=b"[]",
                headers=JSON_HEADERS,
            ),
            Case(
                "json-string",
                "body",
                endpoint.invalid_status,
                V,
                content=b'"x"',
                headers=JSON_HEADERS,
            ),
            Case(
                "not-json",
                "body",
                endpoint.invalid_status,
                V,
                content=b"a=b",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            Case(
                "deeply-nested",
                "body",
                400,
                "invalid_json",
                content=b"[" * 100_000,
                headers=JSON_HEADERS,
            ),
            Case(
                "invalid-utf8",
                "body",
                400,
                "invalid_json",
                content=b'{"a": "\xff\xfe"}',
                headers=JSON_HEADERS,
            ),
        ]
    return cases


# Codes of a 400 that is decided by stored state, not by the request: the sender has no key on
# file. Every other 400 is the request's shape, size or format.
_STORED_STATE_400 = {"no_public_key"}


def answered_from_request(case: Case) -> bool:
    """Which stores a case runs on (the rule, checked here for every case of the table).

    A case whose answer is decided by the request alone (its shape, sizes, formats, whether it
    carries a credential at all) cannot differ between SQLite and PostgreSQL: 400 (but
    `_STORED_STATE_400`), 413, 415 and 401 `unauthenticated`. It runs on SQLite only. Where
    it authenticates first, that lookup of a valid credential is the one every other test makes
    on both stores. A case whose answer depends on rows (401 `invalid_credentials`: a key,
    secret or password looked up; 403, 404, 409: an id, a membership, a name) runs on both,
    where the stores can differ (id case, types, constraint names). A status not listed here
    fails collection until it is classified."""
    if case.status in (400, 413, 415):
        return case.code not in _STORED_STATE_400
    if case.status == 401:
        return case.code == "unauthenticated"
    assert case.status in (403, 404, 409), f"{case.name}: classify status {case.status}"
    return False


ALL_CASES = [
    (key, case)
    for key, endpoint in ENDPOINTS.items()
    for case in CASES.get(key, []) + _generic_cases(key, endpoint)
]
REQUEST_CASES, STORE_CASES = (
    [
        pytest.param(key, case, id=f"{key[0]} {key[1]} :: {case.name}")
        for key, case in ALL_CASES
        if answered_from_request(case) is one_store
    ]
    for one_store in (True, False)
)


def _is_studio(path: str) -> bool:
    return path == "/studio" or path.startswith("/studio/")


async def test_table_covers_every_endpoint(client: httpx.AsyncClient) -> None:
    """Every path+method in /openapi.json has an entry here, and every one of its parameters
    (and its body, if any) has at least one specific bad-input case."""
    spec = (await client.get("/openapi.json")).json()
    documented: dict[tuple[str, str], dict[str, Any]] = {
        (method.upper(), path): op
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        # /studio (seed 004) answers in its own error shape, not /v1's: its routes have
        # their own table in tests/studio/test_studio_bad_input.py.
        if not _is_studio(path)
    }
    assert set(ENDPOINTS) == set(documented), (
        f"missing here: {sorted(set(documented) - set(ENDPOINTS))}; "
        f"gone from the API: {sorted(set(ENDPOINTS) - set(documented))}"
    )
    assert set(CASES) == set(ENDPOINTS)
    for key, op in documented.items():
        targets = {case.target for case in CASES[key]}
        for param in op.get("parameters", []):
            wanted = f"{param['in']}:{param['name'].lower()}"
            assert wanted in targets, f"{key}: no bad-input case for {wanted}"
        endpoint = ENDPOINTS[key]
        if "requestBody" in op:
            assert "body" in targets, f"{key}: no bad-input case for the body"
            kinds = set(op["requestBody"]["content"])
            assert endpoint.multipart_body == ("multipart/form-data" in kinds), key
            assert endpoint.json_body == ("application/json" in kinds), key
        else:
            assert not endpoint.json_body, f"{key} takes no body"
            assert not endpoint.multipart_body, f"{key} takes no body"


@dataclass
class Context:
    values: dict[str, str]
    agent_headers: dict[str, str]


async def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


async def _post_moment(
    client: httpx.AsyncClient, author: TestAgent, visibility: str = "public"
) -> str:
    response = await client.post(
        "/v1/moments", headers=author.headers, json={"content": "hi", "visibility": visibility}
    )
    return str((await _ok(response, 201))["id"])


async def _upload(client: httpx.AsyncClient, owner: TestAgent) -> str:
    response = await client.post(
        "/v1/files/upload",
        headers=owner.headers,
        files={"file": ("a.png", PNG_BYTES, "image/png")},
    )
    return str((await _ok(response, 201))["id"])


async def _request_friend(client: httpx.AsyncClient, sender: TestAgent, to: str) -> None:
    response = await client.post("/v1/friends/request", headers=sender.headers, json={"to": to})
    await _ok(response, 201)


async def _first_notification(client: httpx.AsyncClient, owner: TestAgent) -> str:
    response = await client.get("/v1/notifications", headers=owner.headers)
    return str((await _ok(response))["notifications"][0]["id"])


_CONTEXTS: dict[tuple[str, frozenset[str]], Context] = {}


async def _shared_context(
    client: httpx.AsyncClient, server: ServerProcess, needed: set[str]
) -> Context:
    """The context for `needed`, made once per server and set of placeholders (49 sets for
    about 1,900 cases): every case is a request that fails, so it changes nothing the next case
    with the same placeholders relies on, and a case that did change something fails itself.
    Each set keeps its own accounts, so a case sees exactly the state its placeholders ask for
    (a {stranger} without the friend request {requested} adds). Making it per case was four
    requests and two registrations of setup for each one-request case."""
    key = (server.url, frozenset(needed))
    if key not in _CONTEXTS:
        _CONTEXTS[key] = await _context(client, needed)
    return _CONTEXTS[key]


async def _context(client: httpx.AsyncClient, needed: set[str]) -> Context:
    """Accounts and things for the placeholders in `needed`, created through the API (the
    expensive ones only when a case uses them). Placeholders named after path parameters
    ({group_id}, {moment_id}, ...) are valid values, for cases about something else."""
    me = await register(client, unique_name("bad"))
    peer = await register(client, unique_name("peer"))
    inbox = await send(client, peer, me.id, "to me")
    sent = await send(client, me, peer.id, "from me")
    values = {
        "me": me.id,
        "peer": peer.id,
        "my_name": me.display_name,
        "peer_name": peer.display_name,
        "thread": inbox["thread_id"],
        "inbox_msg": inbox["id"],
        "inbox_msg_lower": inbox["id"].lower(),
        "sent_msg": sent["id"],
        "secret": me.recovery_secret,
        "agent_id": peer.id,
        "account_id": peer.id,
        "session_id": "ses_0000000000000000",
        "message_id": inbox["id"],
        "thread_id": inbox["thread_id"],
        "member_id": peer.id,
        "ref": me.id,
    }

    def wants(*names: str) -> bool:
        return not needed.isdisjoint(names)

    if wants("stranger", "requested"):
        stranger = await register(client, unique_name("stranger"))
        values["stranger"] = values["requested"] = stranger.id
        if wants("requested"):
            await _request_friend(client, me, stranger.id)
    if wants("blocker"):
        blocker = await register(client, unique_name("blocker"))
        await _ok(await client.post(f"/v1/agents/block/{me.id}", headers=blocker.headers))
        values["blocker"] = blocker.id
    if wants("group", "group_id", "group_upper"):
        response = await client.post(
            "/v1/groups",
            headers=me.headers,
            json={"name": unique_name("group"), "members": [peer.id]},
        )
        group = (await _ok(response, 201))["id"]
        values.update(group=group, group_id=group, group_upper=group.upper())
    if wants("other_group"):
        response = await client.post(
            "/v1/groups", headers=peer.headers, json={"name": unique_name("private")}
        )
        values["other_group"] = (await _ok(response, 201))["id"]
    if wants("moment", "moment_id", "moment_lower", "comment", "comment_id"):
        moment = await _post_moment(client, me)
        values.update(moment=moment, moment_id=moment, moment_lower=moment.lower())
        response = await client.post(
            f"/v1/moments/{moment}/comments", headers=me.headers, json={"content": "first"}
        )
        comment = (await _ok(response, 201))["id"]
        values.update(comment=comment, comment_id=comment)
    if wants("peer_moment", "peer_comment"):
        values["peer_moment"] = await _post_moment(client, peer)
        response = await client.post(
            f"/v1/moments/{values['peer_moment']}/comments",
            headers=peer.headers,
            json={"content": "mine"},
        )
        values["peer_comment"] = (await _ok(response, 201))["id"]
    if wants("peer_private_moment"):
        values["peer_private_moment"] = await _post_moment(client, peer, "private")
    if wants("file", "file_id", "file_lower"):
        file = await _upload(client, me)
        values.update(file=file, file_id=file, file_lower=file.lower())
    if wants("peer_file"):
        values["peer_file"] = await _upload(client, peer)
    if wants("notification", "notification_id"):
        await _request_friend(client, peer, me.id)
        notification = await _first_notification(client, me)
        values.update(notification=notification, notification_id=notification)
    if wants("peer_notification"):
        third = await register(client, unique_name("third"))
        await _request_friend(client, third, peer.id)
        values["peer_notification"] = await _first_notification(client, peer)
    return Context(values=values, agent_headers=me.headers)


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _placeholders(case: Case, template: str) -> set[str]:
    text = " ".join(
        [
            case.path or template,
            json.dumps(case.params),
            "" if case.json is UNSET else json.dumps(case.json),
            (case.content or b"")[:10_000].decode("latin-1"),
        ]
    )
    return set(_PLACEHOLDER.findall(text))


def _fill(value: Any, values: dict[str, str]) -> Any:
    if isinstance(value, str):
        for name, replacement in values.items():
            value = value.replace("{" + name + "}", replacement)
        return value
    if isinstance(value, dict):
        return {_fill(k, values): _fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    return value


async def _chunks(content: bytes, size: int = 65_536) -> AsyncIterator[bytes]:
    for start in range(0, len(content), size):
        yield content[start : start + size]


# One store: see `answered_from_request`.
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
@pytest.mark.parametrize(("key", "case"), REQUEST_CASES)
async def test_bad_request(
    client: httpx.AsyncClient, server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    await _check(client, server, key, case)


@pytest.mark.parametrize(("key", "case"), STORE_CASES)
async def test_bad_input_on_stored_state(
    client: httpx.AsyncClient, server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    await _check(client, server, key, case)


async def _check(
    client: httpx.AsyncClient, server: ServerProcess, key: tuple[str, str], case: Case
) -> None:
    method, template = key
    ctx = await _shared_context(client, server, _placeholders(case, template))
    headers: dict[str, str] = {}
    if case.credentials == "agent":
        headers.update(ctx.agent_headers)
    elif case.credentials == "invalid":
        headers["Authorization"] = "Bearer am_definitely_not_a_key"
    elif case.credentials == "human":
        name = unique_name("human")
        response = await client.post(
            "/v1/users/register", json={"display_name": name, "password": "correct horse"}
        )
        assert response.status_code == 201, response.text
        headers["Authorization"] = "Bearer " + response.json()["token"]
    headers.update(case.headers)
    path = _fill(case.path or template, ctx.values)
    assert "{" not in path, f"unfilled path template {path}"
    kwargs: dict[str, Any] = {"headers": headers, "params": _fill(case.params, ctx.values)}
    if case.json is not UNSET:
        kwargs["content"] = json.dumps(_fill(case.json, ctx.values)).encode()
        headers.setdefault("Content-Type", "application/json")
    elif case.chunked:
        assert case.content is not None
        kwargs["content"] = _chunks(case.content)
    elif case.content is not None:
        kwargs["content"] = _fill(case.content.decode("latin-1"), ctx.values).encode("latin-1")
    elif case.files is not None or case.data is not None:
        # httpx sends a multipart body even for data alone when `files` is given.
        kwargs["files"] = case.files or {}
        kwargs["data"] = case.data

    log_offset = len(server.log())
    response = await client.request(method, path, **kwargs)

    assert_error(response, case.status, case.code)
    assert_no_server_errors(server, log_offset)
