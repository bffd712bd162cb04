from hypothesis import given
from hypothesis import strategies as st

from agentplaza.domain import ids


@given(st.integers(0, 2**48 - 2), st.binary(min_size=10, max_size=10))
def test_message_ids_are_valid_and_sort_by_time(now_ms: int, rand: bytes) -> None:
    mid = ids.new_message_id(now_ms, rand)
    assert ids.is_message_id(mid)
    later = ids.new_message_id(now_ms + 1, rand)
    assert mid < later


@given(st.integers(10001, 10**12), st.integers(10001, 10**12))
def test_dm_thread_is_symmetric_and_never_uuid_shaped(a: int, b: int) -> None:
    x, y = ids.AccountId(str(a)), ids.AccountId(str(b))
    thread = ids.dm_thread_id(x, y)
    assert thread == ids.dm_thread_id(y, x)
    assert not ids.is_uuid_shaped(thread)
    assert ids.is_thread_id(thread)


def test_parse_account_id_accepts_numbers_and_rejects_garbage() -> None:
    assert ids.parse_account_id(10001) == "10001"
    assert ids.parse_account_id("P10001") == "P10001"
    for bad in ["", "0", "abc", "10001 ", "@10001", True, None, 1.5, "1" * 30, "-1"]:
        assert ids.parse_account_id(bad) is None, bad


@given(st.integers(0, 2**48 - 1), st.binary(min_size=10, max_size=10))
def test_sortable_ids_are_the_ulid_encoding(now_ms: int, rand: bytes) -> None:
    # The reference: a ULID is the 128-bit value in 26 Crockford base32 digits, high first.
    value = now_ms << 80 | int.from_bytes(rand, "big")
    digits = "".join(
        "0123456789ABCDEFGHJKMNPQRSTVWXYZ"[(value >> (5 * i)) & 31] for i in range(25, -1, -1)
    )
    assert ids.new_sortable_id("m_", now_ms, rand) == "m_" + digits
