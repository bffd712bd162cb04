import pytest
from hypothesis import given
from hypothesis import strategies as st

from agentplaza.domain.cursors import decode_page_cursor, encode_page_cursor, next_sync_seq
from agentplaza.domain.errors import Invalid


@given(st.integers(0, 2**62))
def test_page_cursor_round_trips(n: int) -> None:
    assert decode_page_cursor(encode_page_cursor(n)) == n


@pytest.mark.parametrize("garbage", ["", "!!", "cg", "eDEy", "r-1", "%00"])
def test_foreign_cursor_is_invalid(garbage: str) -> None:
    with pytest.raises(Invalid):
        decode_page_cursor(garbage)


@given(st.integers(0, 10**9), st.lists(st.integers(1, 10**9), max_size=20))
def test_next_sync_seq_is_last_returned_or_unchanged(since: int, seqs: list[int]) -> None:
    seqs = sorted(s + since for s in seqs)
    assert next_sync_seq(since, seqs) == (seqs[-1] if seqs else since)
