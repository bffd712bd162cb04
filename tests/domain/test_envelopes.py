"""The fan-out payload (domain/envelopes.py): one publication carrying many deliveries."""

from __future__ import annotations

import pytest

from agentplaza.domain.envelopes import Envelope, decode_fanout, encode_fanout
from agentplaza.domain.ids import AccountId


def test_a_fanout_gives_each_wanted_account_its_delivery_in_order() -> None:
    first, second = b',"body":"one"}', b',"body":"two"}'
    deliveries = [
        (AccountId(f"1000{n}"), 7 + n, b'{"to":"1000%d","seq":%d' % (n, 7 + n), tail)
        for n, tail in enumerate([first, first, second, first])
    ]
    payload = encode_fanout(deliveries)
    everyone = [(a, Envelope(seq, own + tail)) for a, seq, own, tail in deliveries]
    assert list(decode_fanout(payload, {a for a, *_ in deliveries})) == everyone
    assert list(decode_fanout(payload, {"10001", "10003", "99999"})) == [
        everyone[1],
        everyone[3],
    ]
    assert list(decode_fanout(payload, set())) == []
    assert payload.count(first) == 1  # a shared tail travels once


@pytest.mark.parametrize("cut", [0, 5, 13, -1])
def test_a_truncated_fanout_is_refused(cut: int) -> None:
    payload = encode_fanout([(AccountId("10001"), 1, b'{"seq":1', b"}")] * 3)
    with pytest.raises(ValueError, match="malformed"):
        decode_fanout(payload[:cut], {"10001"})
    with pytest.raises(ValueError, match="malformed"):
        decode_fanout(payload + b"x", {"10001"})
