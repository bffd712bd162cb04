import pytest

from agentplaza.domain.errors import Conflict, ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import DirectFacts, check_direct_message
from agentplaza.domain.social import (
    DEFAULT_SETTINGS,
    TRUST_OVERRIDES_MAX,
    FriendRequest,
    FriendRequestAction,
    FriendRequestFacts,
    SettingsChanges,
    WhoCanMessage,
    apply_settings_changes,
    decide_friend_request,
    parse_settings_changes,
    request_text,
    validate_request_message,
)

A, B = AccountId("10001"), AccountId("10002")


def _facts(**kw: object) -> DirectFacts:
    fields: dict[str, object] = {"sender_id": A, "recipient_id": B, "are_friends": False}
    fields.update(kw)
    return DirectFacts(**fields)  # type: ignore[arg-type]


def test_strangers_get_minimal_trust_friends_more() -> None:
    stranger = check_direct_message(_facts())
    friend = check_direct_message(_facts(are_friends=True))
    assert (stranger.scene, stranger.sender_relation, stranger.trust_level) == (
        "dm",
        "stranger",
        "minimal",
    )
    assert (friend.sender_relation, friend.trust_level) == ("friend", "trusted")


def test_messaging_yourself_is_refused() -> None:
    with pytest.raises(Invalid):
        check_direct_message(DirectFacts(sender_id=A, recipient_id=A, are_friends=False))


@pytest.mark.parametrize("are_friends", [False, True])
@pytest.mark.parametrize("who", ["everyone", "friends_only", "nobody"])
def test_a_block_wins_over_everything(are_friends: bool, who: str) -> None:
    with pytest.raises(Forbidden) as err:
        check_direct_message(_facts(blocked=True, are_friends=are_friends, who_can_message=who))
    assert err.value.code is ErrorCode.BLOCKED


def test_friends_only_admits_friends_and_refuses_strangers() -> None:
    assert check_direct_message(_facts(are_friends=True, who_can_message="friends_only"))
    with pytest.raises(Forbidden) as err:
        check_direct_message(_facts(who_can_message="friends_only"))
    assert err.value.code is ErrorCode.MESSAGING_RESTRICTED
    assert "only accepts messages from friends" in err.value.detail


@pytest.mark.parametrize("are_friends", [False, True])
def test_nobody_refuses_friends_too(are_friends: bool) -> None:
    with pytest.raises(Forbidden) as err:
        check_direct_message(_facts(are_friends=are_friends, who_can_message="nobody"))
    assert err.value.code is ErrorCode.MESSAGING_RESTRICTED


def test_friend_override_raises_trust_but_not_the_relation() -> None:
    ctx = check_direct_message(_facts(trust_override="friend"))
    assert (ctx.sender_relation, ctx.trust_level) == ("stranger", "trusted")
    # ... and lets the sender past friends_only (an allow-list).
    ctx = check_direct_message(_facts(trust_override="friend", who_can_message="friends_only"))
    assert ctx.trust_level == "trusted"


def test_stranger_override_lowers_trust_but_never_refuses_a_friend() -> None:
    ctx = check_direct_message(
        _facts(are_friends=True, trust_override="stranger", who_can_message="friends_only")
    )
    assert (ctx.sender_relation, ctx.trust_level) == ("friend", "minimal")


# --- friend requests ------------------------------------------------------------------------


def _req(frm: AccountId, to: AccountId) -> FriendRequest:
    return FriendRequest(requester_id=frm, addressee_id=to, message="", created_at_us=1)


def _rf(**kw: object) -> FriendRequestFacts:
    fields: dict[str, object] = {
        "requester_id": A,
        "addressee_id": B,
        "addressee_exists": True,
        "are_friends": False,
        "blocked": False,
        "mine": None,
        "theirs": None,
    }
    fields.update(kw)
    return FriendRequestFacts(**fields)  # type: ignore[arg-type]


def test_friend_request_decisions() -> None:
    assert decide_friend_request(_rf()) is FriendRequestAction.CREATE
    assert decide_friend_request(_rf(mine=_req(A, B))) is FriendRequestAction.EXISTING
    assert decide_friend_request(_rf(theirs=_req(B, A))) is FriendRequestAction.ACCEPT_THEIRS


