"""`/caretbot`: the team's way into caretbot from any channel.

One table, `SUBCOMMANDS`, says which subcommands exist, their syntax, a one-line
purpose, an example, who may run them and whether they answer at once. `/caretbot help`
prints it, a mistyped subcommand gets "did you mean" (difflib over its names), and the
README shows it. A new subcommand (blasts, the push) is one more row.

Every answer is ephemeral: only whoever typed the command sees it. Slack waits 3 seconds
for the HTTP answer (https://api.slack.com/interactivity/slash-commands#responding_to_commands):
`help` and mistakes are answered in the ack itself; everything that reads the database
or Slack is acked empty at once and answered by a lazy listener through the command's
`response_url` (valid 30 minutes, 5 answers).

Lists and filters are the storage functions the command line uses (storage/lists.py,
storage/filter_sql.py), with the same filter grammar and its errors (a caret under the
problem).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from slack_bolt import Ack, App, Respond
from slack_sdk.models.blocks import Block, ContextBlock, MarkdownTextObject, SectionBlock

from bot.desk.people import People, SlackUnavailable
from bot.settings import Settings
from bot.slack import cards, home
from bot.slack.home_tabs import Permalinks
from bot.slack.roles import Roles
from grammar.filters import FilterError
from grammar.slack_text import slack_time
from storage import board, import_runs, outbox
from storage.db import Database
from storage.filter_sql import count_query, select_query
from storage.lists import (
    ListError,
    candidate_rows,
    compile_text,
    find_list,
    list_count,
    list_lists,
    list_query,
)
from storage.locks import scheduler_holder
from storage.models import utcnow

log = structlog.get_logger(__name__)

SLASH_COMMAND = "/caretbot"
MESSAGE_BLOCKS = 50
SECTION_CHARS = 3000
SHOW_CANDIDATES = 10
SHOW_WAITING = 15
Who = Literal["anyone", "member", "manager"]


@dataclass(frozen=True)
class Ask:
    """One /caretbot: who typed it, where, what follows the subcommand's name."""

    user: str
    channel: str
    args: str


@dataclass(frozen=True)
class Reply:
    """An answer: mrkdwn paragraphs (each becomes a section; long ones are split)."""

    paragraphs: tuple[str, ...]
    note: str | None = None

    def blocks(self) -> list[dict[str, Any]]:
        """Block Kit for the answer, within a message's 50 blocks."""
        built: list[Block] = [
            SectionBlock(text=MarkdownTextObject(text=chunk))
            for paragraph in self.paragraphs
            for chunk in _chunks(paragraph)
        ]
        if len(built) > MESSAGE_BLOCKS - 1:
            built = built[: MESSAGE_BLOCKS - 2]
            built.append(
                SectionBlock(text=MarkdownTextObject(text="… (more than one message holds)"))
            )
        if self.note:
            built.append(ContextBlock(elements=[MarkdownTextObject(text=self.note)]))
        return [block.to_dict() for block in built]

    @property
    def text(self) -> str:
        """The notification text (and what a client without blocks shows)."""
        return self.paragraphs[0][:300] if self.paragraphs else (self.note or "")


@dataclass(frozen=True)
class Subcommand:
    """One row of the table: `answer` runs it; `quick` ones answer in the ack."""

    name: str
    syntax: str
    purpose: str
    example: str
    answer: Callable[[SlashCommands, Ask], Reply]
    who: Who = "member"
    quick: bool = False


