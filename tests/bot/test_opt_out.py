"""Opt-out: exactly one of Twilio's default opt-out words (STOP, STOPALL, UNSUBSCRIBE,
CANCEL, END, QUIT, REVOKE, OPTOUT; any case, trimmed) opts a candidate out; START, YES,
UNSTOP opt back in; HELP and INFO are noted. Twilio's OptOutType (Advanced Opt-Out)
decides over the words. While opted out, nothing is texted and the team is told why.
Twilio's 21610 means the same."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from grammar.keywords import HELP_WORDS, OPT_IN_WORDS, OPT_OUT_WORDS
from tests.bot.conftest import CANDIDATE, Bridge
from tests.bot.harness import Caretbot

# As candidates type them: any case, stray spaces.
TYPED_OPT_OUT = [
    "STOP",
    "stop ",
    "StopAll",
    " UNSUBSCRIBE",
    "cancel",
    "END",
    "Quit",
    "revoke",
    "OptOut ",
]
TYPED_OPT_IN = ["START", "yes", " Unstop "]
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_words_are_twilios_default_keyword_lists():
    """Twilio's defaults (Twilio Support: opt-out keywords for SMS STOP filtering)."""
    assert OPT_OUT_WORDS == (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
    )
    assert OPT_IN_WORDS == ("START", "YES", "UNSTOP")
    assert HELP_WORDS == ("HELP", "INFO")
    assert {w.strip().upper() for w in TYPED_OPT_OUT} == set(OPT_OUT_WORDS)
    assert {w.strip().upper() for w in TYPED_OPT_IN} == set(OPT_IN_WORDS)


def test_the_readme_lists_exactly_the_words_of_grammar_keywords():
    text = " ".join(README.split())

    def words(label: str) -> tuple[str, ...]:
        match = re.search(rf"\*\*{label}\*\* ([A-Z, ]+)[;.]", text)
        assert match, f"README.md has no '**{label}** WORD, ...' list"
        return tuple(word.strip() for word in match.group(1).split(","))

    assert words("opt out") == OPT_OUT_WORDS
    assert words("opt back in") == OPT_IN_WORDS
    assert words("help") == HELP_WORDS


@pytest.mark.parametrize("word", TYPED_OPT_OUT)
def test_opt_out_word_opts_the_candidate_out_and_the_thread_says_so(bridge: Bridge, word: str):
    thread = bridge.open_thread("Hi, I applied last week")

    assert bridge.text_in(word).status_code == 200

    candidate = bridge.candidate()
    assert candidate is not None and candidate.opted_out
    note = bridge.wait_for_note(thread, "opted out")
    assert word.strip().upper() in note
    assert word in bridge.thread(thread)  # the text itself shows too


@pytest.mark.parametrize(
    "text", ["please stop texting me", "STOP!", "stop it", "Don't stop", "STOP STOP"]
)
def test_a_text_that_is_not_exactly_an_opt_out_word_is_an_ordinary_message(
    bridge: Bridge, text: str
):
    thread = bridge.open_thread("Hello")

    bridge.text_in(text)

    bridge.slack.wait_for(lambda: text in bridge.thread(thread))
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out
    bridge.wait_outbox_settled()
    assert bridge.notes(thread) == []


@pytest.mark.parametrize("word", TYPED_OPT_IN)
def test_opt_in_word_after_stop_opts_back_in_and_texts_flow_again(bridge: Bridge, word: str):
    thread = bridge.open_thread("STOP")
    bridge.wait_for_note(thread, "opted out")

    bridge.text_in(word)

    bridge.wait_for_note(thread, "opted back in")
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out
    bridge.teammate_says("Welcome back!", thread)
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Welcome back!"


@pytest.mark.parametrize("word", ["HELP", "info"])
def test_help_is_noted_and_does_not_opt_out(bridge: Bridge, word: str):
    thread = bridge.open_thread(word)

    note = bridge.wait_for_note(thread, word.upper(), "help")

    assert "Twilio answers HELP" in note
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out


def test_while_opted_out_a_teammates_reply_is_not_texted_and_the_thread_says_why(
    bridge: Bridge,
):
    thread = bridge.open_thread("Stop")
    bridge.wait_for_note(thread, "opted out")

    _, response = bridge.teammate_says("Are you sure? The job pays well.", thread)

    assert response.status_code == 200
    note = bridge.wait_for_note(thread, "Not texted")
    assert "STOP" in note and "START" in note
    (message,) = bridge.messages("outbound")
    assert message.status == "blocked"
    bridge.wait_outbox_settled()
    assert bridge.creates() == []


