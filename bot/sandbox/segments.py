"""SMS segment counting as Twilio reports it in `num_segments` / `NumSegments`.

The fake keeps its own copy (rather than importing caretbot's) so a bug in the
product's counter cannot hide behind the same bug in the fake.
"""

from __future__ import annotations

import math

# GSM 03.38 basic character set (escape 0x1B excluded) and the extension table,
# whose characters take two septets each.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")


def is_gsm7(text: str) -> bool:
    """True when every character fits the GSM-7 alphabet (basic or extension)."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def count_segments(text: str) -> int:
    """Segments for `text`: GSM-7 160 / 153 per part, otherwise UCS-2 70 / 67 per part."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2  # UTF-16 code units: emoji count 2
        single, multi = 70, 67
    if units <= single:
        return 1
    return math.ceil(units / multi)