@pytest.mark.parametrize(
    ("facts", "error", "code"),
    [
        (_rf(addressee_id=A), Invalid, ErrorCode.VALIDATION_ERROR),
        (_rf(addressee_exists=False), NotFound, ErrorCode.AGENT_NOT_FOUND),
        (_rf(blocked=True, theirs=_req(B, A)), Forbidden, ErrorCode.BLOCKED),
        (_rf(are_friends=True), Conflict, ErrorCode.CONFLICT),
    ],
)
def test_friend_request_refusals(
    facts: FriendRequestFacts, error: type[Exception], code: ErrorCode
) -> None:
    with pytest.raises(error) as err:
        decide_friend_request(facts)
    assert err.value.code is code  # type: ignore[attr-defined]


def test_request_message_rules() -> None:
    assert validate_request_message(None) == ""
    assert validate_request_message("hi 👋") == "hi 👋"
    assert validate_request_message("x" * 500) == "x" * 500
    for bad in ("x" * 501, "a\x00b", 5):
        with pytest.raises(Invalid):
            validate_request_message(bad)


# --- settings -------------------------------------------------------------------------------


def test_settings_parsing_aliases_and_partial_updates() -> None:
    changes = parse_settings_changes({"who_can_message": "public"}, A)
    assert changes == SettingsChanges(who_can_message=WhoCanMessage.EVERYONE)
    updated = apply_settings_changes(
        DEFAULT_SETTINGS, parse_settings_changes({"discoverable": False}, A)
    )
    assert updated.who_can_message is WhoCanMessage.EVERYONE
    assert updated.discoverable is False
    assert updated.trust_overrides == {}
    overrides = parse_settings_changes(
        {"trust_overrides": {"10002": "friend", 10003: "stranger"}}, A
    )
    assert overrides.trust_overrides == {"10002": "friend", "10003": "stranger"}


@pytest.mark.parametrize(
    "body",
    [
        {"who_can_message": "friends"},
        {"who_can_message": 1},
        {"discoverable": "yes"},
        {"trust_overrides": []},
        {"trust_overrides": {"abc": "friend"}},
        {"trust_overrides": {"10002": "enemy"}},
        {"trust_overrides": {"10002": ["friend"]}},
        {"trust_overrides": {"10001": "friend"}},  # yourself
        {"trust_overrides": {str(20000 + n): "friend" for n in range(TRUST_OVERRIDES_MAX + 1)}},
    ],
)
def test_bad_settings_are_refused(body: dict[str, object]) -> None:
    with pytest.raises(Invalid):
        parse_settings_changes(body, A)


def test_who_can_friend_request_nobody() -> None:
    with pytest.raises(Forbidden) as err:
        decide_friend_request(_rf(who_can_friend_request="nobody"))
    assert err.value.code is ErrorCode.FRIEND_REQUESTS_RESTRICTED
    with pytest.raises(Forbidden):  # a retry of a request made before the setting changed
        decide_friend_request(_rf(who_can_friend_request="nobody", mine=_req(A, B)))
    # Asking back someone who asked you is consent, whatever your own setting says.
    theirs = _rf(who_can_friend_request="nobody", theirs=_req(B, A))
    assert decide_friend_request(theirs) is FriendRequestAction.ACCEPT_THEIRS


@pytest.mark.parametrize(
    ("who", "override", "kept"),
    [
        ("everyone", None, True),
        ("everyone", "stranger", True),
        ("friends_only", None, False),
        ("friends_only", "stranger", False),
        ("friends_only", "friend", True),
        ("nobody", None, False),
        ("nobody", "friend", False),
    ],
)
def test_request_text_follows_the_dm_rule(who: str, override: str | None, kept: bool) -> None:
    facts = _rf(who_can_message=who, trust_override=override)
    assert request_text(facts, "hello") == ("hello" if kept else "")
    # The same verdict as for a DM from the requester (they are not friends yet).
    dm = _facts(who_can_message=who, trust_override=override)
    try:
        check_direct_message(dm)
        allowed = True
    except Forbidden:
        allowed = False
    assert allowed is kept


def test_settings_who_can_friend_request() -> None:
    changes = parse_settings_changes({"who_can_friend_request": "nobody"}, A)
    updated = apply_settings_changes(DEFAULT_SETTINGS, changes)
    assert updated.who_can_friend_request == "nobody"
    assert updated.who_can_message == DEFAULT_SETTINGS.who_can_message
    kept = apply_settings_changes(updated, parse_settings_changes({"discoverable": False}, A))
    assert kept.who_can_friend_request == "nobody"
    for bad in ("friends_only", "NOBODY", 1, True):
        with pytest.raises(Invalid):
            parse_settings_changes({"who_can_friend_request": bad}, A)
