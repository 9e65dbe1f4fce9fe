"""How many SMS segments a text costs, the one place that counts them.

GSM-7: 160 septets in a single segment, 153 per part of a longer text; the extension
table (`^{}\\[~]|€` and form feed) takes two septets (an escape, then the character),
and the pair is never split across parts. Any character outside GSM-7 turns the whole
text into UCS-2: 70 UTF-16 code units in one segment, 67 per part; a character outside
the Basic Multilingual Plane (most emoji) is a surrogate pair of two units, and the pair
is never split across parts. This is how Twilio counts (Twilio docs, "What the Heck is
a Segment?" and the Messaging encoding guide), with Smart Encoding off.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# These take two septets (an escape, then the character).
_GSM7_EXTENDED = set("^{}\\[~]|€\f")

GSM7 = "GSM-7"
UCS2 = "UCS-2"


@dataclass(frozen=True)
class SegmentCount:
    """What a text costs: `segments`, its `encoding` (GSM-7 or UCS-2), `units` (septets
    or UTF-16 code units), and `ucs2_chars`: each character that forces UCS-2 with its
    0-based index in the text (empty for GSM-7)."""

    segments: int
    encoding: str
    units: int
    ucs2_chars: tuple[tuple[str, int], ...] = ()


def _parts(widths: list[int], single: int, per_part: int) -> int:
    """Parts needed when no character (of `width` units) may straddle two parts."""
    total = sum(widths)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for width in widths:
        if used + width > per_part:
            parts += 1
            used = 0
        used += width
    return parts


_NOT_GSM7 = re.compile("[^" + re.escape("".join(sorted(_GSM7_BASIC | _GSM7_EXTENDED))) + "]")
_GSM7_EXT = re.compile("[" + re.escape("".join(sorted(_GSM7_EXTENDED))) + "]")
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def measure(body: str) -> SegmentCount:
    """Segments, encoding and the characters that force UCS-2, for `body` as sent."""
    forcing = tuple((m.group(), m.start()) for m in _NOT_GSM7.finditer(body))
    if not forcing:
        units = len(body) + len(_GSM7_EXT.findall(body))
        if units <= 160:
            return SegmentCount(1 if units else 0, GSM7, units)
        widths = [2 if c in _GSM7_EXTENDED else 1 for c in body]
        return SegmentCount(_parts(widths, 160, 153), GSM7, units)
    units = len(body) + len(_ASTRAL.findall(body))
    if units <= 70:
        return SegmentCount(1, UCS2, units, forcing)
    widths = [2 if ord(c) > 0xFFFF else 1 for c in body]
    return SegmentCount(_parts(widths, 70, 67), UCS2, units, forcing)


def count_segments(body: str) -> int:
    """Segments Twilio will bill for `body` (0 for an empty text)."""
    return measure(body).segments
