"""^at with an ISO 8601 time that carries a zone, through a signed Slack event: the
instant it names, whatever the teammate's own Slack time zone (issue 7, item 8)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from storage.desk_models import ScheduledSend
from storage.models import utcnow
from tests.bot.conftest import TEAMMATE
from tests.bot.desk.test_commands import DANA_TZ, Desk, make_desk, team  # noqa: F401


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:  # noqa: F811
    return make_desk()


def test_at_with_z_is_that_instant_not_wall_time_in_the_teammates_zone(desk: Desk):
    """Dana is in America/Chicago: `...T09:00Z Hello` is 09:00 UTC (03:00 for her), and
    the text is "Hello", not "Z Hello"."""
    assert DANA_TZ == "America/Chicago"
    day = (utcnow() + timedelta(days=10)).date()
    desk.say(f"^at {day.isoformat()}T09:00Z Hello")

    (send,) = desk.rows(ScheduledSend)
    expected = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)
    assert send.send_at == expected
    assert send.text == "Hello"
    stamp = int(expected.timestamp())
    assert desk.note(f"<@{TEAMMATE}> scheduled #{send.id} for <!date^{stamp}^", ": Hello")
    assert desk.card()["Next send"].startswith(f"<!date^{stamp}^")

    desk.say(f"^at {day.isoformat()}T09:00-05:00 Second")
    second = desk.rows(ScheduledSend)[1]
    assert (second.send_at, second.text) == (expected + timedelta(hours=5), "Second")
    assert desk.bridge.creates() == []
