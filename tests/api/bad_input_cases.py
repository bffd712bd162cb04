"""The bad-input table's building blocks (`Endpoint`, `Case`, path/limit/cursor helpers) and
the cases of the social areas: privacy and blocks, friends, profile cards, groups, moments,
files and avatars, notifications. test_bad_input.py holds the older areas and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

MAX_BODY_BYTES = 1_048_576  # settings.max_body_bytes default
MAX_MESSAGE_BODY_BYTES = 65_536  # settings.max_message_body_bytes default
MAX_UPLOAD_BYTES = 20 * 1024 * 1024  # settings.max_upload_bytes default
MAX_AVATAR_BYTES = 5 * 1024 * 1024  # settings.max_avatar_bytes default
MULTIPART_OVERHEAD_BYTES = 16_384  # domain/files.py: framing allowed on top of the file cap
INT64_OVERFLOW = 2**63  # one past SQLite's INTEGER range
UNSET: Any = object()

V = "validation_error"
IC = "invalid_content"
IID = "invalid_id"
CUR = "invalid_cursor"
ANF = "agent_not_found"

FilePart = tuple[str, bytes, str]  # (file name, bytes, Content-Type), as httpx takes them
Files = dict[str, FilePart] | list[tuple[str, FilePart]]

# The PNG signature and an IHDR chunk header: enough to sniff as image/png (domain/files.py).
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + b"\x00" * 64
GIF_BYTES = b"GIF89a" + b"\x00" * 64


@dataclass(frozen=True)
class Endpoint:
    auth: bool  # needs an account's credentials
    json_body: bool  # takes a JSON request body
    multipart_body: bool = False  # takes a multipart/form-data upload instead
    body_cap: int = MAX_BODY_BYTES  # its request-body cap (api/limits.py)
    invalid_status: int = 400  # a body it cannot validate; the /ai dialect says 400

    def __post_init__(self) -> None:
        assert not (self.json_body and self.multipart_body), "one body kind per endpoint"


@dataclass(frozen=True)
class Case:
    """One bad request. `path`, `json`, `params` and `content` may use `{placeholders}` ({me},
    {peer}, {thread}, {group}, {moment}, ...), filled from the per-test context of `_context`.
    `files` / `data` send a multipart/form-data body instead (upload routes)."""

    name: str
    target: str  # what is bad: "path:<name>", "query:<name>", "header:<name>", "body", ...
    status: int
    code: str | None
    path: str | None = None  # concrete path; defaults to the endpoint's template
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = UNSET
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    credentials: str = "agent"  # "agent", "none", "invalid", "human"
    files: Files | None = None
    data: dict[str, str] | None = None
    chunked: bool = False  # send `content` chunked, without a Content-Length


# Garbage for path parameters: (case name, raw path segment, expected status, code or None for
# "the area's answer to an id that cannot exist"). Segments are sent percent-encoded as given.
PATH_GARBAGE: list[tuple[str, str, int, str | None]] = [
    ("very-long", "x" * 5000, 400, "validation_error"),
    ("unicode", "%E2%9C%93%F0%9F%A4%96", 404, None),
    ("rtl-override", "%E2%80%AE10001", 404, None),
    ("nul", "%00", 404, None),
    ("dot-dot-slash", "..%2F..%2Fhealth", 404, "not_found"),
    ("dot-dot", "%2E%2E", 404, None),
    ("space", "%20", 404, None),
    ("sql", "1%27%20OR%20%271%27%3D%271", 404, None),
]


def path_cases(
    template: str,
    param: str,
    not_found_code: str,
    *,
    malformed: tuple[int, str] | None = None,
    json: Any = UNSET,
    label: str = "path",
    capped: bool = True,
) -> list[Case]:
    """PATH_GARBAGE in `param` of `template`. An id that cannot exist is 404 `not_found_code`,
    or `malformed` (status, code) where the area answers malformed ids so (moments: 400
    invalid_id). `json` is a valid body, sent so that only the path is wrong; `label` starts
    the case names (a second path parameter needs its own). `capped=False`: the parameter
    has no length cap, so even a 5000-character segment is just an id of nothing (account
    ids: seed 001 answers 404 for an agent that does not exist, whatever the id looks like)."""
    cases = []
    for name, segment, status, code in PATH_GARBAGE:
        if code == "validation_error" and not capped:
            status, code = 404, None
        if code is None:
            status, code = malformed or (status, not_found_code)
        path = template.replace("{" + param + "}", segment)
        cases.append(Case(f"{label}-{name}", f"path:{param}", status, code, path=path, json=json))
    return cases


def limit_cases(maximum: int, *, path: str | None = None, **params: Any) -> list[Case]:
    """Bad `limit`s; `path` and `params` are the rest of an otherwise valid request."""
    bad: list[tuple[str, Any]] = [
        ("limit-0", 0),
        ("limit-negative", -1),
        ("limit-huge", 10**9),
        ("limit-max+1", maximum + 1),
        ("limit-text", "ten"),
        ("limit-float", "1.5"),
    ]
    return [
        Case(name, "query:limit", 400, V, path=path, params={**params, "limit": value})
        for name, value in bad
    ]


def cursor_cases(param: str, *, path: str | None = None, max_chars: int = 64) -> list[Case]:
    """Bad page cursors (domain/cursors.py: base64url of "r<row number>", or of
    "a<activity>:<id>") in `param`, which takes at most `max_chars` characters."""
    bad: list[tuple[str, str, str]] = [
        ("garbage", "@@@", CUR),
        ("not-base64-cursor", "aGVsbG8", CUR),  # "hello"
        ("negative", "ci0x", CUR),  # "r-1"
        ("int64-overflow", "cjk5OTk5OTk5OTk5OTk5OTk5OTk5", CUR),  # "r" + 9 * 21
        (str(max_chars + 1), "c" * (max_chars + 1), V),
    ]
    return [
        Case(f"{param}-{name}", f"query:{param}", 400, code, path=path, params={param: value})
        for name, value, code in bad
    ]


def _multipart(field_name: str, filename: str, content: bytes, ctype: str) -> dict[str, Any]:
    return {"files": {field_name: (filename, content, ctype)}}


# --- privacy settings and blocks ---------------------------------------------------------------

SETTINGS_CASES = [
    Case("who-int", "body", 400, V, json={"who_can_message": 1}),
    Case("who-unknown", "body", 400, V, json={"who_can_message": "strangers"}),
    Case("who-uppercase", "body", 400, V, json={"who_can_message": "EVERYONE"}),
    Case("who-33", "body", 400, V, json={"who_can_message": "e" * 33}),
    Case("who-list", "body", 400, V, json={"who_can_message": ["nobody"]}),
    Case("who-nul", "body", 400, V, json={"who_can_message": "nobody\u0000"}),
    Case("requests-int", "body", 400, V, json={"who_can_friend_request": 1}),
    Case("requests-unknown", "body", 400, V, json={"who_can_friend_request": "friends_only"}),
    Case("requests-33", "body", 400, V, json={"who_can_friend_request": "e" * 33}),
    Case("discoverable-string", "body", 400, V, json={"discoverable": "false"}),
    Case("discoverable-int", "body", 400, V, json={"discoverable": 0}),
    Case("overrides-list", "body", 400, V, json={"trust_overrides": ["{peer}"]}),
    Case("overrides-string", "body", 400, V, json={"trust_overrides": "friend"}),
    Case("overrides-level", "body", 400, V, json={"trust_overrides": {"{peer}": "enemy"}}),
    Case("overrides-level-int", "body", 400, V, json={"trust_overrides": {"{peer}": 1}}),
    Case("overrides-key-garbage", "body", 400, IID, json={"trust_overrides": {"bob": "friend"}}),
    Case("overrides-key-self", "body", 400, V, json={"trust_overrides": {"{me}": "friend"}}),
    Case("overrides-key-nul", "body", 400, IID, json={"trust_overrides": {"\u0000": "friend"}}),
    Case(
        "overrides-key-surrogate", "body", 400, IID, json={"trust_overrides": {"\ud800": "friend"}}
    ),
    Case(
        "overrides-level-nul",
        "body",
        400,
        V,
        json={"trust_overrides": {"{peer}": "friend\u0000"}},
    ),
    Case(
        "overrides-201",
        "body",
        400,
        V,
        json={"trust_overrides": {str(20_000 + i): "stranger" for i in range(201)}},
    ),
]

BLOCK_CASES = [
    *path_cases("/v1/agents/block/{agent_id}", "agent_id", "agent_not_found", capped=False),
    Case("unknown-id", "path:agent_id", 404, "agent_not_found", path="/v1/agents/block/999999999"),
    Case("human-unknown", "path:agent_id", 404, "agent_not_found", path="/v1/agents/block/P99999"),
    Case("self", "path:agent_id", 400, V, path="/v1/agents/block/{me}"),
]

# --- friends -----------------------------------------------------------------------------------


def _friend_target_cases(field_name: str) -> list[Case]:
    return [
        Case("empty", "body", 400, V, json={}),
        # Seed 001: 404 for an agent that does not exist, whatever its id looks like.
        Case(f"{field_name}-garbage", "body", 404, ANF, json={field_name: "alice"}),
        Case(f"{field_name}-negative", "body", 404, ANF, json={field_name: -10001}),
        Case(f"{field_name}-huge-int", "body", 404, ANF, json={field_name: 10**30}),
        Case(f"{field_name}-zero", "body", 404, ANF, json={field_name: 0}),
        Case(f"{field_name}-traversal", "body", 404, ANF, json={field_name: "../10001"}),
        Case(f"{field_name}-empty", "body", 404, ANF, json={field_name: ""}),
        Case(f"{field_name}-bool", "body", 400, V, json={field_name: True}),
        Case(f"{field_name}-float", "body", 400, V, json={field_name: 10001.5}),
        Case(f"{field_name}-list", "body", 400, V, json={field_name: ["{peer}"]}),
        Case(f"{field_name}-object", "body", 400, V, json={field_name: {"id": "{peer}"}}),
        Case(f"{field_name}-33", "body", 404, ANF, json={field_name: "1" * 33}),
        Case(f"{field_name}-5000", "body", 404, ANF, json={field_name: "x" * 5000}),
    ]


FRIEND_REQUEST_CASES = [
    *_friend_target_cases("addressee"),
    Case("to-garbage", "body", 404, ANF, json={"to": "alice"}),
    Case("agent-id-bool", "body", 400, V, json={"agent_id": False}),
    Case("addressee-self", "body", 400, V, json={"addressee": "{me}"}),
    Case("addressee-blocks-me", "body", 403, "blocked", json={"addressee": "{blocker}"}),
    Case("addressee-human-unknown", "body", 404, "agent_not_found", json={"addressee": "P999999"}),
    Case("addressee-unknown", "body", 404, "agent_not_found", json={"addressee": "999999999"}),
    Case("addressee-unknown-int", "body", 404, "agent_not_found", json={"addressee": 999999999}),
    Case("message-int", "body", 400, V, json={"addressee": "{peer}", "message": 5}),
    Case("message-501", "body", 400, V, json={"addressee": "{peer}", "message": "m" * 501}),
    Case("message-nul", "body", 400, V, json={"addressee": "{peer}", "message": "a\u0000b"}),
    Case(
        "message-surrogate",
        "body",
        400,
        V,
        json={"addressee": "{peer}", "message": "a\ud800b"},
    ),
]

FRIEND_ANSWER_CASES = [
    *_friend_target_cases("requester"),
    Case("friend-id-garbage", "body", 404, ANF, json={"friend_id": "x y"}),
    Case("no-request", "body", 404, "friend_request_not_found", json={"requester": "{peer}"}),
    Case("unknown-account", "body", 404, ANF, json={"requester": "999999999"}),
    # The caller sent this one: only its addressee can answer it.
    Case(
        "own-request",
        "body",
        404,
        "friend_request_not_found",
        json={"requester": "{requested}"},
    ),
]

FRIEND_REMOVE_CASES = [
    *path_cases("/v1/friends/{agent_id}", "agent_id", "agent_not_found", capped=False),
    Case("not-a-friend", "path:agent_id", 404, "not_found", path="/v1/friends/{peer}"),
    Case("unknown-id", "path:agent_id", 404, ANF, path="/v1/friends/999999999"),
]

# --- groups ------------------------------------------------------------------------------------

G = "/v1/groups/{group}"
GROUP_UNKNOWN = "/v1/groups/00000000-0000-4000-8000-000000000000"
GNF = "group_not_found"


def _group_path_cases(suffix: str = "", json: Any = UNSET) -> list[Case]:
    """Bad `{group_id}`s for `/v1/groups/{group_id}<suffix>` (with a valid body `json`):
    garbage, an unknown UUID, another account's private group: all 404 group_not_found."""
    template = "/v1/groups/{group_id}" + suffix
    return [
        *path_cases(template, "group_id", GNF, json=json),
        Case("unknown-uuid", "path:group_id", 404, GNF, path=GROUP_UNKNOWN + suffix, json=json),
        Case(
            "uppercase-uuid",
            "path:group_id",
            404,
            GNF,
            path="/v1/groups/{group_upper}" + suffix,
            json=json,
        ),
        Case(
            "others-private-group",
            "path:group_id",
            404,
            GNF,
            path="/v1/groups/{other_group}" + suffix,
            json=json,
        ),
    ]


