"""Quiet hours in a candidate's own local time, and which time zone that is.

The zone comes from the phone number (libphonenumber's time-zone data, through
`phonenumbers.timezone`); when the area code spans several zones (e.g. +1 915 is both
Mountain and Central), the candidate's state decides; failing both, the default zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

__all__ = ["QuietHours", "candidate_timezone", "parse_quiet_hours"]

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

# US and Canadian states and provinces by their main zone: decides split area codes.
_STATE_ZONES: dict[str, str] = {
    **dict.fromkeys(
        [
            "CT",
            "DE",
            "DC",
            "FL",
            "GA",
            "IN",
            "KY",
            "ME",
            "MD",
            "MA",
            "MI",
            "NH",
            "NJ",
            "NY",
            "NC",
            "OH",
            "PA",
            "RI",
            "SC",
            "VT",
            "VA",
            "WV",
            "ON",
            "QC",
        ],
        "America/New_York",
    ),
    **dict.fromkeys(
        [
            "AL",
            "AR",
            "IL",
            "IA",
            "KS",
            "LA",
            "MN",
            "MS",
            "MO",
            "NE",
            "ND",
            "OK",
            "SD",
            "TN",
            "TX",
            "WI",
            "MB",
        ],
        "America/Chicago",
    ),
    **dict.fromkeys(["CO", "ID", "MT", "NM", "UT", "WY", "AB"], "America/Denver"),
    "AZ": "America/Phoenix",
    **dict.fromkeys(["CA", "NV", "OR", "WA", "BC"], "America/Los_Angeles"),
    "AK": "America/Anchorage",
    "HI": "Pacific/Honolulu",
}
_STATE_NAMES = {
    "texas": "TX", "california": "CA", "new york": "NY", "illinois": "IL", "florida": "FL",
    "arizona": "AZ", "colorado": "CO", "oregon": "OR", "idaho": "ID", "nebraska": "NE",
    "kansas": "KS", "kentucky": "KY", "tennessee": "TN", "indiana": "IN", "michigan": "MI",
    "north dakota": "ND", "south dakota": "SD", "florida panhandle": "FL", "nevada": "NV",
    "washington": "WA", "alaska": "AK", "hawaii": "HI", "georgia": "GA", "ohio": "OH",
}  # fmt: skip


@dataclass(frozen=True)
class QuietHours:
    """A daily window of local wall-clock time, [start, end), possibly over midnight."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a local wall-clock time falls inside the window."""
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def opens_at(self, now: datetime, zone: str) -> datetime | None:
        """None when `now` (aware) is outside quiet hours in `zone`; else the UTC moment
        the window ends there (the next local `end`)."""
        tz = ZoneInfo(zone)
        local = now.astimezone(tz)
        if not self.contains(local.time().replace(tzinfo=None)):
            return None
        day = local.date()
        if local.time().replace(tzinfo=None) >= self.end:
            day += timedelta(days=1)
        opening = datetime.combine(day, self.end, tzinfo=tz)
        return opening.astimezone(UTC)


def parse_quiet_hours(text: str) -> QuietHours:
    """`21:00-08:00` -> QuietHours; ValueError naming the expected form."""
    match = _WINDOW.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a window like 21:00-08:00")
    sh, sm, eh, em = (int(part) for part in match.groups())
    if sh > 23 or eh > 23 or sm > 59 or em > 59:
        raise ValueError(f"{text!r} has a time that is not on a 24-hour clock")
    start, end = time(sh, sm), time(eh, em)
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return QuietHours(start, end)


def zones_for_phone(phone: str) -> tuple[str, ...]:
    """The time zones libphonenumber gives an E.164 number (its longest known prefix).

    The same data `phonenumbers.timezone.time_zones_for_number` reads, looked up
    directly: parsing each number costs about a millisecond, too slow for a preview of
    ten thousand recipients.
    """
    digits = phone.lstrip("+")
    if not digits.isdigit():
        return ()
    for length in range(min(len(digits), TIMEZONE_LONGEST_PREFIX), 0, -1):
        found = TIMEZONE_DATA.get(digits[:length])
        if found is not None:
            return tuple(zone for zone in found if zone != "Etc/Unknown")
    return ()


def candidate_timezone(phone: str, state: str | None, default: str) -> str:
    """The IANA zone to read a candidate's quiet hours in (see the module docstring)."""
    zones = zones_for_phone(phone)
    if len(zones) == 1:
        return zones[0]
    key = (state or "").strip()
    code = key.upper() if len(key) == 2 else _STATE_NAMES.get(key.lower(), "")
    by_state = _STATE_ZONES.get(code)
    if by_state and (not zones or by_state in zones):
        return by_state
    return default
