"""Caret command lines -> typed commands (command_types), or a CommandError.

The command word is looked up in the table first (so ``^clam`` gets "did you mean
^claim?" rather than a parse error), commands.lark then checks the arguments, and
``^at``'s rest of line is split by the <when> grammar: the longest prefix that reads
as a time is the time, what follows is the text.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from datetime import datetime
from typing import Literal, cast
from zoneinfo import ZoneInfo

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from grammar import command_table
from grammar.command_types import (
    Assign,
    At,
    Cancel,
    Claim,
    Close,
    Command,
    Deliver,
    Help,
    Import,
    Invite,
    ListAdd,
    ListRemove,
    Note,
    Open,
    OptIn,
    OptOut,
    Read,
    Scheduled,
    Status,
    Unassign,
    Unclaim,
    mailto_address,
    user_ref,
)
from grammar.errors import CommandError, Refusal
from grammar.slack_text import decode_entities
from grammar.statuses import APPLY_STATUSES, canonical_status
from grammar.when import describe_local, read_when, resolve_when

_HEAD = re.compile(r"\s*\^\s*([^\W\d_][\w-]*)?")
_SEPARATOR = re.compile(r"\s*(?:[,:;]|[-–—]+(?=\s))?\s*")
_QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’"}
_MAX_ID = 2**63 - 1  # the database's integer; a longer id cannot name a send


def is_caret_line(text: str) -> bool:
    """Whether a message is a command: its first non-blank character is ``^``.

    The one place for this rule: the Slack listener uses it to keep command lines
    from ever being texted to the candidate.
    """
    return text.lstrip().startswith("^")


# Commands whose last argument is free text: the lines after one of them, up to a blank
# line or the next caret line, are more of that text, so a two-line ^note stays a note
# and is never texted.
MULTILINE_COMMANDS = frozenset({"at", "note", "deliver", "opt-out", "opt-in"})


@dataclasses.dataclass(frozen=True, slots=True)
class MessagePart:
    """A piece of a teammate's message: ``command`` (a caret line, with its continuation
    lines) or ``text`` (every other line of the message, together: one text)."""

    kind: Literal["command", "text"]
    text: str


def split_message(text: str) -> list[MessagePart]:
    """A thread message's caret commands and its text to send, in message order.

    A line that starts with ``^`` (after blanks) is a command wherever it is in the
    message, and never texted; the other lines are the text, joined in their order,
    placed where its first line was. Continuation lines belong to the command before
    them only after ^at, ^note, ^deliver, ^opt-out and ^opt-in (MULTILINE_COMMANDS).
    A message with no non-blank text line has no text part.
    """
    lines = text.split("\n")
    parts: list[MessagePart] = []
    texted: list[str] = []
    text_at: int | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not is_caret_line(line):
            if text_at is None and line.strip():
                text_at = len(parts)
            if text_at is not None:
                texted.append(line)
            continue
        block = [line]
        head = _HEAD.match(line)
        word = (head.group(1) or "").lower() if head else ""
        if word in MULTILINE_COMMANDS:
            while index < len(lines) and lines[index].strip() and not is_caret_line(lines[index]):
                block.append(lines[index])
                index += 1
        parts.append(MessagePart("command", "\n".join(block)))
    body = "\n".join(texted).strip()
    if text_at is not None and body:
        parts.insert(text_at, MessagePart("text", body))
    return parts


class _AtDraft:
    """^at before its <when> is resolved: that needs ``now`` and the time zone."""

    __slots__ = ("rest",)

    def __init__(self, rest: Token | None) -> None:
        self.rest = rest


def _text(token: Token) -> str:
    return str(token).strip()


def _one_line_name(token: Token, what: str) -> str:
    name = _text(token)
    if "\n" in name:
        pos = (token.start_pos or 0) + str(token).index("\n")
        raise Refusal(pos, f"a {what} is one line", expected=f"the {what} on the command's line")
    if len(name) >= 2 and _QUOTES.get(name[0]) == name[-1]:
        name = name[1:-1].strip()
    if not name:
        raise Refusal(token.start_pos, f"the {what} is empty", expected=f"a {what}")
    return name


@v_args(inline=True)
class _Build(Transformer[Token, "Command | _AtDraft"]):
    """commands.lark's rules -> command dataclasses, refusing what the grammar cannot."""

    def start(self, command: Command | _AtDraft) -> Command | _AtDraft:
        return command

    def assign(self, *users: Token) -> Assign:
        return Assign(tuple(dict.fromkeys(user_ref(user) for user in users)))

    def unassign(self, *users: Token) -> Unassign:
        return Unassign(tuple(dict.fromkeys(user_ref(user) for user in users)))

    def claim(self) -> Claim:
        return Claim()

    def unclaim(self) -> Unclaim:
        return Unclaim()

    def at(self, rest: Token | None) -> _AtDraft:
        return _AtDraft(rest)

    def scheduled(self) -> Scheduled:
        return Scheduled()

    def cancel(self, send_id: Token | None) -> Cancel:
        if send_id is None:
            return Cancel(None)
        digits = send_id.lstrip("#")
        if len(digits) > 19 or int(digits) > _MAX_ID:
            raise Refusal(
                send_id.start_pos,
                f"there is no send {send_id}",
                expected="a send id from ^scheduled",
            )
        return Cancel(int(digits))

    def close(self) -> Close:
        return Close()

    def open(self) -> Open:
        return Open()

    def read(self) -> Read:
        return Read()

    def invite(self, target: Token) -> Invite:
        if target.type == "USER":
            return Invite(user=user_ref(target))
        return Invite(email=mailto_address(target))

    def deliver(
        self, user: Token, status: Token | None, stars: Token | None, summary: Token | None
    ) -> Deliver:
        return Deliver(
            user=user_ref(user),
            status=canonical_status(status) if status is not None else None,
            stars=_stars(stars) if stars is not None else None,
            summary=_text(summary) if summary is not None else None,
        )

    def opt_out(self, reason: Token) -> OptOut:
        return OptOut(_text(reason))

    def opt_in(self, reason: Token) -> OptIn:
        return OptIn(_text(reason))

    def note(self, text: Token) -> Note:
        return Note(_text(text))

    def help(self, rest: Token | None) -> Help:
        if rest is None:
            return Help(None)
        name = command_table.topic(rest)
        if name is None:
            typed = _text(rest).lstrip("^")
            guess = command_table.suggest(typed)
            raise Refusal(
                rest.start_pos,
                f"there is no command ^{typed}",
                expected="a command name (^help alone lists them)",
                suggestion=f"^help {guess}" if guess else None,
            )
        return Help(name)

    def status(self, rest: Token) -> Status:
        status = canonical_status(rest)
        if status is None:
            typed = " ".join(rest.split())
            raise Refusal(
                rest.start_pos,
                f"{typed!r} is not an apply status",
                expected="one of " + ", ".join(APPLY_STATUSES),
                suggestion=_closest_status(typed),
            )
        return Status(status)

    def list_add(self, rest: Token) -> ListAdd:
        return ListAdd(_one_line_name(rest, "list name"))

    def list_remove(self, rest: Token) -> ListRemove:
        return ListRemove(_one_line_name(rest, "list name"))

    def import_file(self, rest: Token | None) -> Import:
        return Import(_one_line_name(rest, "list name") if rest is not None else None)


