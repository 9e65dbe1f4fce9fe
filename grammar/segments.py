"""How many SMS segments a text costs: GSM-7 160/153 characters, UCS-2 70/67 units."""

from __future__ import annotations

_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# These take two septets (an escape, then the character).
_GSM7_EXTENDED = set("^{}\\[~]|€\f")


def count_segments(body: str) -> int:
    """Segments Twilio will bill for `body` (0 for an empty text)."""
    if not body:
        return 0
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENDED for c in body):
        septets = sum(2 if c in _GSM7_EXTENDED else 1 for c in body)
        return 1 if septets <= 160 else -(-septets // 153)
    # UCS-2 counts UTF-16 code units: an emoji outside the BMP takes two.
    units = len(body.encode("utf-16-le")) // 2
    return 1 if units <= 70 else -(-units // 67)
