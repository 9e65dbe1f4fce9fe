"""Apply statuses (issue 4): the words, their canonical spelling, and lookup.

One list for every grammar that names a status (``^status``, ``^deliver``, the list
filter's ``status:``) and for storage, which keeps the canonical words.
"""

from __future__ import annotations

APPLY_STATUSES: tuple[str, ...] = (
    "New",
    "Engaged",
    "Disengaged",
    "Delivered",
    "Interview Scheduled",
    "Information Missing",
    "Not Qualified",
    "Not Eligible for Hire",
    "Archived",
)

_BY_KEY = {status.lower(): status for status in APPLY_STATUSES}


def canonical_status(words: str) -> str | None:
    """The canonical spelling of a status typed in any case and spacing, or None."""
    return _BY_KEY.get(" ".join(words.split()).lower())
