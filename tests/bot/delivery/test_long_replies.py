"""Issue 7 item 1: a reply longer than one segment is texted at the default pace
(TWILIO_SEGMENTS_PER_SECOND=1, a bucket of one segment), paced by its segments, and a
slow or stuck Twilio call never holds up texts to other candidates. Through the edge: a
signed Slack event in, the Twilio fake's Messages.create out."""

from __future__ import annotations

from collections.abc import Callable

from grammar.segments import count_segments
from tests.bot.conftest import CANDIDATE, OTHER_CANDIDATE, Bridge
from tests.bot.harness import Caretbot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.twilio_api import FakeTwilio

# 209 plain characters: GSM-7, two segments.
PLAIN_209 = (
    "Hi Maria, thanks for coming in today. The shift lead role at the Riverside "
    "warehouse starts Monday at 7am; bring your ID and steel-toe boots. Parking is "
    "behind building C. Text us here with any questions, Mar!"
)
# 75 characters with one curly apostrophe: UCS-2, two segments.
CURLY_75 = "We’ve moved your interview to Thursday at 3pm, same place. See you then ok?"
# Ten segments of GSM-7 text.
TEN_SEGMENTS = ("Please read the attached offer details carefully. " * 31)[:1530]


def default_pace(make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio):
    """caretbot at the default Twilio pace (the harness's is faster)."""
    return Bridge(make_caretbot(overrides={"TWILIO_SEGMENTS_PER_SECOND": 1.0}), slack, twilio)


def test_the_bodies_are_what_the_issue_says():
    assert (len(PLAIN_209), count_segments(PLAIN_209)) == (209, 2)
    assert (len(CURLY_75), count_segments(CURLY_75)) == (75, 2)
    assert count_segments(TEN_SEGMENTS) == 10


def test_a_two_segment_reply_is_texted_at_the_default_pace_then_the_sender_rests(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    bridge = default_pace(make_caretbot, slack, twilio)
    first = bridge.open_thread("Hi, is the warehouse job still open?")
    second = bridge.open_thread("Hello, I applied yesterday", from_=OTHER_CANDIDATE)

    bridge.teammate_says(PLAIN_209, first)
    bridge.teammate_says("Yes, we got it.", second)

    (long,) = bridge.wait_for_texts(1, timeout=5)
    (short,) = bridge.wait_for_texts(1, number=OTHER_CANDIDATE, timeout=5)
    assert long["body"] == PLAIN_209 and long["num_segments"] == "2"
    creates = {c.params["To"][0]: c for c in bridge.creates()}
    # Two segments at one a second: nothing follows from the sender for two seconds.
    assert creates[OTHER_CANDIDATE].at - creates[CANDIDATE].at >= 1.9
    assert short["body"] == "Yes, we got it."
    bridge.wait_outbox_settled()
    (sent,) = bridge.messages("outbound")[:1]
    assert (sent.status, sent.segments) == ("queued", 2)


def test_a_reply_with_a_curly_apostrophe_is_texted_at_the_default_pace(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    bridge = default_pace(make_caretbot, slack, twilio)
    thread = bridge.open_thread()

    bridge.teammate_says(CURLY_75, thread)
    bridge.teammate_says("Reply YES to confirm.", thread)

    long, short = bridge.wait_for_texts(2, timeout=6)
    assert (long["body"], long["num_segments"]) == (CURLY_75, "2")
    assert short["body"] == "Reply YES to confirm."
    first, second = bridge.creates()
    assert second.at - first.at >= 1.9


def test_a_ten_segment_reply_goes_alone_and_the_next_text_waits_its_segments(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    """At 5 segments a second a 10-segment text takes two seconds of the sender."""
    bridge = Bridge(make_caretbot(overrides={"TWILIO_SEGMENTS_PER_SECOND": 5.0}), slack, twilio)
    first = bridge.open_thread()
    second = bridge.open_thread("Me too", from_=OTHER_CANDIDATE)

    bridge.teammate_says(TEN_SEGMENTS, first)
    bridge.wait_for_texts(1, timeout=5)
    bridge.teammate_says("Short one", second)

    (short,) = bridge.wait_for_texts(1, number=OTHER_CANDIDATE, timeout=5)
    big, small = bridge.creates()
    assert big.params["Body"] == [TEN_SEGMENTS] and short["body"] == "Short one"
    assert small.at - big.at >= 1.9


def test_a_stuck_twilio_call_does_not_hold_up_texts_to_other_candidates(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    bridge = default_pace(make_caretbot, slack, twilio)
    first = bridge.open_thread()
    second = bridge.open_thread("Hello, I applied yesterday", from_=OTHER_CANDIDATE)
    release = twilio.hold_next(to=CANDIDATE, seconds=20)
    try:
        bridge.teammate_says(PLAIN_209, first)
        twilio.wait_for(lambda: twilio._holds == [], timeout=5)  # the call is hanging

        bridge.teammate_says("Yes, we got it.", second)

        (other,) = bridge.wait_for_texts(1, number=OTHER_CANDIDATE, timeout=5)
        assert other["body"] == "Yes, we got it."
        assert bridge.texts_to(CANDIDATE) == []
    finally:
        release.set()
    (long,) = bridge.wait_for_texts(1, timeout=5)
    assert long["body"] == PLAIN_209
    entries = bridge.wait_outbox_settled()
    assert all(e.state == "done" for e in entries)
