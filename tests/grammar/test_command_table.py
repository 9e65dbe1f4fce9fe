"""The command table is the help: every example parses, every command is in it."""

from __future__ import annotations

import re
import typing

import pytest

from grammar import APPLY_STATUSES, Command, Deliver, help_text, parse_command, parse_when
from grammar.command_table import COMMANDS, CommandSpec, suggest, table_markdown
from tests.grammar.corpus import NOW, TZ


def as_slack_sends_it(example: str) -> str:
    """``^assign @dana`` as it reaches the bot: ``^assign <@U0DANA|dana>``."""
    return re.sub(r"(?<![\w.])@(\w+)", lambda m: f"<@U0{m[1].upper()}|{m[1]}>", example)


EXAMPLES = [(spec, example) for spec in COMMANDS for example in spec.examples]


@pytest.mark.parametrize(("spec", "example"), EXAMPLES, ids=[e for _, e in EXAMPLES])
def test_every_example_in_the_table_parses_to_its_command(spec: CommandSpec, example: str) -> None:
    command = parse_command(as_slack_sends_it(example), now=NOW, tz=TZ)
    assert type(command) is spec.type
    assert command.keyword == spec.name


def test_every_command_type_has_one_row() -> None:
    assert sorted(spec.type.__name__ for spec in COMMANDS) == sorted(
        cls.__name__ for cls in typing.get_args(Command)
    )
    assert len({spec.name for spec in COMMANDS}) == len(COMMANDS)


def test_help_lists_every_command_with_its_purpose() -> None:
    text = help_text(None)
    for spec in COMMANDS:
        assert spec.syntax in text
        assert spec.purpose in text


def test_help_for_one_command_has_its_syntax_examples_and_details() -> None:
    text = help_text("at")
    assert text.startswith("^at <when> <text>\nText the candidate at a later time.\nExamples:\n")
    assert "  ^at tomorrow 9am Are you free to talk?" in text
    assert "in 20 min" in text


@pytest.mark.parametrize("topic", ["^Claim", "claim", " CLAIM "])
def test_help_topics_are_forgiving(topic: str) -> None:
    assert help_text(topic).startswith("^claim\n")


def test_help_for_a_group_covers_each_of_its_commands() -> None:
    text = help_text("list")
    assert "^list add <list>" in text and "^list remove <list>" in text


def test_help_for_an_unknown_command_is_an_error() -> None:
    with pytest.raises(ValueError, match="no command"):
        help_text("nope")


@pytest.mark.parametrize(
    ("typed", "guess"),
    [
        ("clam", "claim"),
        ("asign", "assign"),
        ("unasign", "unassign"),
        ("optout", "opt-out"),
        ("opt_in", "opt-in"),
        ("schedule", "scheduled"),
        ("list ad", "list add"),
        ("lsit", "list"),
        ("xyzzy", None),
    ],
)
def test_did_you_mean_reads_the_table(typed: str, guess: str | None) -> None:
    assert suggest(typed) == guess


@pytest.mark.parametrize("status", APPLY_STATUSES)
def test_the_grammar_knows_every_apply_status(status: str) -> None:
    for typed in (status, status.lower(), status.upper().replace(" ", "  ")):
        command = parse_command(f"^deliver <@U1> {typed} 5*", now=NOW, tz=TZ)
        assert command == Deliver(user="U1", status=status, stars=5)
        status_command = parse_command(f"^status {typed}", now=NOW, tz=TZ)
        assert status_command.status == status  # type: ignore[union-attr]


def test_the_docs_table_has_a_row_per_command() -> None:
    rows = table_markdown().splitlines()
    assert len(rows) == 2 + len(COMMANDS)
    assert rows[2].startswith("| `^assign @user [@user ...]` |")


def test_the_filter_language_names_the_same_statuses() -> None:
    """Until grammar/filters.py imports grammar.statuses, its copy must not drift."""
    filters = pytest.importorskip("grammar.filters")
    assert getattr(filters, "APPLY_STATUSES", APPLY_STATUSES) == APPLY_STATUSES


def test_every_when_in_the_help_reads() -> None:
    listed = help_text("at").split("<when> is in your Slack time zone: ")[1].split(".\n")[0]
    for example in listed.replace(" (the end of that day)", "").split(", "):
        parse_when(example, now=NOW, tz=TZ)