def test_caretbot_does_not_double_twilios_own_stop_confirmation_by_default(bridge: Bridge):
    """Twilio answers STOP, START and HELP itself unless told not to."""
    thread = bridge.open_thread("STOP")
    bridge.wait_for_note(thread, "opted out")
    bridge.text_in("START")
    bridge.wait_for_note(thread, "opted back in")
    bridge.text_in("HELP")
    bridge.wait_for_note(thread, "HELP")

    bridge.wait_outbox_settled()
    assert bridge.creates() == []


def test_with_send_opt_out_replies_caretbot_confirms_stop_start_and_help(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    caretbot = make_caretbot(SEND_OPT_OUT_REPLIES=True, HELP_REPLY="Acme Jobs: reply STOP to end.")
    bridge = Bridge(caretbot, slack, twilio)

    thread = bridge.open_thread("STOP")
    (stop_reply,) = bridge.wait_for_texts(1)
    bridge.text_in("START")
    bridge.wait_for_texts(2)
    bridge.text_in("HELP")
    texts = bridge.wait_for_texts(3)

    bodies = [c.params["Body"][0] for c in bridge.creates()]
    assert "unsubscribed" in bodies[0] and "START" in bodies[0]
    assert "resubscribed" in bodies[1]
    assert bodies[2] == "Acme Jobs: reply STOP to end."
    assert {t["to"] for t in texts} == {CANDIDATE}
    # Notes go through the Slack lane, texts through Twilio's: wait for them too.
    assert bridge.slack.wait_for(lambda: bridge.notes(thread))


def test_twilio_21610_on_a_send_opts_the_candidate_out_and_notes_it(
    bridge: Bridge, twilio: FakeTwilio
):
    """The carrier says the number unsubscribed (they texted STOP to another of the
    team's numbers, say): caretbot records it and stops trying."""
    twilio.fail_to(CANDIDATE, code=21610)
    thread = bridge.open_thread()

    bridge.teammate_says("Are you still interested?", thread)

    note = bridge.wait_for_note(thread, "21610")
    assert "opted out" in note
    candidate = bridge.candidate()
    assert candidate is not None and candidate.opted_out
    assert len(bridge.creates()) == 1  # a permanent error: not retried

    bridge.teammate_says("Hello?", thread)
    bridge.slack.wait_for(lambda: len([n for n in bridge.notes(thread) if "21610" in n]) == 2)
    bridge.wait_outbox_settled()
    assert len(bridge.creates()) == 1  # blocked before reaching Twilio


# Advanced Opt-Out: a Messaging Service with its own keywords. Twilio's inbound webhook
# then carries OptOutType (STOP, START, HELP), and that decides.


def test_opt_out_type_stop_opts_out_a_custom_keyword(bridge: Bridge):
    thread = bridge.open_thread("Hello, I applied for the warehouse job")

    assert bridge.text_in("Arrêt", OptOutType="STOP").status_code == 200

    note = bridge.wait_for_note(thread, "opted out")
    assert "ARRÊT" in note
    candidate = bridge.candidate()
    assert candidate is not None and candidate.opted_out
    assert candidate.opt_out_source == "sms"


def test_opt_out_type_start_opts_back_in_whatever_the_words(bridge: Bridge):
    thread = bridge.open_thread("STOP")
    bridge.wait_for_note(thread, "opted out")

    bridge.text_in("Subscribe me again please 😊", OptOutType="START")

    bridge.wait_for_note(thread, "opted back in")
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out
    bridge.teammate_says("Welcome back, we’ll text you Monday.", thread)
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Welcome back, we’ll text you Monday."


def test_opt_out_type_help_decides_over_a_default_opt_out_word(bridge: Bridge):
    """A service that made END a help keyword: Twilio says HELP, so it is not an opt-out."""
    thread = bridge.open_thread("Hi there")

    bridge.text_in("END", OptOutType="HELP")

    bridge.wait_for_note(thread, "END", "help")
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out


def test_a_custom_keyword_is_shown_as_text_not_slack_markup(bridge: Bridge):
    thread = bridge.open_thread("Hi there")

    bridge.text_in("<!channel> stop", OptOutType="STOP")

    note = bridge.wait_for_note(thread, "opted out")
    assert "<!channel>" not in note and "&lt;!CHANNEL&gt; STOP" in note


def test_without_opt_out_type_a_custom_word_is_an_ordinary_message(bridge: Bridge):
    thread = bridge.open_thread("Hi there")

    bridge.text_in("Arrêt", OptOutType="")

    bridge.slack.wait_for(lambda: "Arrêt" in bridge.thread(thread))
    bridge.wait_outbox_settled()
    candidate = bridge.candidate()
    assert candidate is not None and not candidate.opted_out
    assert bridge.notes(thread) == []
