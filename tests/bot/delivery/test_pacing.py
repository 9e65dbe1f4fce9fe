"""Token buckets on a controlled clock: a cost larger than the bucket never stalls, it
goes alone from a full bucket and pays its debt before anything follows it."""

from __future__ import annotations

import pytest

from bot.delivery.pacing import Pacer, TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize("segments", [2, 3, 10])
def test_a_text_of_more_segments_than_the_bucket_holds_goes_out_alone_and_paced(segments: int):
    """TWILIO_SEGMENTS_PER_SECOND=1 (a bucket of one token): a 2- to 10-segment text
    goes at once from a full bucket, and the next waits its segments' worth of time."""
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=1, clock=clock, window=True)

    assert bucket.wait_time(segments) == 0
    assert bucket.try_take(segments)

    assert not bucket.try_take(1)
    assert bucket.wait_time(1) == pytest.approx(segments)
    waited = bucket.take(1, sleep=clock.sleep)
    assert waited == pytest.approx(segments, abs=0.01)


def test_never_more_than_the_rate_in_any_one_second_window():
    """Sends of mixed sizes at 3 segments a second from a bucket of one (as the
    dispatcher keeps a Twilio sender's): every one-second window holds at most the rate,
    bar the one text that is bigger on its own."""
    clock = Clock()
    bucket = TokenBucket(rate=3.0, burst=1, clock=clock, window=True)
    sends: list[tuple[float, int]] = []
    for cost in [1, 2, 10, 1, 1, 1, 4, 1, 2, 2]:
        bucket.take(cost, sleep=clock.sleep)
        sends.append((clock.now, cost))
    for index, (start, cost) in enumerate(sends):
        window = sum(c for t, c in sends[index:] if t < start + 1.0)
        assert window <= max(3, cost), (start, sends)
    # Over the whole run the rate holds: 25 segments, the last 2 sent on credit.
    assert sends[-1][0] - sends[0][0] >= (25 - 2 - 1) / 3.0 - 0.01
    big = next(t for t, c in sends if c == 10)
    assert [c for t, c in sends if big - 1.0 < t < big + 10 / 3.0] == [10]


def test_a_pause_holds_the_bucket_for_the_retry_after_then_lets_one_through():
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=3, clock=clock)
    bucket.pause(5)
    assert bucket.paused_for() == pytest.approx(5)
    clock.now += 5
    assert bucket.try_take(1) and not bucket.try_take(1)


def test_tokens_given_back_are_there_again_but_never_above_the_burst():
    clock = Clock()
    bucket = TokenBucket(rate=1.0, burst=2, clock=clock)
    assert bucket.try_take(2)
    bucket.give_back(5)
    assert bucket.try_take(2) and not bucket.try_take(1)


def test_a_pacer_keeps_one_bucket_per_key():
    pacer = Pacer(1.0, 1, Clock())
    assert pacer.bucket("twilio:+15125550100") is pacer.bucket("twilio:+15125550100")
    assert pacer.bucket("twilio:+15125550100") is not pacer.bucket("twilio:+15125550199")
    assert [key for key, _ in pacer.items()] == ["twilio:+15125550100", "twilio:+15125550199"]
