"""``caretbot parse``: JSON on stdout, or the error with its caret on stderr and exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import typer
from typer.testing import CliRunner

from bot.cli.parse import register


@pytest.fixture
def app() -> typer.Typer:
    """A small app with parse registered, as bot/cli/main.py does for the real one."""
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Keep parse a subcommand, as it is beside caretbot's others."""

    register(app)
    return app


runner = CliRunner()


def test_a_command_prints_as_json(app: typer.Typer) -> None:
    result = runner.invoke(app, ["parse", "^assign <@U123>"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"command": "assign", "users": ["U123"]}
    assert result.stderr == ""


def test_at_is_read_at_now_in_the_time_zone_and_printed_in_utc(app: typer.Typer) -> None:
    result = runner.invoke(
        app,
        [
            "parse",
            "^at tomorrow 9am Are you free?",
            "--now",
            "2026-11-23T13:00:00Z",
            "--tz",
            "America/New_York",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "command": "at",
        "send_at": "2026-11-24T14:00:00Z",
        "text": "Are you free?",
    }


def test_a_now_without_an_offset_is_wall_clock_time_in_the_zone(app: typer.Typer) -> None:
    args = ["parse", "^at 3pm hi", "--now", "2026-11-23T08:00", "--tz", "America/New_York"]
    result = runner.invoke(app, args)
    assert json.loads(result.stdout)["send_at"] == "2026-11-23T20:00:00Z"


def test_without_now_the_current_time_is_used(app: typer.Typer) -> None:
    result = runner.invoke(app, ["parse", "^at in 2 hours hi"])
    assert result.exit_code == 0, result.output
    sent = datetime.fromisoformat(json.loads(result.stdout)["send_at"])
    assert abs(sent - datetime.now(UTC) - timedelta(hours=2)) < timedelta(minutes=1)


def test_unicode_is_printed_as_itself(app: typer.Typer) -> None:
    result = runner.invoke(app, ["parse", "^note café ★"])
    assert json.loads(result.stdout) == {"command": "note", "text": "café ★"}
    assert "café ★" in result.stdout


def test_a_bad_command_prints_the_caret_on_stderr_and_exits_2(app: typer.Typer) -> None:
    result = runner.invoke(app, ["parse", "^clam"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[:2] == ["^clam", " ^"]
    assert "did you mean ^claim?" in result.stderr


def test_a_time_in_the_past_is_refused_with_what_was_understood(app: typer.Typer) -> None:
    args = ["parse", "^at 3pm hi", "--now", "2026-11-23T21:00:00Z", "--tz", "America/New_York"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "Mon 23 Nov 2026 15:00 EST, which has passed" in result.stderr


@pytest.mark.parametrize(
    ("option", "value"), [("--tz", "Mars/Olympus"), ("--tz", "../etc"), ("--now", "tuesday")]
)
def test_a_bad_option_is_a_usage_error(app: typer.Typer, option: str, value: str) -> None:
    result = runner.invoke(app, ["parse", "^claim", option, value])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert option in result.stderr
