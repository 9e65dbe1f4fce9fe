"""The carrier keywords a candidate can text: the one place that lists them.

The words are Twilio's default opt-out, opt-in and help keywords for long codes and
toll-free numbers (Twilio Support, "Twilio support for opt-out keywords (SMS STOP
filtering)"). A text is a keyword only when it is exactly the word (any case, trimmed):
"please stop texting me" is a message for the team, not an opt-out.

A Messaging Service with Advanced Opt-Out may have its own keywords; Twilio then says
what the text was in the inbound webhook's ``OptOutType`` (STOP, START or HELP), and
that decides, whatever the words were.
"""

from __future__ import annotations

from enum import Enum


class Keyword(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


# In the order Twilio's documentation lists them (README.md shows them in this order).
OPT_OUT_WORDS: tuple[str, ...] = (
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
)
OPT_IN_WORDS: tuple[str, ...] = ("START", "YES", "UNSTOP")
HELP_WORDS: tuple[str, ...] = ("HELP", "INFO")

_BY_WORD = {
    **dict.fromkeys(OPT_OUT_WORDS, Keyword.OPT_OUT),
    **dict.fromkeys(OPT_IN_WORDS, Keyword.OPT_IN),
    **dict.fromkeys(HELP_WORDS, Keyword.HELP),
}

# Twilio's inbound webhook parameter OptOutType (Advanced Opt-Out on a Messaging Service).
_BY_OPT_OUT_TYPE = {"STOP": Keyword.OPT_OUT, "START": Keyword.OPT_IN, "HELP": Keyword.HELP}


def keyword_of(body: str, opt_out_type: str | None = None) -> Keyword | None:
    """The keyword this text is, or None for an ordinary message.

    `opt_out_type` is Twilio's ``OptOutType`` webhook parameter (STOP, START, HELP) when
    the text reached a Messaging Service with Advanced Opt-Out: when present, it decides.
    An empty or unknown value falls back to the default words.
    """
    if opt_out_type:
        by_type = _BY_OPT_OUT_TYPE.get(opt_out_type.strip().upper())
        if by_type is not None:
            return by_type
    return _BY_WORD.get(body.strip().upper())
