"""The carrier keywords a candidate can text: the one place that lists them.

A text is a keyword only when it is exactly the word (any case, trimmed): "please stop
texting me" is a message for the team, not an opt-out.
"""

from __future__ import annotations

from enum import Enum


class Keyword(Enum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP"})


def keyword_of(body: str) -> Keyword | None:
    """The keyword this text is, or None for an ordinary message."""
    word = body.strip().upper()
    if word in OPT_OUT_WORDS:
        return Keyword.OPT_OUT
    if word in OPT_IN_WORDS:
        return Keyword.OPT_IN
    if word in HELP_WORDS:
        return Keyword.HELP
    return None