def _chunks(paragraph: str) -> list[str]:
    """A paragraph in pieces of at most a section's 3,000 characters, cut between lines
    (a line longer than that is cut where it must)."""
    chunks: list[str] = []
    current = ""
    for line in paragraph.split("\n"):
        while len(line) > SECTION_CHARS:
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:SECTION_CHARS])
            line = line[SECTION_CHARS:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > SECTION_CHARS:
            chunks.append(current)
            candidate = line
        current = candidate
    if current or not chunks:
        chunks.append(current or " ")
    return chunks


def _code(text: str) -> str:
    return f"```{text}```"


class SlashCommands:
    """Answers /caretbot; holds what the answers read."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        roles: Roles,
        people: People,
        links: Permalinks,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.db = db
        self.roles = roles
        self.people = people
        self.links = links
        self.clock = clock

    def register(self, app: App) -> None:
        """Ack at once (with the answer, for quick ones); the rest answers lazily."""
        app.command(SLASH_COMMAND)(ack=self.on_ack, lazy=[self.on_lazy])

    # The two halves of a slash command.

    def on_ack(self, ack: Ack, command: dict[str, Any]) -> None:
        sub, ask = parse(command)
        if sub is None or sub.quick:
            reply = self.run(sub, ask, command.get("text") or "")
            ack(response_type="ephemeral", text=reply.text, blocks=reply.blocks())
            return
        ack()

    def on_lazy(self, command: dict[str, Any], respond: Respond) -> None:
        structlog.contextvars.clear_contextvars()
        sub, ask = parse(command)
        if sub is None or sub.quick:
            return
        structlog.contextvars.bind_contextvars(subcommand=sub.name, user=ask.user)
        reply = self.run(sub, ask, command.get("text") or "")
        try:
            respond(
                response_type="ephemeral",
                replace_original=False,
                text=reply.text,
                blocks=reply.blocks(),
            )
        except Exception as error:  # an expired response_url; nothing else to tell
            log.warning("slash.respond_failed", error=repr(error))

    def run(self, sub: Subcommand | None, ask: Ask, typed: str) -> Reply:
        """The answer to one /caretbot: the subcommand's, a refusal, or "did you mean"."""
        if sub is None:
            return unknown(typed)
        try:
            refusal = self._refusal(sub, ask.user)
        except SlackUnavailable as error:
            return Reply((f"Nothing was done: {error}. Try again in a moment.",))
        if refusal is not None:
            log.info("slash.refused", subcommand=sub.name, user=ask.user)
            return Reply((refusal,))
        try:
            reply = sub.answer(self, ask)
        except Exception:
            log.exception("slash.crashed", subcommand=sub.name)
            return Reply((f"`/caretbot {sub.name}` stopped on an unexpected error.",))
        log.info("slash.answered", subcommand=sub.name)
        return reply

    def _refusal(self, sub: Subcommand, user: str) -> str | None:
        if sub.who == "anyone":
            return None
        if sub.who == "manager":
            return None if self.roles.may_manage(user) else self.roles.refusal(sub.purpose)
        if self.roles.role(user) in ("manager", "member"):
            return None
        return self.roles.member_refusal(f"use `/caretbot {sub.name}`")

    # The subcommands.

    def help_(self, ask: Ask) -> Reply:
        return Reply((help_text(),))

    def lists(self, ask: Ask) -> Reply:
        lines = []
        with self.db.read() as session:
            for info in list_lists(session=session):
                try:
                    count: Any = list_count(session=session, info=info)
                except ListError:
                    count = "filter broken"
                kind = "dynamic" if info.dynamic else "static"
                shown = f" `{info.filter_text}`" if info.filter_text else ""
                lines.append(f"• *{home.escape(info.name)}* ({kind}): {count} candidates{shown}")
        if not lines:
            return Reply(
                (
                    "No lists yet. `^import List name` with a file creates one, and so does "
                    "`caretbot lists create NAME --filter '...'`.",
                )
            )
        return Reply((f"*Lists* ({len(lines)})\n" + "\n".join(lines),))

    def list_(self, ask: Ask) -> Reply:
        name = ask.args.strip().strip('"“”')
        if not name:
            return Reply(
                ("Which list? `/caretbot list Night nurses` (`/caretbot lists` names them).",)
            )
        with self.db.read() as session:
            info = find_list(session=session, name=name)
            if info is None:
                names = [known.name for known in list_lists(session=session)]
                close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
                guess = f' Did you mean "{home.escape(close[0])}"?' if close else ""
                return Reply((f'There is no list "{home.escape(name)}".{guess}',))
            try:
                count = list_count(session=session, info=info)
                rows = candidate_rows(
                    session=session,
                    query=list_query(session=session, name=info.name),
                    limit=SHOW_CANDIDATES,
                )
            except ListError as error:
                return Reply((f"The list *{home.escape(info.name)}* cannot be read: {error}",))
        kind = "dynamic (a saved filter)" if info.dynamic else "static"
        head = f"*{home.escape(info.name)}*: {kind}, {count} candidates"
        if info.filter_text:
            head += f"\nFilter: `{info.filter_text}`"
        return Reply((head, _candidates(rows, count)))

    def candidates(self, ask: Ask) -> Reply:
        text = ask.args.strip()
        if not text:
            return Reply(
                (
                    "Give a filter: `/caretbot candidates city:Austin -status:hired`, "
                    '`campaign:"Fall 2026"`, `replied:<7d`, `has:email`, `list:"Night nurses"`.',
                )
            )
        tz = ZoneInfo(self.people.tz(ask.user))
        try:
            with self.db.read() as session:
                compiled = compile_text(session=session, text=text, now=self.clock(), tz=tz)
                count = int(session.execute(count_query(compiled)).scalar_one())
                rows = candidate_rows(
                    session=session, query=select_query(compiled), limit=SHOW_CANDIDATES
                )
        except FilterError as error:
            return Reply((f"That filter does not read:\n{_code(error.explain())}",))
        except ListError as error:
            return Reply((f"That filter does not read: {error}",))
        return Reply((f"{count} candidates match `{text}`", _candidates(rows, count)))

    def import_(self, ask: Ask) -> Reply:
        how = (
            "*Importing candidates*\nUpload the CSV or XLSX file to "
            f"<#{self.settings.SLACK_CHANNEL_ID}> with `^import List name` (or just "
            "`^import`) as its message. caretbot imports it in the background, with its "
            "progress in the message's thread, then posts the summary there with the "
            f"rejected rows as a CSV file. Who may import: {self.roles.who_manages()}."
        )
        with self.db.read() as session:
            last = import_runs.last_imports(session=session)
        if not last:
            return Reply((how, "No imports yet."))
        lines = [
            f"• {slack_time(run.finished_at)} *{home.escape(run.file_name)}*"
            + (f" into *{home.escape(run.list_name)}*" if run.list_name else "")
            + (f" by <@{run.user}>" if run.user else f" ({run.source})")
            + f": {run.rows} rows, {run.created} new, {run.updated} updated, {run.rejected} rejected"
            for run in last
        ]
        return Reply((how, "*Last imports*\n" + "\n".join(lines)))

    def status(self, ask: Ask) -> Reply:
        settings = self.settings
        try:
            with self.db.read() as session:
                session.execute(sa.text("SELECT 1"))
                backlog: Any = outbox.backlog(session=session)
            database = "answers"
            holder = (
                scheduler_holder(self.db) or "nobody (is `caretbot serve` running its workers?)"
            )
        except Exception as error:  # any database failure is the answer
            log.warning("slash.database_unreachable", error=repr(error))
            database, backlog, holder = "unreachable", "unknown", "unknown"
        slack = "Socket Mode" if settings.socket_mode else "Events API at `/slack/events`"
        configured = bool(settings.SLACK_BOT_TOKEN and settings.SLACK_SIGNING_SECRET)
        twilio_ok = bool(
            settings.TWILIO_ACCOUNT_SID
            and settings.TWILIO_AUTH_TOKEN
            and (settings.TWILIO_FROM_NUMBER or settings.TWILIO_MESSAGING_SERVICE_SID)
        )
        sender = (
            f"Messaging Service {settings.TWILIO_MESSAGING_SERVICE_SID}"
            if settings.TWILIO_MESSAGING_SERVICE_SID
            else cards.display_phone(settings.TWILIO_FROM_NUMBER or "")
        )
        lines = [
            f"• Database: {database} ({self.db.engine.dialect.name})",
            f"• Slack: {'configured' if configured else 'not configured'}, {slack}, "
            f"channel <#{settings.SLACK_CHANNEL_ID}>",
            f"• Twilio: {'configured, sending from ' + sender if twilio_ok else 'not configured'}",
            f"• Outbox: {backlog} waiting to be delivered",
            f"• Scheduler lock: {holder}",
            f"• Sender's pace: {settings.TWILIO_SEGMENTS_PER_SECOND:g} SMS segments a second "
            f"(`TWILIO_SEGMENTS_PER_SECOND`); Slack posts {settings.SLACK_POSTS_PER_SECOND:g} "
            "a second per channel",
        ]
        return Reply(("*caretbot status*\n" + "\n".join(lines),))

    def waiting(self, ask: Ask) -> Reply:
        with self.db.read() as session:
            rows = board.open_conversations(session=session)
        data = home.HomeData(
            user=ask.user,
            role="member",
            filter="waiting",
            now=self.clock(),
            rows=rows,
            sends=[],
            link=self.links,
        )
        paragraphs = []
        for key in ("waiting_for_you", "waiting_for_team"):
            section = next(s for s in home.SECTIONS if s.key == key)
            lines = section.lines(data)
            shown = "\n".join(lines[:SHOW_WAITING]) or section.empty
            more = f"\n… and {len(lines) - SHOW_WAITING} more" if len(lines) > SHOW_WAITING else ""
            paragraphs.append(f"*{section.title}* ({len(lines)})\n{shown}{more}")
        return Reply(tuple(paragraphs), note="caretbot's App Home shows this and more.")


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand(
        "help",
        "help",
        "what /caretbot does",
        "/caretbot help",
        SlashCommands.help_,
        "anyone",
        quick=True,
    ),
    Subcommand(
        "lists", "lists", "the lists, their kind and size", "/caretbot lists", SlashCommands.lists
    ),
    Subcommand(
        "list",
        "list NAME",
        "one list: its kind, filter, size and first candidates",
        "/caretbot list Night nurses",
        SlashCommands.list_,
    ),
    Subcommand(
        "candidates",
        "candidates FILTER",
        "how many candidates a filter matches, and the first of them",
        "/caretbot candidates city:Austin -status:hired",
        SlashCommands.candidates,
    ),
    Subcommand(
        "import",
        "import",
        "how to import a file, and the last imports",
        "/caretbot import",
        SlashCommands.import_,
    ),
    Subcommand(
        "status",
        "status",
        "database, Slack, Twilio, the outbox, the scheduler and the sender's pace",
        "/caretbot status",
        SlashCommands.status,
    ),
    Subcommand(
        "waiting",
        "waiting",
        "the conversations waiting for you and for the team",
        "/caretbot waiting",
        SlashCommands.waiting,
    ),
)
_BY_NAME = {sub.name: sub for sub in SUBCOMMANDS}