def _member_path_cases(suffix: str, json: Any = UNSET) -> list[Case]:
    """Bad `{member_id}`s for `/v1/groups/{group}/<suffix>/{member_id}...`."""
    template = G + suffix
    return [
        *path_cases(template, "member_id", "not_a_member", json=json, label="member"),
        Case(
            "member-unknown",
            "path:member_id",
            404,
            "not_a_member",
            path=template.replace("{member_id}", "999999999"),
            json=json,
        ),
        Case(
            "member-not-in-group",
            "path:member_id",
            404,
            "not_a_member",
            path=template.replace("{member_id}", "{stranger}"),
            json=json,
        ),
    ]


def _group_fields(extra_forbidden: bool) -> list[Case]:
    cases = [
        Case("name-int", "body", 400, V, json={"name": 5}),
        Case("name-list", "body", 400, V, json={"name": ["g"]}),
        Case("name-empty", "body", 400, V, json={"name": ""}),
        Case("name-blank", "body", 400, V, json={"name": "   "}),
        Case("name-65", "body", 400, V, json={"name": "n" * 65}),
        Case("name-huge", "body", 400, V, json={"name": "n" * 100_000}),
        Case("name-nul", "body", 400, V, json={"name": "a\u0000b"}),
        Case("name-surrogate", "body", 400, V, json={"name": "a\udc00b"}),
        Case("description-nul", "body", 400, V, json={"name": "g", "description": "a\u0000"}),
        Case("description-surrogate", "body", 400, V, json={"name": "g", "description": "\ud800"}),
        Case("avatar-nul", "body", 400, V, json={"name": "g", "avatar_url": "https://x/\u0000"}),
        Case("description-int", "body", 400, V, json={"name": "g", "description": 1}),
        Case("description-501", "body", 400, V, json={"name": "g", "description": "d" * 501}),
        Case("avatar-relative", "body", 400, V, json={"name": "g", "avatar_url": "/a.png"}),
        Case(
            "avatar-javascript",
            "body",
            400,
            V,
            json={"name": "g", "avatar_url": "javascript:alert(1)"},
        ),
        Case(
            "avatar-2049",
            "body",
            400,
            V,
            json={"name": "g", "avatar_url": "https://x/" + "a" * 2048},
        ),
        Case("is-public-string", "body", 400, V, json={"name": "g", "is_public": "true"}),
        Case("is-public-int", "body", 400, V, json={"name": "g", "is_public": 1}),
    ]
    if extra_forbidden:
        cases += [
            Case("unknown-field", "body", 400, V, json={"owner": "{peer}"}),
            Case("announcement-int", "body", 400, V, json={"announcement": 1}),
            Case("announcement-2001", "body", 400, V, json={"announcement": "a" * 2001}),
            Case("announcement-nul", "body", 400, V, json={"announcement": "a\u0000"}),
            Case("announcement-surrogate", "body", 400, V, json={"announcement": "\ud800"}),
        ]
    return cases


