"""The typed values a caret command parses to: one frozen dataclass per command.

Each class carries its table name in ``keyword`` (``"opt-out"``, ``"list add"``), which
is also the ``"command"`` of its JSON form. User fields hold Slack user ids (``U123``),
never the name in ``<@U123|dana>``, which is whatever the client sent and may be stale;
or, for a person named as typed (``@dana``, not picked from Slack's @ list), that name
with its ``@``, which the desk looks up by name (``is_name_ref``).
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any, ClassVar


@dataclasses.dataclass(frozen=True, slots=True)
class Assign:
    keyword: ClassVar[str] = "assign"
    users: tuple[str, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class Unassign:
    """``users`` empty means everyone: ``^unassign`` without arguments."""

    keyword: ClassVar[str] = "unassign"
    users: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class Claim:
    keyword: ClassVar[str] = "claim"


@dataclasses.dataclass(frozen=True, slots=True)
class Unclaim:
    keyword: ClassVar[str] = "unclaim"


@dataclasses.dataclass(frozen=True, slots=True)
class At:
    """``send_at`` is aware and in UTC; it was after ``now`` when parsed."""

    keyword: ClassVar[str] = "at"
    send_at: datetime
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Scheduled:
    keyword: ClassVar[str] = "scheduled"


@dataclasses.dataclass(frozen=True, slots=True)
class Cancel:
    """``id`` None means the only pending send; the handler refuses when there are more."""

    keyword: ClassVar[str] = "cancel"
    id: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    keyword: ClassVar[str] = "close"


@dataclasses.dataclass(frozen=True, slots=True)
class Open:
    keyword: ClassVar[str] = "open"


@dataclasses.dataclass(frozen=True, slots=True)
class Read:
    keyword: ClassVar[str] = "read"


@dataclasses.dataclass(frozen=True, slots=True)
class Invite:
    """Exactly one of ``user`` (a Slack id) and ``email`` (to look up with users.lookupByEmail)."""

    keyword: ClassVar[str] = "invite"
    user: str | None = None
    email: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Deliver:
    """``status`` is a canonical apply status; ``stars`` is 1 to 5."""

    keyword: ClassVar[str] = "deliver"
    user: str
    status: str | None = None
    stars: int | None = None
    summary: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class OptOut:
    keyword: ClassVar[str] = "opt-out"
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class OptIn:
    keyword: ClassVar[str] = "opt-in"
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Note:
    keyword: ClassVar[str] = "note"
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class Help:
    """``command`` is a table name (``"at"``, ``"list add"``) or a group (``"list"``)."""

    keyword: ClassVar[str] = "help"
    command: str | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Status:
    """Sets the status of the conversation's active apply; ``status`` is canonical."""

    keyword: ClassVar[str] = "status"
    status: str


@dataclasses.dataclass(frozen=True, slots=True)
class ListAdd:
    keyword: ClassVar[str] = "list add"
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class ListRemove:
    keyword: ClassVar[str] = "list remove"
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class Import:
    """``^import List name`` on a message that carries a CSV or XLSX file (issue 4)."""

    keyword: ClassVar[str] = "import"
    list_name: str | None = None


Command = (
    Assign
    | Unassign
    | Claim
    | Unclaim
    | At
    | Scheduled
    | Cancel
    | Close
    | Open
    | Read
    | Invite
    | Deliver
    | OptOut
    | OptIn
    | Note
    | Help
    | Status
    | ListAdd
    | ListRemove
    | Import
)


def _json_value(value: object) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, tuple):
        return [_json_value(item) for item in value]
    return value


def command_to_json(command: Command) -> dict[str, Any]:
    """The command as JSON-ready data: ``{"command": keyword, field: value, ...}``.

    Every field is present (None as null) so each command has one fixed shape; times
    are UTC in ISO 8601 with a ``Z``; Help's ``command`` is ``"topic"``.
    """
    data: dict[str, Any] = {"command": command.keyword}
    for field in dataclasses.fields(command):
        # Help's field is called command too; in JSON it is the help topic.
        key = "topic" if field.name == "command" else field.name
        data[key] = _json_value(getattr(command, field.name))
    return data


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def user_ref(text: str) -> str:
    """A person as a command names them: ``<@U123>`` or ``<@U123|dana>`` -> ``U123``;
    ``@dana`` (typed, not a Slack mention) -> ``@dana``."""
    if text.startswith("@"):
        return text
    return mention_id(text)


def is_name_ref(user: str) -> bool:
    """Whether a user field holds a typed ``@name`` rather than a Slack user id."""
    return user.startswith("@")


def mention_id(mention: str) -> str:
    """The user id in a Slack mention, ``<@U123>`` or ``<@U123|dana>``."""
    match = _MENTION.fullmatch(mention)
    if match is None:
        raise ValueError(f"not a Slack mention: {mention!r}")
    return match.group(1)


def mailto_address(text: str) -> str:
    """The address in Slack's ``<mailto:a@b.com|a@b.com>``, or ``text`` when it is raw."""
    if text.startswith("<mailto:"):
        return text[len("<mailto:") :].rstrip(">").split("|", 1)[0]
    return text
