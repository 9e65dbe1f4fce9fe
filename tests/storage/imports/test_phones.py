"""Phones: tables of numbers as people type them, and the fast path against phonenumbers."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.imports.phones import _nanp_depths, normalise_phone

PHONES: list[tuple[str, str, str]] = [
    ("(512) 555-0100", "US", "+15125550100"),
    ("512.555.0100", "US", "+15125550100"),
    ("1-512-555-0100", "US", "+15125550100"),
    ("+1 512 555 0100", "GB", "+15125550100"),
    ("5125550100", "CA", "+15125550100"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 7911 123456", "US", "+447911123456"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("(512) 555-0100", "GB", "is not a valid number"),
    ("+44 20 7946 0018", "US", "is a landline; texts need a mobile"),
    ("+1 900 555 0100", "US", "is a premium-rate number"),
    ("+1 246 521 0100", "US", "is a landline"),
    ("+1 246 521 1100", "US", "+12465211100"),
    ("1.51255E+10", "US", "lost digits when Excel turned it into a number"),
    # Issue 7: stored without its extension, the number would text someone else.
    ("512 555 0100 ext. 7", "US", "has an extension (7); texts cannot reach an extension"),
    ("512-555-0103 x123", "US", "has an extension (123)"),
    ("+1 512 555 0106 ext. 9", "US", "has an extension (9)"),
    ("(512) 555-0103 #22", "US", "has an extension (22)"),
    ("+512 555 0100", "US", "not a valid number"),
    ("+999 1234", "US", "has an unknown country code"),
]


@pytest.mark.parametrize(("raw", "region", "expected"), PHONES)
def test_phones(raw: str, region: str, expected: str) -> None:
    phone, why = normalise_phone(raw, region)
    if expected.startswith("+"):
        assert (phone, why) == (expected, None)
    else:
        assert phone is None
        assert why is not None and expected in why, why


def _library(raw: str, region: str) -> str | None:
    """What phonenumbers alone says: the E.164 of a number that takes texts, else None."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def test_the_fast_path_agrees_with_phonenumbers() -> None:
    """NANP numbers skip phonenumbers through a per-prefix cache: same answers, sampled.

    Every area code, a few exchanges each, in every format; and the Barbados and Jamaica
    prefixes whose answer turns on the seventh digit.
    """
    rng = random.Random(20261123)
    formats = ["({a}) {b}-{c}", "{a}.{b}.{c}", "+1 {a} {b} {c}", "1{a}{b}{c}", "{a}{b}{c}"]
    cases = []
    for area in range(200, 1000):
        for _ in range(3):
            exchange = rng.randint(200, 999)
            cases.append((area, exchange, f"{rng.randint(0, 9999):04d}"))
    for prefix in ("246521", "246522", "876606"):
        for seventh in range(10):
            cases.append((int(prefix[:3]), int(prefix[3:]), f"{seventh}{rng.randint(0, 999):03d}"))
    for area, exchange, line in cases:
        raw = rng.choice(formats).format(a=area, b=exchange, c=line)
        for region in ("US", "CA"):
            assert normalise_phone(raw, region)[0] == _library(raw, region), raw


def test_prefix_depths_come_from_the_metadata() -> None:
    depths = _nanp_depths()
    assert depths["512"] in (3, 4)
    assert depths["246"] == 7
    assert depths["876"] == 7


@given(st.text(max_size=30), st.sampled_from(["US", "GB", "IN"]))
def test_any_text_gets_an_answer(raw: str, region: str) -> None:
    phone, why = normalise_phone(raw, region)
    assert (phone is None) != (why is None)