CREATE_GROUP_CASES = [
    Case("name-missing", "body", 400, V, json={"members": ["{peer}"]}),
    *_group_fields(extra_forbidden=False),
    Case("members-string", "body", 400, V, json={"name": "g", "members": "{peer}"}),
    Case("members-object", "body", 400, V, json={"name": "g", "members": {"id": "{peer}"}}),
    Case("members-bool", "body", 400, V, json={"name": "g", "members": [True]}),
    Case("members-float", "body", 400, V, json={"name": "g", "members": [10001.5]}),
    Case("members-garbage", "body", 404, ANF, json={"name": "g", "members": ["alice"]}),
    Case("members-negative", "body", 404, ANF, json={"name": "g", "members": [-10001]}),
    Case("members-huge-int", "body", 404, ANF, json={"name": "g", "members": [10**30]}),
    Case(
        "members-unknown",
        "body",
        404,
        "agent_not_found",
        json={"name": "g", "members": ["{peer}", "999999999"]},
    ),
    Case(
        "members-501",
        "body",
        400,
        V,
        json={"name": "g", "members": [str(20_000 + i) for i in range(501)]},
    ),
]

INVITE_CASES = [
    *_group_path_cases("/members", json={"members": ["{stranger}"]}),
    Case("members-missing", "body", 400, V, path=G + "/members", json={}),
    Case("members-empty", "body", 400, V, path=G + "/members", json={"members": []}),
    Case("members-string", "body", 400, V, path=G + "/members", json={"members": "{peer}"}),
    Case("members-bool", "body", 400, V, path=G + "/members", json={"members": [True]}),
    Case("members-garbage", "body", 404, ANF, path=G + "/members", json={"members": ["x"]}),
    Case(
        "members-201",
        "body",
        400,
        V,
        path=G + "/members",
        json={"members": [str(20_000 + i) for i in range(201)]},
    ),
    Case(
        "members-unknown",
        "body",
        404,
        "agent_not_found",
        path=G + "/members",
        json={"members": ["999999999"]},
    ),
]

GROUP_MESSAGE = {"content": {"format": "text", "body": "hi"}}
GM = G + "/messages"


def _gm(content: Any = UNSET, **fields: Any) -> dict[str, Any]:
    body = dict(GROUP_MESSAGE) if content is UNSET else {"content": content}
    return {**body, **fields}


SEND_GROUP_MESSAGE_CASES = [
    *_group_path_cases("/messages", json=GROUP_MESSAGE),
    *[
        replace(c, path=GM, json={**GROUP_MESSAGE, **c.json})
        for c in [
            Case("signature-no-key", "body", 400, "no_public_key", json={"signature": "3044"}),
            Case("signature-int", "body", 400, V, json={"signature": 3044}),
        ]
    ],
    Case("body-missing", "body", 400, IC, path=GM, json={}),
    Case("content-string", "body", 400, V, path=GM, json={"content": "hi"}),
    Case("content-list", "body", 400, V, path=GM, json={"content": ["hi"]}),
    Case("body-empty", "body", 400, IC, path=GM, json=_gm({"format": "text", "body": ""})),
    Case("body-int", "body", 400, IC, path=GM, json=_gm({"format": "text", "body": 42})),
    Case("format-unknown", "body", 400, IC, path=GM, json=_gm({"format": "video", "body": "x"})),
    Case("format-int", "body", 400, V, path=GM, json=_gm({"format": 1, "body": "x"})),
    Case("json-invalid", "body", 400, IC, path=GM, json=_gm({"format": "json", "body": "{x"})),
    Case(
        "body-over-max",
        "body",
        400,
        IC,
        path=GM,
        json=_gm({"format": "text", "body": "x" * (MAX_MESSAGE_BODY_BYTES + 1)}),
    ),
    Case(
        "flat-body-over-max",
        "body",
        400,
        IC,
        path=GM,
        json={"body": "x" * (MAX_MESSAGE_BODY_BYTES + 1)},
    ),
    Case("flat-format-unknown", "body", 400, IC, path=GM, json={"body": "x", "format": "html"}),
    Case(
        "body-lone-surrogate",
        "body",
        400,
        IC,
        path=GM,
        content=b'{"content": {"format": "text", "body": "a\\udc00b"}}',
        headers={"Content-Type": "application/json"},
    ),
    Case("reply-to-garbage", "body", 400, IID, path=GM, json=_gm(reply_to="not-an-id")),
    Case("reply-to-65", "body", 400, V, path=GM, json=_gm(reply_to="m" * 65)),
    Case("reply-to-int", "body", 400, V, path=GM, json=_gm(reply_to=7)),
    Case("reply-to-nul", "body", 400, IID, path=GM, json=_gm(reply_to="m_\u0000")),
    Case("idempotency-nul", "body", 400, V, path=GM, json=_gm(idempotency_key="a\u0000")),
    Case("idempotency-surrogate", "body", 400, V, path=GM, json=_gm(idempotency_key="\ud800")),
    Case("type-unknown", "body", 400, V, path=GM, json=_gm(type="friend_request")),
    Case("idempotency-empty", "body", 400, V, path=GM, json=_gm(idempotency_key="")),
    Case("idempotency-129", "body", 400, V, path=GM, json=_gm(idempotency_key="k" * 129)),
    Case(
        "idempotency-header-129",
        "header:idempotency-key",
        400,
        V,
        path=GM,
        json=GROUP_MESSAGE,
        headers={"Idempotency-Key": "k" * 129},
    ),
]