def _closest_status(typed: str) -> str | None:
    """``interview`` -> Interview Scheduled, ``enaged`` -> Engaged; ``hired`` -> None."""
    key = typed.lower()
    starting = [status for status in APPLY_STATUSES if status.lower().startswith(key)]
    if len(starting) == 1:
        return starting[0]
    keys = [status.lower() for status in APPLY_STATUSES]
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.8)
    return canonical_status(close[0]) if close else None


def _stars(token: Token) -> int:
    """``4*``, ``4 stars``, ``4/5`` or ``★★★★`` -> 4; a bare digit is not a rating."""
    if token.startswith("★"):
        count = token.count("★")
    else:
        digits = re.match(r"\d+", token).group()  # type: ignore[union-attr]
        count = int(digits) if len(digits) < 3 else 0
    if not 1 <= count <= 5:
        raise Refusal(token.start_pos, f"{token} is not a rating", expected="1 to 5 stars")
    return count


@functools.cache
def command_parser() -> Lark:
    """The LALR parser of commands.lark with its Transformer inlined, built once."""
    return Lark.open(
        "commands.lark", rel_to=__file__, parser="lalr", cache=True, transformer=_Build()
    )


_MENTION = "a person: a Slack @mention picked from Slack's @ list, or @name"

# match_examples labels: the same missing or wrong token means different things after
# different commands, and a bad example reads better than a terminal's name.
_EXAMPLES: dict[str, list[str]] = {
    _MENTION: ["^assign", "^assign dana", "^assign <@U1> dana", "^unassign dana", "^deliver"],
    f"{_MENTION}, or an e-mail address": ["^invite", "^invite dana"],
    "a send id from ^scheduled, or nothing to cancel the only one": ["^cancel soon"],
    "nothing after the send id": ["^cancel 3 4"],
    "the note's text": ["^note"],
    "a reason, e.g. ^opt-out asked by phone not to be texted": ["^opt-out", "^opt-in"],
    "an apply status: " + ", ".join(APPLY_STATUSES): ["^status"],
    "add or remove, then the list's name": ["^list", "^list clear"],
    "the list's name": ["^list add", "^list remove"],
}

_TERMINALS = {
    "USER": _MENTION,
    "EMAIL": "an e-mail address",
    "SEND_ID": "a send id",
    "STATUS": "an apply status",
    "STARS": "a rating: 4*, 4 stars, 4/5 or ★★★★",
    "REST": "more text",
    "_ADD": "add",
    "_REMOVE": "remove",
}


_LABELS: dict[tuple[int, int, frozenset[str]], str | None] = {}


