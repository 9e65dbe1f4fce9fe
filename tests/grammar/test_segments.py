"""Segments as Twilio counts them: GSM-7 160/153 with the extension table counting two,
UCS-2 70/67 with no emoji (surrogate pair) or escape split across parts."""

from __future__ import annotations

import pytest

from grammar.segments import GSM7, UCS2, count_segments, measure


@pytest.mark.parametrize(
    ("body", "segments", "encoding"),
    [
        ("", 0, GSM7),
        ("a" * 160, 1, GSM7),
        ("a" * 161, 2, GSM7),
        ("a" * 306, 2, GSM7),
        ("a" * 307, 3, GSM7),
        ("€" * 80, 1, GSM7),  # 160 septets
        ("€" * 81, 2, GSM7),
        # 152 septets then an escape pair: the pair does not split, a third part starts.
        ("a" * 152 + "€" + "a" * 153, 3, GSM7),
        ("a" * 70, 1, GSM7),
        ("é" * 160, 1, GSM7),  # é is in the GSM-7 basic set
        ("’" + "a" * 69, 1, UCS2),
        ("’" + "a" * 70, 2, UCS2),
        ("😀" * 35, 1, UCS2),  # 70 code units
        ("😀" * 36, 2, UCS2),
        # 66 units then an emoji: it moves whole to the second part.
        ("a" * 66 + "😀" + "a" * 66, 3, UCS2),
        ("a" * 65 + "😀" + "a" * 67, 2, UCS2),
    ],
)
def test_segments(body: str, segments: int, encoding: str) -> None:
    counted = measure(body)
    assert (counted.segments, counted.encoding) == (segments, encoding)
    assert count_segments(body) == segments


def test_the_characters_that_force_ucs2_are_named_with_their_place() -> None:
    counted = measure("It’s St. Mary’s 🌙 night")
    assert counted.ucs2_chars == (("’", 2), ("’", 13), ("🌙", 16))
    assert measure("Plain {text} [here] ~ ^ | € \\").ucs2_chars == ()
