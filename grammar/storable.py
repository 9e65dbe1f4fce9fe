"""Text as a database can keep it."""

from __future__ import annotations

NUL = "\x00"


def storable_text(text: str) -> str:
    """`text` without NUL characters: PostgreSQL's text type refuses U+0000 ("invalid byte
    sequence for encoding UTF8: 0x00"), and no phone or Slack client shows one, so a NUL
    in a real message is dropped rather than the message refused."""
    return text.replace(NUL, "") if NUL in text else text
