"""Counts in words: "1 candidate matches", "2 candidates match", "0 rows read".

The one place the command line (and anything else that prints a count) gets its
singular or plural from, so no message says "1 candidates".
"""

from __future__ import annotations


def counted(count: int, singular: str, plural: str | None = None) -> str:
    """``counted(1, "candidate")`` -> ``"1 candidate"``; 0 and 2+ take the plural
    (``singular + "s"`` unless given)."""
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


def verb(count: int, singular: str, plural: str) -> str:
    """The verb that agrees with a count: ``verb(1, "matches", "match")`` -> ``"matches"``."""
    return singular if count == 1 else plural
