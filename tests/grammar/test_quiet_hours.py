"""Quiet hours and the candidate's time zone: area code, then state, then the default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grammar.quiet_hours import candidate_timezone, parse_quiet_hours


@pytest.mark.parametrize(
    ("phone", "state", "zone"),
    [
        ("+13125550101", None, "America/Chicago"),  # 312: Chicago
        ("+12125550101", "CA", "America/New_York"),  # the area code wins
        ("+12135550101", None, "America/Los_Angeles"),
        ("+15005550006", "TX", "America/Chicago"),  # 500 spans zones: the state decides
        ("+15005550006", "Oregon", "America/Los_Angeles"),
        ("+15005550006", None, "America/Denver"),  # neither: the default
        ("+18005550100", "ZZ", "America/Denver"),
        ("not a phone", None, "America/Denver"),
    ],
)
def test_candidate_timezone(phone: str, state: str | None, zone: str) -> None:
    assert candidate_timezone(phone, state, "America/Denver") == zone


def test_quiet_hours_over_midnight_open_at_the_local_end() -> None:
    quiet = parse_quiet_hours("21:00-08:00")
    # 22:00 in Chicago on Dec 3 (04:00 UTC Dec 4): opens 08:00 Chicago = 14:00 UTC.
    assert quiet.opens_at(datetime(2026, 12, 4, 4, 0, tzinfo=UTC), "America/Chicago") == (
        datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    )
    # 07:59 in Chicago: still quiet, opens one minute later.
    assert quiet.opens_at(datetime(2026, 12, 4, 13, 59, tzinfo=UTC), "America/Chicago") == (
        datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    )
    assert quiet.opens_at(datetime(2026, 12, 4, 14, 0, tzinfo=UTC), "America/Chicago") is None
    assert quiet.opens_at(datetime(2026, 12, 4, 2, 59, tzinfo=UTC), "America/Chicago") is None


@pytest.mark.parametrize("bad", ["21-08", "25:00-08:00", "21:00-21:00", "nine to five", ""])
def test_bad_quiet_hours_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="QUIET|window|clock|same time"):
        parse_quiet_hours(bad)