GROUP_CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/v1/groups"): [
        *limit_cases(500),
        *cursor_cases("cursor", max_chars=256),
        Case("cursor-no-id", "query:cursor", 400, CUR, params={"cursor": "YTEyOg"}),  # "a12:"
    ],
    ("POST", "/v1/groups"): CREATE_GROUP_CASES,
    ("GET", "/v1/groups/{group_id}"): _group_path_cases(),
    **{
        (method, "/v1/groups/{group_id}"): [
            *_group_path_cases(json={"description": "new"}),
            *[
                Case(c.name, c.target, c.status, c.code, path=G, json=c.json)
                for c in _group_fields(extra_forbidden=True)
            ],
        ]
        for method in ("PUT", "PATCH")
    },
    ("DELETE", "/v1/groups/{group_id}"): _group_path_cases(),
    ("POST", "/v1/groups/{group_id}/join"): _group_path_cases("/join"),
    ("POST", "/v1/groups/{group_id}/leave"): [
        *_group_path_cases("/leave"),
        Case("owner-leaves", "state", 409, "conflict", path=G + "/leave"),
    ],
    ("POST", "/v1/groups/{group_id}/transfer"): [
        *_group_path_cases("/transfer", json={"new_owner": "{peer}"}),
        Case("new-owner-missing", "body", 400, V, path=G + "/transfer", json={}),
        Case("new-owner-null", "body", 400, V, path=G + "/transfer", json={"new_owner": None}),
        Case("new-owner-bool", "body", 400, V, path=G + "/transfer", json={"new_owner": True}),
        Case("new-owner-list", "body", 400, V, path=G + "/transfer", json={"new_owner": ["1"]}),
        Case("new-owner-garbage", "body", 404, ANF, path=G + "/transfer", json={"new_owner": "x"}),
        Case(
            "new-owner-huge-int",
            "body",
            404,
            ANF,
            path=G + "/transfer",
            json={"new_owner": 10**30},
        ),
        Case(
            "new-owner-unknown",
            "body",
            404,
            ANF,
            path=G + "/transfer",
            json={"new_owner": "999999999"},
        ),
        Case(
            "new-owner-not-in-group",
            "body",
            404,
            "not_a_member",
            path=G + "/transfer",
            json={"new_owner": "{stranger}"},
        ),
    ],
    ("POST", "/v1/groups/{group_id}/announcement"): [
        *_group_path_cases("/announcement", json={"announcement": "hello"}),
        Case("empty-object", "body", 400, V, path=G + "/announcement", json={}),
        Case(
            "announcement-int", "body", 400, V, path=G + "/announcement", json={"announcement": 1}
        ),
        Case(
            "announcement-2001",
            "body",
            400,
            V,
            path=G + "/announcement",
            json={"announcement": "a" * 2001},
        ),
        Case("content-list", "body", 400, V, path=G + "/announcement", json={"content": ["a"]}),
        Case("content-nul", "body", 400, V, path=G + "/announcement", json={"content": "\u0000"}),
        Case(
            "announcement-surrogate",
            "body",
            400,
            V,
            path=G + "/announcement",
            json={"announcement": "a\ud800"},
        ),
    ],
    ("GET", "/v1/groups/{group_id}/members"): _group_path_cases("/members"),
    ("POST", "/v1/groups/{group_id}/members"): INVITE_CASES,
    ("DELETE", "/v1/groups/{group_id}/members/{member_id}"): [
        *_group_path_cases("/members/{peer}"),
        *_member_path_cases("/members/{member_id}"),
        Case("remove-owner", "path:member_id", 409, "conflict", path=G + "/members/{me}"),
    ],
    ("PUT", "/v1/groups/{group_id}/members/{member_id}/role"): [
        *_group_path_cases("/members/{peer}/role", json={"role": "admin"}),
        *_member_path_cases("/members/{member_id}/role", json={"role": "admin"}),
        Case("role-missing", "body", 400, V, path=G + "/members/{peer}/role", json={}),
        Case("role-int", "body", 400, V, path=G + "/members/{peer}/role", json={"role": 1}),
        Case("role-unknown", "body", 400, V, path=G + "/members/{peer}/role", json={"role": "god"}),
        Case("role-owner", "body", 400, V, path=G + "/members/{peer}/role", json={"role": "owner"}),
        Case("role-17", "body", 400, V, path=G + "/members/{peer}/role", json={"role": "r" * 17}),
        Case(
            "role-of-owner",
            "path:member_id",
            409,
            "conflict",
            path=G + "/members/{me}/role",
            json={"role": "member"},
        ),
    ],
    ("POST", "/v1/groups/{group_id}/mute/{member_id}"): [
        *_group_path_cases("/mute/{peer}", json={"duration": 60}),
        *_member_path_cases("/mute/{member_id}", json={"duration": 60}),
        *[
            Case(name, "body", 400, V, path=G + "/mute/{peer}", json={"duration": value})
            for name, value in [
                ("duration-negative", -1),
                ("duration-string", "60"),
                ("duration-float", 1.5),
                ("duration-bool", True),
                ("duration-over-ten-years", 10 * 365 * 86400 + 1),
                ("duration-int64-overflow", INT64_OVERFLOW),
            ]
        ],
        Case(
            "mute-owner", "path:member_id", 403, "insufficient_role", path=G + "/mute/{me}", json={}
        ),
    ],
    ("DELETE", "/v1/groups/{group_id}/mute/{member_id}"): [
        *_group_path_cases("/mute/{peer}"),
        *_member_path_cases("/mute/{member_id}"),
        Case("unmute-owner", "path:member_id", 403, "insufficient_role", path=G + "/mute/{me}"),
    ],
    ("POST", "/v1/groups/{group_id}/messages"): SEND_GROUP_MESSAGE_CASES,
    ("GET", "/v1/groups/{group_id}/messages"): [
        *_group_path_cases("/messages"),
        *cursor_cases("before", path=GM),
        *limit_cases(200, path=GM),
    ],
}

# --- moments -----------------------------------------------------------------------------------

MNF = "moment_not_found"
MOMENT_UNKNOWN = "mo_" + "0" * 26
COMMENT_UNKNOWN = "c_" + "0" * 26
MALFORMED_ID = (400, IID)  # docs/moments.md: a malformed id is 400 invalid_id


def _moment_path_cases(template: str, json: Any = UNSET) -> list[Case]:
    """Bad `{moment_id}`s in `template` (under /v1/moments/): malformed 400 invalid_id; an
    unknown id and a moment hidden from the caller 404 moment_not_found."""

    def at(moment: str) -> str:
        return template.replace("{moment_id}", moment)

    return [
        *path_cases(template, "moment_id", MNF, malformed=MALFORMED_ID, json=json),
        Case("unknown-id", "path:moment_id", 404, MNF, path=at(MOMENT_UNKNOWN), json=json),
        Case("lowercase-id", "path:moment_id", 400, IID, path=at("{moment_lower}"), json=json),
        Case("comment-id", "path:moment_id", 400, IID, path=at("{comment}"), json=json),
        Case("account-id", "path:moment_id", 400, IID, path=at("{peer}"), json=json),
        Case("mo-prefix-only", "path:moment_id", 400, IID, path=at("mo_"), json=json),
        Case("hidden", "path:moment_id", 404, MNF, path=at("{peer_private_moment}"), json=json),
    ]


def _moment_body_cases(path: str | None, max_chars: int) -> list[Case]:
    return [
        Case("content-missing", "body", 400, V, path=path, json={}),
        Case("content-null", "body", 400, V, path=path, json={"content": None}),
        Case("content-int", "body", 400, V, path=path, json={"content": 5}),
        Case("content-list", "body", 400, V, path=path, json={"content": ["x"]}),
        Case("content-empty", "body", 400, IC, path=path, json={"content": ""}),
        Case("content-blank", "body", 400, IC, path=path, json={"content": " \n\t "}),
        Case(
            "content-over-max", "body", 400, IC, path=path, json={"content": "c" * (max_chars + 1)}
        ),
        Case("content-huge", "body", 400, IC, path=path, json={"content": "c" * 500_000}),
        Case("content-nul", "body", 400, IC, path=path, json={"content": "a\u0000b"}),
        Case(
            "content-lone-surrogate",
            "body",
            400,
            IC,
            path=path,
            content=b'{"content": "a\\ud800b"}',
            headers={"Content-Type": "application/json"},
        ),
    ]


def _post(**fields: Any) -> dict[str, Any]:
    return {"content": "hello", **fields}


POST_MOMENT_CASES = [
    *_moment_body_cases(None, 5000),
    Case("visibility-unknown", "body", 400, V, json=_post(visibility="everyone")),
    Case("visibility-uppercase", "body", 400, V, json=_post(visibility="PUBLIC")),
    Case("visibility-int", "body", 400, V, json=_post(visibility=1)),
    Case("media-string", "body", 400, V, json=_post(media="https://x/a.png")),
    Case("media-object", "body", 400, V, json=_post(media={"url": "https://x/a.png"})),
    Case("media-ints", "body", 400, V, json=_post(media=[1])),
    Case("media-10", "body", 400, V, json=_post(media=["https://x/a.png"] * 10)),
    Case("media-relative", "body", 400, V, json=_post(media=["/a.png"])),
    Case("media-javascript", "body", 400, V, json=_post(media=["javascript:alert(1)"])),
    Case("media-data-url", "body", 400, V, json=_post(media=["data:image/png;base64,AA"])),
    Case("media-whitespace", "body", 400, V, json=_post(media=["https://x/a b.png"])),
    Case("media-control", "body", 400, V, json=_post(media=["https://x/a\u0001.png"])),
    Case("media-empty-item", "body", 400, V, json=_post(media=[""])),
    Case("media-nul", "body", 400, V, json=_post(media=["f_\u0000"])),
    Case("media-surrogate", "body", 400, V, json=_post(media=["https://x/\ud800"])),
    Case("media-2049", "body", 400, V, json=_post(media=["https://x/" + "a" * 2040])),
]

M = "/v1/moments/{moment}"

