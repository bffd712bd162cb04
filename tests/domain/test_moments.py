"""Moments' pure rules: visibility, who deletes what, input validation, ids, views."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentplaza.domain.errors import ErrorCode, Forbidden, Invalid, NotFound
from agentplaza.domain.ids import AccountId
from agentplaza.domain.moments import (
    COMMENT_MAX_CHARS,
    MEDIA_MAX_ITEMS,
    MOMENT_MAX_CHARS,
    Moment,
    MomentFacts,
    MomentRow,
    Visibility,
    can_see,
    check_delete_comment,
    check_delete_moment,
    check_visible,
    is_comment_id,
    is_moment_id,
    moment_view,
    new_comment_id,
    new_moment_id,
    parse_visibility,
    validate_comment_content,
    validate_media,
    validate_moment_content,
    visible_to,
)

AUTHOR, FRIEND, STRANGER = AccountId("10001"), AccountId("10002"), AccountId("P10003")


def facts(viewer: AccountId, visibility: Visibility, *, friends: bool = False) -> MomentFacts:
    return MomentFacts(
        viewer_id=viewer,
        moment_id="mo_x",
        author_id=AUTHOR,
        visibility=visibility,
        are_friends=friends,
    )


# (viewer, are_friends) → visibilities seen
MATRIX = {
    (AUTHOR, False): {Visibility.PUBLIC, Visibility.FRIENDS, Visibility.PRIVATE},
    (FRIEND, True): {Visibility.PUBLIC, Visibility.FRIENDS},
    (STRANGER, False): {Visibility.PUBLIC},
}


@pytest.mark.parametrize(("viewer", "friends"), list(MATRIX))
def test_visibility_matrix(viewer: AccountId, friends: bool) -> None:
    seen = {v for v in Visibility if can_see(viewer, AUTHOR, v, are_friends=friends)}
    assert seen == MATRIX[(viewer, friends)]
    assert set(visible_to(viewer, AUTHOR, are_friends=friends)) == seen
    # A block either way hides everything from the other; one's own stay visible.
    hidden = visible_to(viewer, AUTHOR, are_friends=friends, blocked=True)
    assert set(hidden) == (seen if viewer == AUTHOR else set())


@given(st.sampled_from(list(Visibility)), st.booleans())
def test_the_author_always_sees_and_public_is_seen_by_all(v: Visibility, friends: bool) -> None:
    assert can_see(AUTHOR, AUTHOR, v, are_friends=friends)
    assert can_see(STRANGER, AUTHOR, Visibility.PUBLIC, are_friends=friends)
    assert can_see(STRANGER, AUTHOR, Visibility.PRIVATE, are_friends=friends) is False


def test_check_visible_hides_missing_and_hidden_moments_alike() -> None:
    with pytest.raises(NotFound) as missing:
        check_visible(None)
    with pytest.raises(NotFound) as hidden:
        check_visible(facts(STRANGER, Visibility.FRIENDS))
    assert missing.value.code == hidden.value.code == ErrorCode.MOMENT_NOT_FOUND
    assert missing.value.detail == hidden.value.detail
    seen = facts(FRIEND, Visibility.FRIENDS, friends=True)
    assert check_visible(seen) is seen


def test_only_the_author_deletes_a_moment() -> None:
    check_delete_moment(facts(AUTHOR, Visibility.PRIVATE))
    with pytest.raises(Forbidden):
        check_delete_moment(facts(STRANGER, Visibility.PUBLIC))
    with pytest.raises(Forbidden):
        check_delete_moment(facts(FRIEND, Visibility.FRIENDS, friends=True))
    with pytest.raises(NotFound):
        check_delete_moment(facts(STRANGER, Visibility.PRIVATE))


def test_who_deletes_a_comment() -> None:
    public = facts(STRANGER, Visibility.PUBLIC)
    check_delete_comment(public, STRANGER)  # its author
    check_delete_comment(facts(AUTHOR, Visibility.PUBLIC), STRANGER)  # the moment's author
    with pytest.raises(Forbidden):
        check_delete_comment(public, FRIEND)
    with pytest.raises(NotFound) as no_comment:
        check_delete_comment(public, None)
    assert no_comment.value.code == ErrorCode.COMMENT_NOT_FOUND
    with pytest.raises(NotFound) as hidden:
        check_delete_comment(facts(STRANGER, Visibility.PRIVATE), STRANGER)
    assert hidden.value.code == ErrorCode.MOMENT_NOT_FOUND


@pytest.mark.parametrize(
    ("validate", "limit"),
    [(validate_moment_content, MOMENT_MAX_CHARS), (validate_comment_content, COMMENT_MAX_CHARS)],
)
def test_content_limits(validate: object, limit: int) -> None:
    assert callable(validate)
    assert validate("x" * limit) == "x" * limit
    assert validate(" a ") == " a "
    for bad in ("", " \t\n", "x" * (limit + 1), "a\x00b", "a\ud800", None, 5, ["x"]):
        with pytest.raises(Invalid) as err:
            validate(bad)
        assert err.value.code == ErrorCode.INVALID_CONTENT


def test_parse_visibility() -> None:
    assert parse_visibility(None) is Visibility.PUBLIC
    assert parse_visibility("friends") is Visibility.FRIENDS
    for bad in ("", "Public", "everyone", 1, ["public"]):
        with pytest.raises(Invalid):
            parse_visibility(bad)


def test_validate_media() -> None:
    assert validate_media(None) == ()
    good = ["https://example.com/a.png?x=1#y", "http://h/p", "f_01ABC", "file:123"]
    assert validate_media(good) == tuple(good)
    assert len(validate_media(["f_1"] * MEDIA_MAX_ITEMS)) == MEDIA_MAX_ITEMS
    for bad in (
        "https://e.com/a.png",
        ["f_1"] * (MEDIA_MAX_ITEMS + 1),
        ["javascript:alert(1)"],
        ["https://e.com/a b"],
        ["https://e.com/\r\nX-Evil: 1"],
        ["ftp://e.com/a"],
        [""],
        [None],
        ["https://e.com/" + "a" * 2048],
        ["https://e.com/\ud800"],
    ):
        with pytest.raises(Invalid):
            validate_media(bad)


@given(st.integers(0, 2**48 - 1), st.binary(min_size=10, max_size=10))
def test_ids_round_trip_and_do_not_mix(now_ms: int, rand: bytes) -> None:
    moment, comment = new_moment_id(now_ms, rand), new_comment_id(now_ms, rand)
    assert is_moment_id(moment) and not is_comment_id(moment)
    assert is_comment_id(comment) and not is_moment_id(comment)


def test_malformed_ids() -> None:
    for bad in ("", "mo_", "mo_" + "0" * 25, "mo_" + "0" * 27, "mo_" + "u" * 26, "10001", "c_x"):
        assert not is_moment_id(bad)
        assert not is_comment_id(bad)


def test_moment_view_names_both_count_spellings() -> None:
    row = MomentRow(
        num=7,
        moment=Moment(
            id="mo_1",
            author_id=AUTHOR,
            content="hi",
            visibility=Visibility.FRIENDS,
            media=("f_1",),
            like_count=2,
            comment_count=3,
            created_at_us=1_700_000_000_123_456,
        ),
        display_name="Ada",
        liked_by_me=True,
    )
    view = moment_view(row)
    assert view["agent_id"] == view["author_id"] == AUTHOR
    assert (view["likes"], view["like_count"], view["comments"], view["comment_count"]) == (
        2,
        2,
        3,
        3,
    )
    assert view["media"] == ["f_1"]
    assert view["visibility"] == "friends"
    assert view["created_at"] == "2023-11-14T22:13:20.123Z"
