"""Check: whether a phone cell is a number that can take texts, as E.164.

Phones are the hot path of a million-row import: phonenumbers costs ~35 µs a number, so
NANP numbers (the common case) take a regex and a per-prefix cache whose answers are
exact because a NANP number's validity and type depend only on its first digits, as
many as phonenumbers' own metadata constrains (tests/storage/imports/test_check.py checks
that against phonenumbers).
"""

from __future__ import annotations

import re
import re._constants as sre  # the regex parser's node names, to read phone metadata
import re._parser as sre_parse
from functools import cache, lru_cache
from typing import Any

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberType

__all__ = ["NANP_REGIONS", "check_region", "normalise_phone"]

# phonenumbers' own words would confuse a recruiter ("FIXED_LINE"); these do not.
_NOT_MOBILE = {
    PhoneNumberType.FIXED_LINE: "a landline",
    PhoneNumberType.TOLL_FREE: "a toll-free number",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    PhoneNumberType.SHARED_COST: "a shared-cost number",
    PhoneNumberType.VOIP: "an internet (VoIP) number",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number",
    PhoneNumberType.PAGER: "a pager",
    PhoneNumberType.UAN: "a company number",
    PhoneNumberType.VOICEMAIL: "a voicemail number",
}
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_TYPE_DESCS = (
    "general_desc",
    "fixed_line",
    "mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "personal_number",
    "voip",
    "pager",
    "uan",
    "voicemail",
)
NANP_REGIONS = frozenset(phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1])
# +1 (512) 555-0100, 1-512-555-0100, 512.555.0100, 5125550100: the shapes of a NANP number.
_NANP = re.compile(r"(\+)?(?:1[\s.\-]*)?\(?([2-9]\d\d)\)?[\s.\-]*([2-9]\d\d)[\s.\-]*(\d{4})")
_EXCEL_NUMBER = re.compile(r"\d(?:\.\d+)?E\+\d+", re.IGNORECASE)


_ALL_DIGITS = frozenset("0123456789")
_NANP_VERDICTS: dict[str, str | None] = {}


def _digit_paths(items: Any) -> list[tuple[frozenset[str], ...]]:
    """Every digit-by-digit spelling of a parsed metadata regex (they have no * or +)."""
    paths: list[tuple[frozenset[str], ...]] = [()]
    for op, arg in items:
        if op is sre.LITERAL:
            parts: list[tuple[frozenset[str], ...]] = [(frozenset(chr(arg)),)]
        elif op is sre.IN:
            digits: set[str] = set()
            for kind, value in arg:
                if kind is sre.LITERAL:
                    digits.add(chr(value))
                elif kind is sre.RANGE:
                    digits.update(chr(c) for c in range(value[0], value[1] + 1))
                else:
                    digits |= _ALL_DIGITS  # \d inside a class
            parts = [(frozenset(digits),)]
        elif op is sre.CATEGORY:
            parts = [(_ALL_DIGITS,)]
        elif op is sre.MAX_REPEAT:
            low, high, sub = arg
            inner = _digit_paths(sub)
            parts = []
            for count in range(low, high + 1):
                runs: list[tuple[frozenset[str], ...]] = [()]
                for _ in range(count):
                    runs = [run + more for run in runs for more in inner]
                parts += runs
        elif op is sre.SUBPATTERN:
            parts = _digit_paths(arg[-1])
        elif op is sre.BRANCH:
            parts = [path for branch in arg[1] for path in _digit_paths(branch)]
        else:
            raise ValueError(f"unexpected {op} in phone metadata")
        paths = [path + part for path in paths for part in parts]
    return paths