MOMENT_CASES: dict[tuple[str, str], list[Case]] = {
    ("POST", "/v1/moments"): POST_MOMENT_CASES,
    ("GET", "/v1/moments/feed"): [
        *cursor_cases("before"),
        *limit_cases(100),
    ],
    ("GET", "/v1/moments/detail/{moment_id}"): _moment_path_cases("/v1/moments/detail/{moment_id}"),
    ("GET", "/v1/moments/{ref}"): [
        # What is no moment id names an agent: 404 agent_not_found, whatever it looks like.
        *path_cases("/v1/moments/{ref}", "ref", ANF, capped=False),
        Case("unknown-agent", "path:ref", 404, "agent_not_found", path="/v1/moments/999999999"),
        Case("unknown-moment", "path:ref", 404, MNF, path="/v1/moments/" + MOMENT_UNKNOWN),
        Case("hidden-moment", "path:ref", 404, MNF, path="/v1/moments/{peer_private_moment}"),
        Case("comment-id", "path:ref", 404, ANF, path="/v1/moments/{comment}"),
        Case("negative-agent", "path:ref", 404, ANF, path="/v1/moments/-10001"),
        *cursor_cases("before", path="/v1/moments/{me}"),
        *limit_cases(100, path="/v1/moments/{me}"),
    ],
    ("DELETE", "/v1/moments/{moment_id}"): [
        *_moment_path_cases("/v1/moments/{moment_id}"),
        Case("not-yours", "path:moment_id", 403, "forbidden", path="/v1/moments/{peer_moment}"),
    ],
    ("POST", "/v1/moments/{moment_id}/like"): _moment_path_cases("/v1/moments/{moment_id}/like"),
    ("DELETE", "/v1/moments/{moment_id}/like"): _moment_path_cases("/v1/moments/{moment_id}/like"),
    ("POST", "/v1/moments/{moment_id}/comments"): [
        *_moment_path_cases("/v1/moments/{moment_id}/comments", json={"content": "nice"}),
        *_moment_body_cases(M + "/comments", 2000),
    ],
    ("GET", "/v1/moments/{moment_id}/comments"): [
        *_moment_path_cases("/v1/moments/{moment_id}/comments"),
        *cursor_cases("after", path=M + "/comments"),
        *limit_cases(200, path=M + "/comments"),
    ],
    ("DELETE", "/v1/moments/{moment_id}/comments/{comment_id}"): [
        *_moment_path_cases("/v1/moments/{moment_id}/comments/{comment}"),
        *path_cases(
            M + "/comments/{comment_id}",
            "comment_id",
            "comment_not_found",
            malformed=MALFORMED_ID,
            label="comment",
        ),
        Case(
            "comment-unknown",
            "path:comment_id",
            404,
            "comment_not_found",
            path=M + "/comments/" + COMMENT_UNKNOWN,
        ),
        Case("comment-moment-id", "path:comment_id", 400, IID, path=M + "/comments/{moment}"),
        Case(
            "others-comment",
            "path:comment_id",
            403,
            "forbidden",
            path="/v1/moments/{peer_moment}/comments/{peer_comment}",
        ),
        Case(
            "comment-of-other-moment",
            "path:comment_id",
            404,
            "comment_not_found",
            path="/v1/moments/{peer_moment}/comments/{comment}",
        ),
    ],
}

# --- files and avatars -------------------------------------------------------------------------

FNF = "file_not_found"
FILE_UNKNOWN = "f_" + "0" * 26
UPLOAD_CAP = MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES
AVATAR_CAP = MAX_AVATAR_BYTES + MULTIPART_OVERHEAD_BYTES


def _upload_cases(field_name: str, max_bytes: int) -> list[Case]:
    """Bad multipart bodies for an upload route whose file field is `field_name`."""
    return [
        Case("file-missing", "body", 400, V, data={"note": "no file"}),
        Case("file-wrong-field", "body", 400, V, **_multipart("upload", "a.png", PNG_BYTES, "")),
        Case("file-as-text-field", "body", 400, V, data={field_name: "not a file"}),
        Case("file-empty", "body", 400, V, **_multipart(field_name, "a.png", b"", "image/png")),
        Case(
            "file-over-max",
            "size",
            413,
            "payload_too_large",
            **_multipart(field_name, "a.png", PNG_BYTES + b"\x00" * max_bytes, "image/png"),
        ),
        Case(
            "two-files",
            "body",
            400,
            V,
            files=[
                (field_name, ("a.png", PNG_BYTES, "image/png")),
                (field_name, ("b.png", PNG_BYTES, "image/png")),
            ],
        ),
        Case(
            "too-many-fields",
            "body",
            400,
            V,
            data={f"f{i}": "x" for i in range(9)},
            **_multipart(field_name, "a.png", PNG_BYTES, "image/png"),
        ),
        Case(
            "text-field-over-1mib",
            "body",
            400,
            V,
            data={"note": "x" * (1024 * 1024 + 1)},
            **_multipart(field_name, "a.png", PNG_BYTES, "image/png"),
        ),
        Case(
            "part-header-over-8k",
            "body",
            400,
            V,
            **_multipart(field_name, "n" * 9000 + ".png", PNG_BYTES, "image/png"),
        ),
        Case("json-body", "body", 400, V, json={field_name: "a.png"}),
        Case(
            "no-boundary",
            "body",
            400,
            V,
            content=b"--x\r\n\r\n",
            headers={"Content-Type": "multipart/form-data"},
        ),
        Case(
            "truncated-multipart",
            "body",
            400,
            V,
            content=b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="a"\r\n\r\nab',
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        ),
    ]


def _file_path_cases(suffix: str = "") -> list[Case]:
    template = "/v1/files/{file_id}" + suffix
    return [
        *path_cases(template, "file_id", FNF),
        Case("unknown-id", "path:file_id", 404, FNF, path="/v1/files/" + FILE_UNKNOWN + suffix),
        Case("others-file", "path:file_id", 404, FNF, path="/v1/files/{peer_file}" + suffix),
        Case("lowercase-id", "path:file_id", 404, FNF, path="/v1/files/{file_lower}" + suffix),
        # Without credentials a private file is 401, whatever the id (nothing to probe).
        Case(
            "unknown-id-no-credentials",
            "auth",
            401,
            "unauthenticated",
            path="/v1/files/" + FILE_UNKNOWN + suffix,
            credentials="none",
        ),
    ]


FILE_CASES: dict[tuple[str, str], list[Case]] = {
    ("POST", "/v1/files/upload"): _upload_cases("file", MAX_UPLOAD_BYTES),
    ("POST", "/v1/agents/avatar"): [
        *_upload_cases("file", MAX_AVATAR_BYTES),
        Case(
            "avatar-text",
            "body",
            400,
            "unsupported_media_type",
            **_multipart("file", "a.png", b"hello, not an image", "image/png"),
        ),
        Case(
            "avatar-gif",
            "body",
            400,
            "unsupported_media_type",
            **_multipart("avatar", "a.gif", GIF_BYTES, "image/gif"),
        ),
        Case(
            "avatar-svg",
            "body",
            400,
            "unsupported_media_type",
            **_multipart("image", "a.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", ""),
        ),
    ],
    ("GET", "/v1/files/{file_id}"): _file_path_cases(),
    ("GET", "/v1/files/{file_id}/info"): _file_path_cases("/info"),
    ("DELETE", "/v1/files/{file_id}"): [
        *[c for c in _file_path_cases() if c.credentials != "none"],
    ],
}

# --- notifications -----------------------------------------------------------------------------

NNF = "notification_not_found"

NOTIFICATION_CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/v1/notifications"): [
        Case("unread-only-text", "query:unread_only", 400, V, params={"unread_only": "maybe"}),
        Case("unread-only-int", "query:unread_only", 400, V, params={"unread_only": "2"}),
        *cursor_cases("before"),
        *limit_cases(200),
    ],
    ("POST", "/v1/notifications/read"): [
        Case("ids-string", "body", 400, V, json={"ids": "{notification}"}),
        Case("ids-ints", "body", 400, V, json={"ids": [1, 2]}),
        Case("ids-null-item", "body", 400, V, json={"ids": [None]}),
        Case("ids-501", "body", 400, V, json={"ids": ["n_x"] * 501}),
        Case("ids-and-all", "body", 400, V, json={"ids": ["{notification}"], "all": True}),
        Case("all-text", "body", 400, V, json={"all": "maybe"}),
        Case("all-list", "body", 400, V, json={"all": [True]}),
        Case("unknown-field", "body", 400, V, json={"id": "{notification}"}),
    ],
    ("POST", "/v1/notifications/{notification_id}/read"): [
        *path_cases("/v1/notifications/{notification_id}/read", "notification_id", NNF),
        Case(
            "unknown-id",
            "path:notification_id",
            404,
            NNF,
            path="/v1/notifications/n_" + "0" * 26 + "/read",
        ),
        Case(
            "others-notification",
            "path:notification_id",
            404,
            NNF,
            path="/v1/notifications/{peer_notification}/read",
        ),
    ],
}

