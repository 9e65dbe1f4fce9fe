"""Phone numbers in E.164, the one form caretbot stores and compares."""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=65536)  # the same numbers text again and again
def to_e164(text: str, region: str | None = None) -> str | None:
    """`text` as +15125550100, or None when it is not a valid phone number.

    Short codes and alphanumeric senders (carrier notices) are not candidates: None.
    """
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