def _label(error: UnexpectedInput) -> str | None:
    """match_examples' label for this error, remembered per parser state.

    match_examples parses every example until one fails in the same state; the state
    and the acceptable terminals decide the label, so it is worked out once for each.
    """
    state = error.state
    position = getattr(state, "position", None)
    if not isinstance(position, int):
        return error.match_examples(command_parser().parse, _EXAMPLES, use_accepts=True)
    accepts = frozenset(getattr(error, "accepts", None) or ())
    key = (position, len(getattr(state, "state_stack", ())), accepts)
    if key not in _LABELS:
        _LABELS[key] = error.match_examples(command_parser().parse, _EXAMPLES, use_accepts=True)
    return _LABELS[key]


def _expected(error: UnexpectedInput, names: set[str], word: str) -> str:
    label = _label(error)
    if label is not None:
        return label
    if names <= {"$END"}:
        return f"nothing more after ^{word}"
    phrases = list(dict.fromkeys(_TERMINALS[name] for name in names if name in _TERMINALS))
    return " or ".join(phrases) if phrases else "the end of the line"


def _syntax_error(text: str, word: str, error: UnexpectedInput) -> CommandError:
    """The CommandError for a lark error after a known command word."""
    names: set[str]
    if isinstance(error, UnexpectedToken):
        at_end = error.token.type == "$END"
        pos = len(text.rstrip()) if at_end else error.token.start_pos or 0
        names = set(error.accepts or error.expected)
    else:
        at_end = False
        pos = error.pos_in_stream if isinstance(error, UnexpectedCharacters) else len(text)
        names = set(getattr(error, "allowed", None) or getattr(error, "expected", None) or ())
    found = re.compile(r"\S{1,30}").match(text, pos)
    problem = f"^{word} is incomplete" if at_end or found is None else f"unexpected {found[0]!r}"
    suggestion = None
    if len(command_table.GROUPS[word]) > 1 and found is not None:
        guess = command_table.suggest(f"{word} {found[0]}")
        suggestion = f"^{guess}" if guess and guess != word else None
    return CommandError(
        text,
        pos=pos,
        problem=problem,
        expected=_expected(error, names, word),
        suggestion=suggestion,
        usage=command_table.usage(word),
    )


def _resolve_at(text: str, rest: Token | None, now: datetime, tz: ZoneInfo) -> At:
    usage = command_table.usage("at")
    if rest is None:
        raise CommandError(
            text,
            pos=len(text.rstrip()),
            problem="^at is incomplete",
            expected="a time, then the text to send: ^at tomorrow 9am Are you free?",
            usage=usage,
        )
    offset = rest.start_pos or 0
    try:
        found = read_when(rest)
        send_at = resolve_when(found.when, now=now, tz=tz, said=rest[: found.end])
    except Refusal as refusal:
        raise refusal.at(text, offset, usage=usage) from None
    separator = _SEPARATOR.match(rest, found.end)
    body = rest[separator.end() if separator else found.end :].rstrip()
    if not body:
        understood = describe_local(send_at, tz)
        raise CommandError(
            text,
            pos=offset + len(rest.rstrip()),
            problem=f"nothing to send at {understood}",
            expected="the text to send after the time",
            understood=understood,
            usage=usage,
        )
    return At(send_at=send_at, text=body)


def parse_command(text: str, *, now: datetime, tz: str | ZoneInfo) -> Command:
    """Parse one caret command line; ``now`` (aware) and ``tz`` resolve ^at's time.

    Slack's entities (``&amp;`` ``&lt;`` ``&gt;``) are decoded first, for every command;
    mentions (``<@U123>``) and e-mails stay Slack's markup for the grammar.

    ``tz`` is the issuer's Slack time zone (an IANA name or a ZoneInfo). Any bad text
    raises CommandError and nothing else; a naive ``now`` or an unknown ``tz`` is the
    caller's mistake and raises ValueError or ZoneInfoNotFoundError.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    # Slack sends & < > as entities: every command and argument reads the characters.
    text = decode_entities(text)
    head = _HEAD.match(text)
    if head is None or not text.strip():
        start = len(text) - len(text.lstrip())
        raise CommandError(
            text,
            pos=start,
            problem="not a command: a command line starts with ^",
            expected="^ and a command, e.g. ^help",
        )
    word = head.group(1)
    if word is None:
        raise CommandError(
            text,
            pos=head.end(),
            problem="no command after ^",
            expected="a command name, e.g. ^claim (^help lists them)",
        )
    key = word.lower()
    if key not in command_table.GROUPS:
        guess = command_table.suggest(key)
        raise CommandError(
            text,
            pos=head.start(1),
            problem=f"there is no command ^{word}",
            expected="a command name (^help lists them)",
            suggestion=f"^{guess}" if guess else None,
        )
    try:
        result = cast("Command | _AtDraft", command_parser().parse(text))
    except UnexpectedInput as error:
        raise _syntax_error(text, key, error) from None
    except Refusal as refusal:
        raise refusal.at(text, usage=command_table.usage(key)) from None
    if isinstance(result, _AtDraft):
        return _resolve_at(text, result.rest, now, zone)
    return result
