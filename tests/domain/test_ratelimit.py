from hypothesis import given
from hypothesis import strategies as st

from agentplaza.domain.ratelimit import take


def test_bucket_allows_capacity_then_refuses_then_refills() -> None:
    bucket = None
    for _ in range(10):
        decision = take(bucket, capacity=10, per_sec=10, now=100.0)
        assert decision.allowed
        bucket = decision.bucket
    refused = take(bucket, capacity=10, per_sec=10, now=100.0)
    assert not refused.allowed
    assert abs(refused.retry_after_secs - 0.1) < 1e-9
    assert take(refused.bucket, capacity=10, per_sec=10, now=100.1).allowed


@given(st.lists(st.floats(0, 5), min_size=1, max_size=200))
def test_never_more_than_capacity_plus_refill(gaps: list[float]) -> None:
    now, bucket, allowed = 0.0, None, 0
    for gap in gaps:
        now += gap
        decision = take(bucket, capacity=5, per_sec=2, now=now)
        bucket = decision.bucket
        allowed += decision.allowed
    assert allowed <= 5 + 2 * now + 1e-6