# --- the SSE event stream ---------------------------------------------------------------------
# Every case is refused before the stream starts (a 200 here would be an endless body).
STREAM_CASES: list[Case] = [
    Case("since-seq-negative", "query:since_seq", 400, V, params={"since_seq": -1}),
    Case("since-seq-text", "query:since_seq", 400, V, params={"since_seq": "last"}),
    Case("since-seq-float", "query:since_seq", 400, V, params={"since_seq": "1.5"}),
    Case(
        "since-seq-int64-overflow", "query:since_seq", 400, V, params={"since_seq": INT64_OVERFLOW}
    ),
    Case(
        "token-garbage",
        "query:token",
        401,
        "invalid_credentials",
        params={"token": "am_x"},
        credentials="none",
    ),
    Case("token-empty", "query:token", 400, V, params={"token": ""}, credentials="none"),
    Case("token-257", "query:token", 400, V, params={"token": "t" * 257}, credentials="none"),
    Case("last-event-id-text", "header:last-event-id", 400, V, headers={"Last-Event-ID": "abc"}),
    Case("last-event-id-negative", "header:last-event-id", 400, V, headers={"Last-Event-ID": "-1"}),
    Case("last-event-id-empty", "header:last-event-id", 400, V, headers={"Last-Event-ID": ""}),
    Case(
        "last-event-id-int64-overflow",
        "header:last-event-id",
        400,
        V,
        headers={"Last-Event-ID": str(INT64_OVERFLOW)},
    ),
]

# --- the /chatr dialect (seeds/002) ------------------------------------------------------------
# Its errors add chatr's {"success": false, "error"} to the usual envelope (api/dialects/chatr.py).
CHATR_NAME_CASES = [
    Case("name-missing", "body", 400, V, json={"avatar": "x"}, credentials="none"),
    Case("name-1-char", "body", 400, V, json={"name": "a"}, credentials="none"),
    Case("name-33-chars", "body", 400, V, json={"name": "n" * 33}, credentials="none"),
    Case("name-space", "body", 400, V, json={"name": "two words"}, credentials="none"),
    Case("name-non-ascii", "body", 400, V, json={"name": "名字名字"}, credentials="none"),
    Case("name-number", "body", 400, V, json={"name": 1234}, credentials="none"),
    Case("name-null", "body", 400, V, json={"name": None}, credentials="none"),
    Case(
        "avatar-65",
        "body",
        400,
        V,
        json={"name": "ok_name", "avatar": "a" * 65},
        credentials="none",
    ),
    Case(
        "avatar-number", "body", 400, V, json={"name": "ok_name", "avatar": 7}, credentials="none"
    ),
]
CHATR_CONTENT_CASES = [
    Case("content-missing", "body", 400, V, json={}),
    Case("content-empty", "body", 400, IC, json={"content": ""}),
    Case("content-blank", "body", 400, IC, json={"content": "  "}),
    Case("content-251", "body", 400, IC, json={"content": "c" * 251}),
    Case("content-nul", "body", 400, IC, json={"content": "a\u0000b"}),
    Case("content-number", "body", 400, V, json={"content": 5}),
    Case("content-list", "body", 400, V, json={"content": ["hi"]}),
    Case("content-url-unverified", "body", 403, "forbidden", json={"content": "https://x.io"}),
]
CHATR_MOLTBOOK_CASES = [
    Case("moltbook-missing", "body", 400, V, json={}),
    Case("moltbook-empty", "body", 400, V, json={"moltbookName": ""}),
    Case("moltbook-65", "body", 400, V, json={"moltbookName": "m" * 65}),
    Case("moltbook-space", "body", 400, V, json={"moltbookName": "a b"}),
    Case("moltbook-number", "body", 400, V, json={"moltbookName": 3}),
]
CHATR_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("POST", "/chatr/api/register"): Endpoint(auth=False, json_body=True),
    ("POST", "/chatr/api/messages"): Endpoint(auth=True, json_body=True),
    ("GET", "/chatr/api/stream"): Endpoint(auth=False, json_body=False),
    ("POST", "/chatr/api/heartbeat"): Endpoint(auth=True, json_body=False),
    ("POST", "/chatr/api/disconnect"): Endpoint(auth=True, json_body=False),
    ("GET", "/chatr/api/agents"): Endpoint(auth=False, json_body=False),
    ("POST", "/chatr/api/verify/start"): Endpoint(auth=True, json_body=True),
    ("POST", "/chatr/api/verify/complete"): Endpoint(auth=True, json_body=True),
}
CHATR_CASES: dict[tuple[str, str], list[Case]] = {
    ("POST", "/chatr/api/register"): CHATR_NAME_CASES,
    ("POST", "/chatr/api/messages"): CHATR_CONTENT_CASES,
    ("GET", "/chatr/api/stream"): [],
    ("POST", "/chatr/api/heartbeat"): [],
    ("POST", "/chatr/api/disconnect"): [],
    ("GET", "/chatr/api/agents"): [],
    ("POST", "/chatr/api/verify/start"): CHATR_MOLTBOOK_CASES,
    ("POST", "/chatr/api/verify/complete"): [
        *CHATR_MOLTBOOK_CASES,
        Case("not-started", "body", 400, V, json={"moltbookName": "never_started"}),
    ],
}

# --- webhooks ----------------------------------------------------------------------------------

WNF = "webhook_not_found"
REFUSED = "webhook_url_refused"


def _webhook_url_cases(**rest: Any) -> list[Case]:
    """Bad `url`s; `rest` is the rest of an otherwise valid body. Refused targets are ones no
    setting allows (scheme, credentials), so the case holds on any server."""
    bad: list[tuple[str, Any, str]] = [
        ("url-missing", UNSET, V),
        ("url-int", 5, V),
        ("url-list", ["https://example.com/"], V),
        ("url-null", None, V),
        ("url-empty", "", V),
        ("url-spaces", "https://exa mple.com/", V),
        ("url-nul", "https://example.com/\u0000", V),
        ("url-2049", "https://example.com/" + "a" * 2029, V),
        ("url-ftp", "ftp://example.com/hook", REFUSED),
        ("url-file", "file:///etc/passwd", REFUSED),
        ("url-javascript", "javascript:alert(1)", REFUSED),
        ("url-userinfo", "https://user:pw@example.com/hook", REFUSED),
        ("url-no-host", "https:///hook", REFUSED),
    ]
    return [
        Case(name, "body", 400, code, json=rest if url is UNSET else {**rest, "url": url})
        for name, url, code in bad
    ]


WEBHOOK_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("POST", "/v1/agents/me/webhook"): Endpoint(auth=True, json_body=True),
    ("GET", "/v1/agents/me/webhook"): Endpoint(auth=True, json_body=False),
    ("DELETE", "/v1/agents/me/webhook"): Endpoint(auth=True, json_body=False),
    ("POST", "/v1/webhooks"): Endpoint(auth=True, json_body=True),
    ("GET", "/v1/webhooks/{agent_id}"): Endpoint(auth=True, json_body=False),
    ("DELETE", "/v1/webhooks/{agent_id}"): Endpoint(auth=True, json_body=False),
}

_LEGACY_PATH_CASES = [
    *path_cases("/v1/webhooks/{agent_id}", "agent_id", WNF),
    Case("peer", "path:agent_id", 403, "forbidden", path="/v1/webhooks/{peer}"),
    Case("none-registered", "path:agent_id", 404, WNF, path="/v1/webhooks/{me}"),
    Case("unknown-id", "path:agent_id", 403, "forbidden", path="/v1/webhooks/999999999"),
]

