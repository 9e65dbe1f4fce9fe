"""Caret commands: the corpus, the error answer, and "never anything but CommandError"."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grammar import (
    At,
    CommandError,
    Note,
    command_to_json,
    is_caret_line,
    parse_command,
)
from grammar.command_table import COMMANDS
from grammar.when import MAX_AHEAD
from tests.grammar.corpus import INVALID, NOW, TZ, VALID


def parse(text: str) -> object:
    return parse_command(text, now=NOW, tz=TZ)


@pytest.mark.parametrize(("text", "expected"), VALID, ids=[text for text, _ in VALID])
def test_a_valid_command_parses_to_its_json(text: str, expected: dict[str, object]) -> None:
    assert command_to_json(parse(text)) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "column", "expected", "suggestion"), INVALID, ids=[row[0] for row in INVALID]
)
def test_a_bad_command_is_refused_where_it_goes_wrong(
    text: str, column: int, expected: str, suggestion: str | None
) -> None:
    with pytest.raises(CommandError) as caught:
        parse(text)
    error = caught.value
    assert error.text == text
    assert (error.column, error.suggestion) == (column, suggestion), error.explain()
    assert expected in error.expected, error.explain()


def test_the_explanation_shows_the_line_with_a_caret_under_the_problem() -> None:
    with pytest.raises(CommandError) as caught:
        parse("^clam it")
    assert caught.value.explain().splitlines() == [
        "^clam it",
        " ^",
        "there is no command ^clam",
        "expected a command name (^help lists them)",
        "did you mean ^claim?",
    ]


def test_an_argument_error_names_the_usage_from_the_table() -> None:
    with pytest.raises(CommandError) as caught:
        parse("^assign dana")
    lines = caught.value.explain().splitlines()
    assert lines[:2] == ["^assign dana", "        ^"]
    assert lines[-1] == "usage: ^assign @user [@user ...]"


def test_for_slack_the_picture_is_a_code_block_so_the_caret_lines_up() -> None:
    with pytest.raises(CommandError) as caught:
        parse("^clam")
    assert caught.value.explain(slack=True).startswith("```^clam\n ^```\n")


def test_a_time_in_the_past_is_refused_with_what_was_understood() -> None:
    with pytest.raises(CommandError) as caught:
        parse("^at 7am Good morning")
    error = caught.value
    assert error.understood == "Mon 23 Nov 2026 07:00 EST"
    assert "'7am' is Mon 23 Nov 2026 07:00 EST, which has passed" in error.problem


def test_the_caret_of_an_error_on_a_later_line_is_on_that_line() -> None:
    with pytest.raises(CommandError) as caught:
        parse("^list add Night\nnurses")
    assert (caught.value.line, caught.value.column) == (1, 16)
    with pytest.raises(CommandError) as caught:
        parse("\n^claim\nnow")
    assert (caught.value.line, caught.value.column) == (3, 1)
    assert caught.value.picture() == "now\n^"


def test_at_is_aware_utc_and_the_text_is_kept_as_written() -> None:
    command = parse("^at tomorrow 9am   Are you *free*?  ")
    assert isinstance(command, At)
    assert command.send_at.tzinfo is UTC
    assert command.text == "Are you *free*?"


def test_the_time_zone_may_be_a_zoneinfo() -> None:
    command = parse_command("^at 3pm hi", now=NOW, tz=ZoneInfo("Europe/London"))
    assert isinstance(command, At)
    assert command.send_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_a_naive_now_is_the_callers_mistake() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_command("^claim", now=datetime(2026, 11, 23, 13, 0), tz=TZ)


def test_commands_are_frozen() -> None:
    command = parse("^note hi")
    assert isinstance(command, Note)
    with pytest.raises(dataclasses.FrozenInstanceError):
        command.text = "changed"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "caret"),
    [
        ("^claim", True),
        ("  ^assign <@U1>", True),
        ("\n\t^note x", True),
        ("^", True),
        ("hello ^claim", False),
        ("", False),
        ("   ", False),
        ("ˆclaim", False),
    ],
)
def test_a_caret_line_starts_with_a_caret_after_blanks(text: str, caret: bool) -> None:
    assert is_caret_line(text) is caret


def test_what_is_caret_line_always_parses_or_is_refused_never_texted() -> None:
    for text in ("^", "^^", "^ ", "^claim", "^nope"):
        assert is_caret_line(text)
        with contextlib.suppress(CommandError):
            parse(text)


_WORDS = st.sampled_from(sorted({spec.name for spec in COMMANDS} | {"list", "at"}))
_SLACKISH = st.text(
    alphabet=st.sampled_from(list("^<>@|:#*★☆,.-+/ \n\t\"'“”aeimnoprstuUW0123456789")), max_size=40
)
_ANY = st.one_of(st.text(max_size=60), _SLACKISH)


def _only_command_errors(text: str) -> None:
    try:
        parse(text)
    except CommandError as error:
        assert error.text == text
        assert error.column >= 1
        error.explain()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ANY)
def test_any_text_is_a_command_or_a_command_error(text: str) -> None:
    _only_command_errors(text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ANY)
def test_any_text_after_a_caret_is_a_command_or_a_command_error(text: str) -> None:
    _only_command_errors("^" + text)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_WORDS, _ANY)
def test_any_arguments_to_any_command_are_a_command_or_a_command_error(
    word: str, text: str
) -> None:
    _only_command_errors(f"^{word} {text}")


_WHENISH = st.lists(
    st.sampled_from(
        [
            *("3pm", "9am", "12am", "12pm", "3:30pm", "15:00", "24:00", "noon", "midnight"),
            *("today", "tomorrow", "monday", "next", "may", "dec", "1", "1st", "31", "of"),
            *("at", "on", "in", "an", "a", "20", "min", "2", "hours", "+3d", "+1h30m"),
            *("2026-12-01", "2026-02-29", "09:00", "2026-12-01T09:00", "weeks", "0"),
            *("99999999", "hi", "Are", ",", ":"),
        ]
    ),
    max_size=8,
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(["America/New_York", "Europe/London", "Asia/Kolkata", "Pacific/Chatham"]),
    _WHENISH,
)
def test_a_scheduled_send_is_always_after_now_and_within_a_year(
    now: datetime, tz: str, text: str
) -> None:
    try:
        command = parse_command(f"^at {text}", now=now, tz=tz)
    except CommandError:
        return
    assert isinstance(command, At)
    assert command.send_at.tzinfo is UTC
    assert now < command.send_at <= now + MAX_AHEAD
    assert command.text