@cache
def _nanp_depths() -> dict[str, int]:
    """How many leading digits of a +1 number decide whether it is valid and its type.

    Read from phonenumbers' own metadata: for each area code, the deepest digit that any
    pattern (or region's leading digits) constrains. Most area codes need 3 or 4 digits,
    Barbados and Jamaica 7; so a verdict cached under that prefix is exact.
    """
    patterns: list[tuple[str, bool]] = []  # (regex, whether it is a region's leading digits)
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.leading_digits:
            patterns.append((metadata.leading_digits, True))
        for name in _TYPE_DESCS:
            desc = getattr(metadata, name, None)
            if desc is not None and desc.national_number_pattern:
                patterns.append((desc.national_number_pattern, False))
    depths: dict[str, int] = {}
    for pattern, leading in patterns:
        for path in _digit_paths(sre_parse.parse(pattern)):
            # Only ten-digit numbers take the fast path; `3\d{6}` (7 digits) never applies.
            if len(path) < 3 or (len(path) != 10 and not leading):
                continue
            deepest = max(
                (at + 1 for at, digits in enumerate(path) if digits != _ALL_DIGITS), default=0
            )
            for a in path[0]:
                for b in path[1]:
                    for c in path[2]:
                        npa = a + b + c
                        depths[npa] = max(depths.get(npa, 3), deepest)
    return depths


def _nanp_verdict(national: str) -> str | None:
    """None when a +1 number can take texts, else why not; cached per deciding prefix."""
    key = national[: _nanp_depths().get(national[:3], 3)]
    try:
        return _NANP_VERDICTS[key]
    except KeyError:
        pass
    if len(_NANP_VERDICTS) > 200_000:
        _NANP_VERDICTS.clear()
    number = phonenumbers.PhoneNumber(country_code=1, national_number=int(national))
    verdict = _NANP_VERDICTS[key] = _phone_verdict(number)
    return verdict


_LENGTH_REASONS = {
    phonenumbers.ValidationResult.TOO_SHORT: "is too short",
    phonenumbers.ValidationResult.INVALID_LENGTH: "has the wrong number of digits",
    phonenumbers.ValidationResult.TOO_LONG: "is too long",
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "has no area code",
}


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "has an unknown country code",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
    phonenumbers.NumberParseException.TOO_LONG: "is too long",
}


def _phone_verdict(number: phonenumbers.PhoneNumber) -> str | None:
    if not phonenumbers.is_valid_number(number):
        length = phonenumbers.is_possible_number_with_reason(number)
        return _LENGTH_REASONS.get(length, "is not a valid number")
    kind = phonenumbers.number_type(number)
    if kind in _MOBILE_TYPES:
        return None
    return f"is {_NOT_MOBILE.get(kind, 'not a mobile number')}; texts need a mobile"


@lru_cache(maxsize=65536)
def _slow_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """phonenumbers for everything that is not a plain NANP number; cached on the text."""
    if _EXCEL_NUMBER.fullmatch(raw):
        return None, (
            f"phone {raw} lost digits when Excel turned it into a number; "
            "format the column as text and export again"
        )
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as error:
        return None, f"phone {raw} {_PARSE_REASONS.get(error.error_type, 'is not a phone number')}"
    if number.extension:
        # Stored without it, the number would text someone else: refuse the row.
        return None, (
            f"phone {raw} has an extension ({number.extension}); "
            "texts cannot reach an extension: give a mobile number"
        )
    verdict = _phone_verdict(number)
    if verdict is not None:
        return None, f"phone {raw} {verdict}"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), None


def normalise_phone(raw: str, region: str) -> tuple[str | None, str | None]:
    """(E.164, None) for a number that can take texts, (None, reason) otherwise."""
    text = raw.strip()
    if not text:
        return None, "phone is missing"
    match = _NANP.fullmatch(text)
    if match is not None:
        plus, npa, nxx, line = match.groups()
        if plus and not text.startswith("+1") or not plus and region not in NANP_REGIONS:
            return _slow_phone(text, region)
        national = npa + nxx + line
        verdict = _nanp_verdict(national)
        if verdict is not None:
            return None, f"phone {text} {verdict}"
        return "+1" + national, None
    return _slow_phone(text, region)


def check_region(region: str) -> str:
    """The region, upper-cased; ValueError naming it when phonenumbers does not know it."""
    region = region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown region {region}: use a two-letter code such as US or GB")
    return region