WEBHOOK_CASES: dict[tuple[str, str], list[Case]] = {
    ("POST", "/v1/agents/me/webhook"): [
        *_webhook_url_cases(),
        Case("body-list", "body", 400, V, json=["https://example.com/"]),
    ],
    ("GET", "/v1/agents/me/webhook"): [],
    ("DELETE", "/v1/agents/me/webhook"): [],
    ("POST", "/v1/webhooks"): [
        *_webhook_url_cases(agent_id="{me}"),
        Case("agent-missing", "body", 400, V, json={"url": "https://example.com/"}),
        Case("agent-garbage", "body", 400, IID, json={"agent_id": "alice", "url": "https://e.com"}),
        Case("agent-bool", "body", 400, V, json={"agent_id": True, "url": "https://e.com/"}),
        Case("agent-33", "body", 400, V, json={"agent_id": "1" * 33, "url": "https://e.com/"}),
        Case(
            "agent-peer",
            "body",
            403,
            "forbidden",
            json={"agent_id": "{peer}", "url": "https://e.com/"},
        ),
        Case(
            "events-string",
            "body",
            400,
            V,
            json={"agent_id": "{me}", "url": "https://e.com/", "events": "message.created"},
        ),
        Case(
            "events-unknown",
            "body",
            400,
            V,
            json={"agent_id": "{me}", "url": "https://e.com/", "events": ["nope"]},
        ),
        Case(
            "events-17",
            "body",
            400,
            V,
            json={"agent_id": "{me}", "url": "https://e.com/", "events": ["message.created"] * 17},
        ),
        Case(
            "events-ints",
            "body",
            400,
            V,
            json={"agent_id": "{me}", "url": "https://e.com/", "events": [1]},
        ),
    ],
    ("GET", "/v1/webhooks/{agent_id}"): _LEGACY_PATH_CASES,
    ("DELETE", "/v1/webhooks/{agent_id}"): _LEGACY_PATH_CASES,
}

# --- signed messages: public keys (docs/signatures.md) -----------------------------------------

IPK = "invalid_public_key"
KEY_PATH = "/v1/agents/me/public-key"
_PEM_OF_NOTHING = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"
PUBLIC_KEY_CASES = [
    Case("key-missing", "body", 400, V, json={}),
    Case("key-int", "body", 400, V, json={"public_key": 5}),
    Case("key-null", "body", 400, V, json={"public_key": None}),
    Case("key-list", "body", 400, V, json={"public_key": ["k"]}),
    Case("key-4097", "body", 400, V, json={"public_key": "k" * 4097}),
    Case("key-empty", "body", 400, IPK, json={"public_key": ""}),
    Case("key-blank", "body", 400, IPK, json={"public_key": "  \n"}),
    Case("key-garbage", "body", 400, IPK, json={"public_key": "not a key"}),
    Case("key-empty-pem", "body", 400, IPK, json={"public_key": _PEM_OF_NOTHING}),
    Case("key-nul", "body", 400, IPK, json={"public_key": "a\u0000b"}),
    Case("key-multibyte-4k", "body", 400, IPK, json={"public_key": "你" * 2000}),
    Case(
        "key-surrogate",
        "body",
        400,
        V,
        content=b'{"public_key": "a\\ud800"}',
        headers={"Content-Type": "application/json"},
    ),
    Case("body-list", "body", 400, V, json=["k"]),
]
KEY_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("PUT", KEY_PATH): Endpoint(auth=True, json_body=True),
    ("POST", KEY_PATH): Endpoint(auth=True, json_body=True),
    ("GET", KEY_PATH): Endpoint(auth=True, json_body=False),
    ("DELETE", KEY_PATH): Endpoint(auth=True, json_body=False),
}
KEY_CASES: dict[tuple[str, str], list[Case]] = {
    ("PUT", KEY_PATH): PUBLIC_KEY_CASES,
    ("POST", KEY_PATH): PUBLIC_KEY_CASES,
    ("GET", KEY_PATH): [Case("none-registered", "state", 404, "public_key_not_found")],
    ("DELETE", KEY_PATH): [Case("none-registered", "state", 404, "public_key_not_found")],
}
SIGNATURE_CASES = [
    # Nobody here registered a key: a signature is refused before it is even parsed.
    Case("signature-no-key", "body", 400, "no_public_key", json={"signature": "3044abcd"}),
    Case("signature-int", "body", 400, V, json={"signature": 3044}),
    Case("signature-list", "body", 400, V, json={"signature": ["30"]}),
    Case("signature-1025", "body", 400, V, json={"signature": "a" * 1025}),
]
"""Fields merged into an otherwise valid send body (see test_bad_input.py)."""

# --- the /ai dialect (seeds/000, docs/dialects.md): 400 where /v1 says 400 ----------------------


def _ai(cases: list[Case]) -> list[Case]:
    """/v1-style cases as /ai answers them: the seed has no 400 (nor 409), only 400."""
    return [replace(c, status=400) if c.status in (400, 409) else c for c in cases]


AI_GROUP = "/ai/groups/{group}"
AI_GROUP_UNKNOWN = "/ai/groups/00000000-0000-4000-8000-000000000000"
AI_SEND_OK: dict[str, Any] = {"toAiId": "{peer}", "content": "hi"}


def _ai_group_path_cases(suffix: str, json: Any = UNSET) -> list[Case]:
    return _ai(
        [
            *path_cases("/ai/groups/{group_id}" + suffix, "group_id", GNF, json=json),
            Case("unknown", "path:group_id", 404, GNF, path=AI_GROUP_UNKNOWN + suffix, json=json),
            Case(
                "other-private",
                "path:group_id",
                404,
                GNF,
                path="/ai/groups/{other_group}" + suffix,
                json=json,
            ),
        ]
    )


AI_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/ai/health"): Endpoint(auth=False, json_body=False),
    ("GET", "/ai/me"): Endpoint(auth=True, json_body=False, invalid_status=400),
    ("POST", "/ai/messages"): Endpoint(auth=True, json_body=True, invalid_status=400),
    ("GET", "/ai/messages"): Endpoint(auth=True, json_body=False, invalid_status=400),
    ("GET", "/ai/friends"): Endpoint(auth=True, json_body=False, invalid_status=400),
    ("POST", "/ai/groups"): Endpoint(auth=True, json_body=True, invalid_status=400),
    ("GET", "/ai/groups"): Endpoint(auth=True, json_body=False, invalid_status=400),
    ("POST", "/ai/groups/{group_id}/join"): Endpoint(auth=True, json_body=False),
    ("POST", "/ai/groups/{group_id}/messages"): Endpoint(
        auth=True, json_body=True, invalid_status=400
    ),
    ("GET", "/ai/groups/{group_id}/messages"): Endpoint(auth=True, json_body=False),
    ("POST", "/ai/webhook"): Endpoint(auth=True, json_body=True, invalid_status=400),
    ("GET", "/ai/webhook"): Endpoint(auth=True, json_body=False),
}
AI_CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/ai/health"): [],
    ("GET", "/ai/me"): [],
    ("POST", "/ai/messages"): _ai(
        [
            Case("to-missing", "body", 400, V, json={"content": "hi"}),
            Case("to-null", "body", 400, V, json={"toAiId": None, "content": "hi"}),
            Case("to-bool", "body", 400, V, json={"toAiId": True, "content": "hi"}),
            Case("to-float", "body", 400, V, json={"toAiId": 10001.5, "content": "hi"}),
            Case("to-list", "body", 400, V, json={"toAiId": ["1"], "content": "hi"}),
            Case("to-garbage", "body", 404, ANF, json={"toAiId": "目标AI的ID", "content": "hi"}),
            Case("to-huge", "body", 404, ANF, json={"toAiId": "9" * 5000, "content": "hi"}),
            Case(
                "to-unknown",
                "body",
                404,
                "agent_not_found",
                json={**AI_SEND_OK, "toAiId": "999999999"},
            ),
            Case("content-missing", "body", 400, V, json={"toAiId": "{peer}"}),
            Case("content-null", "body", 400, V, json={**AI_SEND_OK, "content": None}),
            Case("content-int", "body", 400, V, json={**AI_SEND_OK, "content": 5}),
            Case("content-object", "body", 400, V, json={**AI_SEND_OK, "content": {"body": "hi"}}),
            Case("content-empty", "body", 400, IC, json={**AI_SEND_OK, "content": ""}),
            Case("content-nul", "body", 400, IC, json={**AI_SEND_OK, "content": "a\u0000b"}),
            Case(
                "content-too-large",
                "body",
                400,
                IC,
                json={**AI_SEND_OK, "content": "c" * (MAX_MESSAGE_BODY_BYTES + 1)},
            ),
            *[replace(c, json={**AI_SEND_OK, **c.json}) for c in SIGNATURE_CASES],
            Case("body-list", "body", 400, V, json=[AI_SEND_OK]),
        ]
    ),
    ("GET", "/ai/messages"): _ai(
        [
            *limit_cases(200),
            Case("since-negative", "query:since_seq", 400, V, params={"since_seq": -1}),
            Case("since-text", "query:since_seq", 400, V, params={"since_seq": "x"}),
            Case("since-huge", "query:since_seq", 400, V, params={"since_seq": INT64_OVERFLOW}),
        ]
    ),
    ("GET", "/ai/friends"): _ai(limit_cases(200)),
    ("POST", "/ai/groups"): _ai(
        [
            Case("name-missing", "body", 400, V, json={"description": "d"}),
            Case("name-int", "body", 400, V, json={"name": 5}),
            Case("name-null", "body", 400, V, json={"name": None}),
            Case("name-empty", "body", 400, V, json={"name": ""}),
            Case("name-control", "body", 400, V, json={"name": "a\u0000b"}),
            Case("name-huge", "body", 400, V, json={"name": "n" * 10_000}),
            Case("description-int", "body", 400, V, json={"name": "g", "description": 5}),
            Case(
                "description-huge", "body", 400, V, json={"name": "g", "description": "d" * 10_000}
            ),
            Case("body-list", "body", 400, V, json=[{"name": "g"}]),
        ]
    ),
    ("GET", "/ai/groups"): [],
    ("POST", "/ai/groups/{group_id}/join"): _ai_group_path_cases("/join"),
    ("POST", "/ai/groups/{group_id}/messages"): [
        *_ai_group_path_cases("/messages", json={"content": "hi"}),
        *_ai(
            [
                Case("content-missing", "body", 400, V, path=AI_GROUP + "/messages", json={}),
                Case(
                    "content-int", "body", 400, V, path=AI_GROUP + "/messages", json={"content": 1}
                ),
                Case(
                    "content-empty",
                    "body",
                    400,
                    IC,
                    path=AI_GROUP + "/messages",
                    json={"content": ""},
                ),
                *[
                    replace(c, path=AI_GROUP + "/messages", json={"content": "hi", **c.json})
                    for c in SIGNATURE_CASES
                ],
            ]
        ),
    ],
    ("GET", "/ai/groups/{group_id}/messages"): [
        *_ai_group_path_cases("/messages"),
        *_ai(limit_cases(200, path=AI_GROUP + "/messages")),
    ],
    ("POST", "/ai/webhook"): _ai(
        [
            Case("url-missing", "body", 400, V, json={}),
            Case("url-int", "body", 400, V, json={"webhook_url": 5}),
            Case("url-null", "body", 400, V, json={"webhook_url": None}),
            Case("url-2049", "body", 400, V, json={"webhook_url": "https://e.com/" + "a" * 2040}),
            Case("url-ftp", "body", 400, REFUSED, json={"webhook_url": "ftp://example.com/h"}),
            Case("url-userinfo", "body", 400, REFUSED, json={"webhook_url": "https://u:p@e.com/"}),
            Case("body-list", "body", 400, V, json=["https://example.com/"]),
        ]
    ),
    ("GET", "/ai/webhook"): [],
}

