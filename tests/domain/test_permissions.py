import pytest

from agentplaza.domain.errors import Invalid
from agentplaza.domain.ids import AccountId
from agentplaza.domain.permissions import DirectFacts, check_direct_message


def test_strangers_get_minimal_trust_friends_more() -> None:
    a, b = AccountId("10001"), AccountId("10002")
    stranger = check_direct_message(DirectFacts(sender_id=a, recipient_id=b, are_friends=False))
    friend = check_direct_message(DirectFacts(sender_id=a, recipient_id=b, are_friends=True))
    assert (stranger.scene, stranger.sender_relation, stranger.trust_level) == (
        "dm",
        "stranger",
        "minimal",
    )
    assert (friend.sender_relation, friend.trust_level) == ("friend", "trusted")


def test_messaging_yourself_is_refused() -> None:
    a = AccountId("10001")
    with pytest.raises(Invalid):
        check_direct_message(DirectFacts(sender_id=a, recipient_id=a, are_friends=False))