def parse(command: dict[str, Any]) -> tuple[Subcommand | None, Ask]:
    """The subcommand named first in the command's text (help when empty) and the rest."""
    text = (command.get("text") or "").strip()
    name, _, args = text.partition(" ")
    ask = Ask(user=command["user_id"], channel=command.get("channel_id", ""), args=args)
    return _BY_NAME.get((name or "help").lower()), ask


def help_text() -> str:
    """The table as /caretbot help shows it."""
    lines = [f"• `/caretbot {sub.syntax}`: {sub.purpose}" for sub in SUBCOMMANDS]
    return (
        "*caretbot* texts candidates from this team's Slack threads. Reply in a "
        "conversation's thread to text the candidate; a line starting with `^` is a "
        "command (`^help`). The buttons on a candidate's card claim, assign, close and "
        "opt out; caretbot's App Home shows what waits for you.\n" + "\n".join(lines)
    )


def unknown(typed: str) -> Reply:
    """A subcommand that does not exist: the nearest names, and where the list is."""
    word = typed.strip().split(" ", 1)[0]
    close = difflib.get_close_matches(word.lower(), list(_BY_NAME), n=2, cutoff=0.5)
    guess = " or ".join(f"`/caretbot {_BY_NAME[name].syntax}`" for name in close)
    said = f"`/caretbot {home.escape(word)}` is not a caretbot command."
    if guess:
        said += f" Did you mean {guess}?"
    return Reply((said,), note="`/caretbot help` lists them all.")


def table_markdown() -> str:
    """The table for README.md."""
    rows = [
        f"| `/caretbot {sub.syntax}` | {sub.purpose} | {_WHO[sub.who]} |" for sub in SUBCOMMANDS
    ]
    return "\n".join(["| command | what it answers | who |", "| --- | --- | --- |", *rows])


_WHO = {"anyone": "anyone", "member": "the team", "manager": "managers"}


def _candidates(rows: list[dict[str, Any]], count: int) -> str:
    if not rows:
        return "No candidates."
    lines = []
    for row in rows:
        name = " ".join(p for p in (row.get("first_name"), row.get("last_name")) if p)
        place = ", ".join(p for p in (row.get("city"), row.get("state")) if p)
        parts = [f"*{home.escape(name)}*" if name else "", cards.display_phone(row["phone"])]
        if row.get("email"):
            parts.append(home.escape(str(row["email"])))
        if place:
            parts.append(home.escape(place))
        if row.get("opted_out"):
            parts.append(":no_entry: opted out")
        lines.append("• " + " · ".join(p for p in parts if p))
    more = f"\n… and {count - len(rows)} more" if count > len(rows) else ""
    return "\n".join(lines) + more