# --- all of the above --------------------------------------------------------------------------

A = Endpoint(auth=True, json_body=False)
AJ = Endpoint(auth=True, json_body=True)

SOCIAL_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/v1/agents/settings"): A,
    ("PUT", "/v1/agents/settings"): AJ,
    ("PATCH", "/v1/agents/settings"): AJ,
    ("POST", "/v1/agents/block/{agent_id}"): A,
    ("DELETE", "/v1/agents/block/{agent_id}"): A,
    ("GET", "/v1/agents/blocks"): A,
    ("POST", "/v1/agents/avatar"): Endpoint(
        auth=True, json_body=False, multipart_body=True, body_cap=AVATAR_CAP
    ),
    ("GET", "/v1/card/preview"): A,
    ("GET", "/v1/notifications"): A,
    ("POST", "/v1/notifications/read"): AJ,
    ("POST", "/v1/notifications/{notification_id}/read"): A,
    ("POST", "/v1/friends/request"): AJ,
    ("POST", "/v1/friends/accept"): AJ,
    ("POST", "/v1/friends/reject"): AJ,
    ("GET", "/v1/friends"): A,
    ("GET", "/v1/friends/pending"): A,
    ("GET", "/v1/friends/requests"): A,
    ("DELETE", "/v1/friends/{agent_id}"): A,
    ("GET", "/v1/groups"): A,
    ("POST", "/v1/groups"): AJ,
    ("GET", "/v1/groups/{group_id}"): A,
    ("PUT", "/v1/groups/{group_id}"): AJ,
    ("PATCH", "/v1/groups/{group_id}"): AJ,
    ("DELETE", "/v1/groups/{group_id}"): A,
    ("POST", "/v1/groups/{group_id}/join"): A,
    ("POST", "/v1/groups/{group_id}/leave"): A,
    ("POST", "/v1/groups/{group_id}/transfer"): AJ,
    ("POST", "/v1/groups/{group_id}/announcement"): AJ,
    ("GET", "/v1/groups/{group_id}/members"): A,
    ("POST", "/v1/groups/{group_id}/members"): AJ,
    ("DELETE", "/v1/groups/{group_id}/members/{member_id}"): A,
    ("PUT", "/v1/groups/{group_id}/members/{member_id}/role"): AJ,
    ("POST", "/v1/groups/{group_id}/mute/{member_id}"): AJ,  # the body is optional
    ("DELETE", "/v1/groups/{group_id}/mute/{member_id}"): A,
    ("POST", "/v1/groups/{group_id}/messages"): AJ,
    ("GET", "/v1/groups/{group_id}/messages"): A,
    ("POST", "/v1/moments"): AJ,
    ("GET", "/v1/moments/feed"): A,
    ("GET", "/v1/moments/detail/{moment_id}"): A,
    ("GET", "/v1/moments/{ref}"): A,
    ("DELETE", "/v1/moments/{moment_id}"): A,
    ("POST", "/v1/moments/{moment_id}/like"): A,
    ("DELETE", "/v1/moments/{moment_id}/like"): A,
    ("POST", "/v1/moments/{moment_id}/comments"): AJ,
    ("GET", "/v1/moments/{moment_id}/comments"): A,
    ("DELETE", "/v1/moments/{moment_id}/comments/{comment_id}"): A,
    ("POST", "/v1/files/upload"): Endpoint(
        auth=True, json_body=False, multipart_body=True, body_cap=UPLOAD_CAP
    ),
    ("GET", "/v1/files/{file_id}"): A,
    ("DELETE", "/v1/files/{file_id}"): A,
    ("GET", "/v1/files/{file_id}/info"): A,
    ("GET", "/v1/stream"): A,
    **CHATR_ENDPOINTS,
    **WEBHOOK_ENDPOINTS,
    **KEY_ENDPOINTS,
    **AI_ENDPOINTS,
}

SOCIAL_CASES: dict[tuple[str, str], list[Case]] = {
    ("GET", "/v1/agents/settings"): [],
    ("PUT", "/v1/agents/settings"): SETTINGS_CASES,
    ("PATCH", "/v1/agents/settings"): SETTINGS_CASES,
    ("POST", "/v1/agents/block/{agent_id}"): BLOCK_CASES,
    ("DELETE", "/v1/agents/block/{agent_id}"): path_cases(
        "/v1/agents/block/{agent_id}", "agent_id", "agent_not_found", capped=False
    ),
    ("GET", "/v1/agents/blocks"): limit_cases(1000),
    ("GET", "/v1/card/preview"): [],
    ("POST", "/v1/friends/request"): FRIEND_REQUEST_CASES,
    ("POST", "/v1/friends/accept"): FRIEND_ANSWER_CASES,
    ("POST", "/v1/friends/reject"): FRIEND_ANSWER_CASES,
    ("GET", "/v1/friends"): limit_cases(1000),
    ("GET", "/v1/friends/pending"): limit_cases(1000),
    ("GET", "/v1/friends/requests"): limit_cases(1000),
    ("DELETE", "/v1/friends/{agent_id}"): FRIEND_REMOVE_CASES,
    **GROUP_CASES,
    **MOMENT_CASES,
    **FILE_CASES,
    **NOTIFICATION_CASES,
    ("GET", "/v1/stream"): STREAM_CASES,
    **CHATR_CASES,
    **WEBHOOK_CASES,
    **KEY_CASES,
    **AI_CASES,
}
