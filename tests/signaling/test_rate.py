"""The chat allowance: a token bucket with the clock passed in (issue 15, finding 8)."""

from __future__ import annotations

import pytest

from signaling.rate import CHAT_BURST_LINES, CHAT_LINES_PER_S, TokenBucket, chat_bucket


def test_a_burst_passes_then_one_line_per_refill() -> None:
    bucket = chat_bucket()
    assert [bucket.take(100.0) for _ in range(CHAT_BURST_LINES)] == [0.0] * CHAT_BURST_LINES
    wait_s = bucket.take(100.0)
    assert wait_s == pytest.approx(1 / CHAT_LINES_PER_S)
    assert bucket.take(100.5) == pytest.approx(0.5 / CHAT_LINES_PER_S)  # a refused take costs nothing
    assert bucket.take(101.0) == 0.0
    assert bucket.take(101.0) > 0


def test_the_bucket_refills_to_its_capacity_and_no_further() -> None:
    bucket = TokenBucket(capacity=3, per_s=1.0)
    for _ in range(3):
        bucket.take(0.0)
    assert bucket.take(3600.0) == 0.0  # an hour later: full again, not 3,600 lines
    assert bucket.take(3600.0) == 0.0 and bucket.take(3600.0) == 0.0
    assert bucket.take(3600.0) > 0


def test_ten_seconds_allow_no_more_than_the_burst_and_the_refill() -> None:
    bucket = chat_bucket()
    sent = sum(bucket.take(t / 100) == 0.0 for t in range(1000))  # 100 tries a second for 10 s
    assert sent <= CHAT_BURST_LINES + 10 * CHAT_LINES_PER_S


def test_a_bucket_that_could_never_pass_is_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(capacity=0.5, per_s=1.0)
    with pytest.raises(ValueError):
        TokenBucket(capacity=5, per_s=0)
