"""Logs never carry a candidate's phone number or what anyone texted: one whole exchange
(a text in, a reply out, a delivery status, a refused send) through caretbot's real
logging set-up, JSON as a platform's collector would read it."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
import structlog

from bot.logs import configure_logging
from tests.bot.conftest import CANDIDATE, OTHER_CANDIDATE, Bridge
from tests.bot.harness import CHANNEL

INBOUND = "My SSN is on the form, call me at 512 555 0143"
REPLY = "Thanks Sam, the interview is Tuesday at Acme Warehouse"


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """caretbot's logging (JSON) written to a buffer; the test process's set-up after."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    configure_logging(json=True)
    # Nothing has logged yet: keep structlog from caching this set-up in module loggers,
    # so the other tests' capture_logs still works afterwards.
    structlog.configure(cache_logger_on_first_use=False)
    root.handlers[0].setStream(buffer)  # type: ignore[attr-defined]
    yield buffer
    structlog.reset_defaults()
    root.handlers[:] = saved_handlers
    root.setLevel(saved_level)


def test_a_full_exchange_logs_no_phone_number_and_no_message_text(
    json_logs: io.StringIO, bridge: Bridge, twilio
):
    twilio.fail_to(OTHER_CANDIDATE, code=21211)
    thread = bridge.open_thread(INBOUND)
    envelope, _ = bridge.teammate_says(REPLY, thread)
    (sent,) = bridge.wait_for_texts(1)
    twilio.send_status(sent["sid"], "delivered")
    bridge.slack.wait_for(lambda: bridge.slack.reactions(CHANNEL, envelope["event"]["ts"]))
    other = bridge.open_thread("hello from the other one", from_=OTHER_CANDIDATE)
    bridge.teammate_says("This number is invalid", other)
    bridge.wait_for_note(other, "21211")
    bridge.text_in("Carrier notice", from_="72345")

    lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
    text = json_logs.getvalue()

    events = {line["event"] for line in lines}
    assert {"sms.received", "slack.thread_message", "sms.sent", "sms.status"} <= events
    for number in (CANDIDATE, OTHER_CANDIDATE, CANDIDATE[1:], "512-555-0143", "5125550143"):
        assert number not in text, f"{number} appears in the logs"
    assert not re.search(r"512\D{0,3}555\D{0,3}0143", text)
    for words in (INBOUND, REPLY, "Acme Warehouse", "hello from the other one", "This number is"):
        assert words not in text, f"{words!r} appears in the logs"
