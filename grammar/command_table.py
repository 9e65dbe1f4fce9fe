"""The one table of caret commands: name, syntax, purpose, examples (errbot style).

The parser checks command names against it and takes usage lines from it, ``^help``
and "did you mean ^claim?" read it, and ``table_markdown()`` renders it for the docs.
tests/grammar/test_command_table.py parses every example, so the help cannot drift
from the grammar.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Literal

from grammar import command_types as t
from grammar.statuses import APPLY_STATUSES


@dataclasses.dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command: ``name`` is what follows ``^`` (``"list add"`` has two words)."""

    name: str
    syntax: str
    purpose: str
    examples: tuple[str, ...]
    type: type[t.Command]
    details: str = ""
    where: Literal["thread", "channel"] = "thread"

    @property
    def word(self) -> str:
        """The first word, the one the parser looks up (``"list"`` for ``list add``)."""
        return self.name.split()[0]


# One paragraph per line, unwrapped: Slack wraps them to the reader's window.
_WHEN_DETAILS = (
    "<when> is in your Slack time zone: 3pm, 3:30pm tomorrow, tomorrow 9am, monday 10:00, "
    "next monday noon, dec 1 9am, 2026-12-01 09:00, noon, midnight (the end of that day), "
    "in 20 min, in 2 hours, in 1 hour 30 min, +3d, +1w.\n"
    "A bare time is today; a weekday is the nearest one, today included (next monday skips "
    "today); a date without a year is the nearest one from today on. A time already past "
    "is refused. The longest leading part that reads as a time is the time, the rest is "
    "the text.\n"
    "An ISO time with Z or an offset (2026-12-01T09:00Z, 2026-12-01T09:00+02:00) is that "
    "instant, whatever your time zone."
)

_DELIVER_DETAILS = (
    "The status, then the rating, each optional and in that order; the rest is the "
    f"summary.\nStatuses: {', '.join(APPLY_STATUSES)}.\n"
    "Ratings: 4*, 4 stars, 4/5 or ★★★★ (a bare 4 is read as the start of the summary)."
)

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "assign",
        "^assign @user [@user ...]",
        "assign the conversation to teammates",
        ("^assign @dana", "^assign @dana @lee"),
        t.Assign,
    ),
    CommandSpec(
        "unassign",
        "^unassign [@user ...]",
        "remove assignees (everyone, without arguments)",
        ("^unassign @dana", "^unassign"),
        t.Unassign,
    ),
    CommandSpec("claim", "^claim", "claim the conversation for yourself", ("^claim",), t.Claim),
    CommandSpec(
        "unclaim",
        "^unclaim",
        "release the conversation (holder or manager)",
        ("^unclaim",),
        t.Unclaim,
    ),
    CommandSpec(
        "at",
        "^at <when> <text>",
        "text the candidate at a later time",
        (
            "^at tomorrow 9am Are you free to talk?",
            "^at 3:30pm Just tried to call you",
            "^at in 2 hours Any news?",
            "^at dec 1 9am Your first day starts at 10",
        ),
        t.At,
        _WHEN_DETAILS,
    ),
    CommandSpec(
        "scheduled",
        "^scheduled",
        "list this conversation's pending sends",
        ("^scheduled",),
        t.Scheduled,
    ),
    CommandSpec(
        "cancel",
        "^cancel [id]",
        "cancel a pending send (the only one, without an id)",
        ("^cancel 12", "^cancel"),
        t.Cancel,
    ),
    CommandSpec(
        "close", "^close", "close the conversation (out of the waiting lists)", ("^close",), t.Close
    ),
    CommandSpec("open", "^open", "reopen the conversation", ("^open",), t.Open),
    CommandSpec(
        "read", "^read", "mark it read: no longer waiting for the team", ("^read",), t.Read
    ),
    CommandSpec(
        "invite",
        "^invite @user | ^invite name@company.com",
        "let someone outside the team see and reply in this conversation",
        ("^invite @sam", "^invite sam@company.com"),
        t.Invite,
    ),
    CommandSpec(
        "deliver",
        "^deliver @user [status] [1-5 stars] [summary]",
        "hand the candidate to someone with a delivery card, and close",
        (
            "^deliver @sam Interview Scheduled 4 stars Strong ICU background",
            "^deliver @sam ★★★★★",
            "^deliver @sam",
        ),
        t.Deliver,
        _DELIVER_DETAILS,
    ),
    CommandSpec(
        "opt-out",
        "^opt-out <reason>",
        "stop texting this candidate, with a reason",
        ("^opt-out asked by phone not to be texted",),
        t.OptOut,
    ),
    CommandSpec(
        "opt-in",
        "^opt-in <reason>",
        "undo a manual opt-out (a candidate who texted STOP must text START)",
        ("^opt-in opted out by mistake",),
        t.OptIn,
    ),
    CommandSpec(
        "note",
        "^note <text>",
        "an internal note: stored and shown, never texted",
        ("^note prefers nights, available from January",),
        t.Note,
    ),
    CommandSpec(
        "status",
        "^status <apply status>",
        "set the status of the candidate's active apply",
        ("^status Interview Scheduled", "^status not qualified"),
        t.Status,
        f"Statuses: {', '.join(APPLY_STATUSES)} (any case).",
    ),
    CommandSpec(
        "list add",
        "^list add <list>",
        "add the candidate to a list",
        ("^list add Night nurses", '^list add "Fall 2026"'),
        t.ListAdd,
    ),
    CommandSpec(
        "list remove",
        "^list remove <list>",
        "remove the candidate from a list",
        ("^list remove Night nurses",),
        t.ListRemove,
    ),
    CommandSpec(
        "help",
        "^help [command]",
        "the list of commands, or one command's syntax and examples",
        ("^help", "^help at"),
        t.Help,
    ),
    CommandSpec(
        "import",
        "^import [list name]",
        "import the attached CSV or XLSX file of candidates, into a list if named",
        ("^import Night nurses", "^import"),
        t.Import,
        where="channel",
    ),
)

BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}
BY_TYPE: dict[type[t.Command], CommandSpec] = {spec.type: spec for spec in COMMANDS}
GROUPS: dict[str, tuple[CommandSpec, ...]] = {
    word: tuple(spec for spec in COMMANDS if spec.word == word)
    for word in dict.fromkeys(spec.word for spec in COMMANDS)
}
"""Commands by first word: ``GROUPS["list"]`` is list add and list remove."""


def suggest(typed: str) -> str | None:
    """The command name closest to a misspelt one (``"clam"`` -> ``"claim"``), or None."""
    typed = " ".join(typed.lower().split())
    candidates = list(BY_NAME) + [word for word in GROUPS if word not in BY_NAME]
    close = difflib.get_close_matches(typed, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def topic(typed: str) -> str | None:
    """The help topic ``typed`` names (``"^At"`` -> ``"at"``, ``"list"``), or None."""
    name = " ".join(typed.lstrip("^").lower().split())
    return name if name in BY_NAME or name in GROUPS else None


def usage(word: str) -> str:
    """The syntax line(s) of a command or group, for error messages."""
    specs = GROUPS.get(word) or (BY_NAME[word],)
    return " | ".join(spec.syntax for spec in specs)


def _one(spec: CommandSpec) -> str:
    lines = [spec.syntax, spec.purpose[0].upper() + spec.purpose[1:] + "."]
    lines += ["Examples:"] + [f"  {example}" for example in spec.examples]
    if spec.details:
        lines.append(spec.details)
    return "\n".join(lines)


def help_text(command: str | None = None) -> str:
    """``^help``: every command, one line each; ``^help at``: its syntax and examples."""
    if command is not None:
        name = topic(command)
        if name is None:
            raise ValueError(f"no command ^{command.lstrip('^')}")
        specs = GROUPS.get(name) or (BY_NAME[name],)
        return "\n\n".join(_one(spec) for spec in specs)
    width = max(len(spec.syntax) for spec in COMMANDS)
    thread = [spec for spec in COMMANDS if spec.where == "thread"]
    channel = [spec for spec in COMMANDS if spec.where == "channel"]
    lines = ["Commands in a candidate's thread:"]
    lines += [f"  {spec.syntax.ljust(width)}  {spec.purpose}" for spec in thread]
    lines.append("In a channel, on a message with a file:")
    lines += [f"  {spec.syntax.ljust(width)}  {spec.purpose}" for spec in channel]
    lines.append("^help <command> shows its syntax and examples.")
    return "\n".join(lines)


def table_markdown() -> str:
    """The table as Markdown, for the README and docs."""
    rows = ["| command | what it does | example |", "| --- | --- | --- |"]
    for spec in COMMANDS:
        syntax = spec.syntax.replace("|", "\\|")
        rows.append(f"| `{syntax}` | {spec.purpose} | `{spec.examples[0]}` |")
    return "\n".join(rows)
