"""Twilio error codes caretbot meets, what they mean to a recruiter, and what to do."""

from __future__ import annotations

MEANINGS = {
    20429: "too many requests to Twilio; caretbot retries",
    21211: "the phone number is not a valid number",
    21408: "texting this country is not enabled on the Twilio account",
    21610: "the recipient has opted out (texted STOP) and must text START first",
    21611: "the sending number has too many queued messages",
    21612: "this number cannot be reached from the sending number",
    21614: "the number is not a mobile number and cannot receive texts",
    21617: "the text is longer than Twilio allows (1,600 characters)",
    30001: "the message queue overflowed; the text sat too long in Twilio's queue",
    30002: "the Twilio account is suspended",
    30003: "the phone is unreachable (off or out of service)",
    30004: "the recipient's carrier blocked the text (the number may block texts)",
    30005: "the number is unknown or no longer exists",
    30006: "the number is a landline or the carrier cannot deliver to it",
    30007: "the carrier filtered the text as spam",
    30008: "delivery failed for an unknown reason at the carrier",
    30034: "the sending number is not registered for A2P 10DLC",
}

# Worth another try later: Twilio or the network hiccupped.
RETRYABLE = frozenset({20429, 21611})
OPTED_OUT = 21610


def explain(code: int | None) -> str:
    """A short phrase for a Twilio error code."""
    if code is None:
        return "no error code given"
    return MEANINGS.get(code, f"see https://www.twilio.com/docs/api/errors/{code}")
