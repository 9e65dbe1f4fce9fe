"""``caretbot blasts``: create, check and follow blasts from the command line.

Every bad input (an unknown or empty list, a time that has passed, a message over ten
segments, a template error) is one clear line on stderr (a template error adds the
caret picture under it), exit status 2, and nothing stored. The running
`caretbot serve` does the sending; these commands only change what it will do.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

from bot.blast_report import describe, local_time
from bot.cli.imports import open_database
from bot.delivery.blast_rules import blast_rules
from bot.settings import Settings, SettingsError, load_settings
from grammar.errors import CommandError
from grammar.template import parse_template
from grammar.when import parse_when
from storage import blasts
from storage.blasts import BlastError, BlastFigures, BlastRow
from storage.db import Database
from storage.lists import ListError, find_list, list_count
from storage.locks import scheduler_running
from storage.models import utcnow

MAX_SEGMENTS = 10
_DURATION = re.compile(r"^\s*(\d+)\s*(m|min|h|d)\s*$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400}

WHEN_HELP = (
    "When to send, in the ^at time grammar: 'tomorrow 9am', 'dec 1 9am', "
    "'2026-12-01 09:00', 'in 2 hours', '+1d'."
)


def register(app: typer.Typer) -> None:
    """Add ``blasts`` and its subcommands to the CLI."""
    blasts_app = typer.Typer(help="Blasts: one message texted to every candidate on a list.")
    blasts_app.callback(invoke_without_command=True)(blasts_command)
    for name, function in (
        ("create", create_command),
        ("edit", edit_command),
        ("preview", preview_command),
        ("send", send_command),
        ("cancel", cancel_command),
        ("resume", resume_command),
        ("report", report_command),
    ):
        blasts_app.command(name)(function)
    app.add_typer(blasts_app, name="blasts")


class Refused(Exception):
    """A bad input: the one line to print (and an optional caret picture)."""

    def __init__(self, line: str, picture: str | None = None) -> None:
        super().__init__(line)
        self.line = line
        self.picture = picture


def _refuse(error: Refused) -> typer.Exit:
    typer.echo(f"caretbot blasts: {error.line}", err=True)
    if error.picture:
        typer.echo(error.picture, err=True)
    return typer.Exit(2)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None


def _zone(tz: str | None, settings: Settings) -> str:
    name = tz or settings.DEFAULT_TIMEZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Refused(f"--tz {name!r} is not a time zone such as America/Chicago") from None
    return name


def _when(text: str, zone: str, now: datetime) -> datetime:
    try:
        return parse_when(text, now=now, tz=zone)
    except CommandError as error:
        raise Refused(f"--at: {error.problem}", error.picture()) from None


def _template(text: str, option: str = "--message") -> None:
    if not text.strip():
        raise Refused(f"{option} is empty")
    try:
        parse_template(text)
    except CommandError as error:
        raise Refused(
            f"{option}: {error.problem} at column {error.column}; expected {error.expected}"
            + (f"; did you mean {error.suggestion}?" if error.suggestion else ""),
            error.picture(),
        ) from None


def _seconds(text: str) -> int:
    match = _DURATION.match(text)
    if match is None:
        raise Refused(f"--nudge-after {text!r} is not a delay such as 2d, 36h or 90m")
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def _check_list(db: Database, list_name: str) -> None:
    with db.read() as session:
        info = find_list(session=session, name=list_name)
        if info is None:
            raise Refused(f'there is no list named "{list_name}" (caretbot lists shows them)')
        try:
            count = list_count(session=session, info=info)
        except ListError as error:
            raise Refused(str(error).splitlines()[0]) from None
        if count == 0:
            raise Refused(f'list "{info.name}" has no candidates: there is nobody to text')


def _server_note(db: Database) -> str:
    if scheduler_running(db):
        return ""
    return "\nno caretbot server is running now: `caretbot serve` will send it."


def _find(db: Database, name: str) -> BlastRow:
    with db.read() as session:
        blast = blasts.find_blast(session=session, name=name)
    if blast is None:
        raise Refused(f'there is no blast named "{name}" (caretbot blasts lists them)')
    return blast


def blasts_command(ctx: typer.Context) -> None:
    """Every blast: name, list, status, when, and its counts."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    db = open_database()
    try:
        with db.read() as session:
            rows = []
            for blast in blasts.list_blasts(session=session):
                zone = blast.timezone or settings.DEFAULT_TIMEZONE
                when = blast.started_at or blast.send_at
                figures = blasts.report(
                    session=session, blast=blast, rules=blast_rules(settings), now=utcnow()
                )
                rows.append(
                    [
                        blast.name,
                        blast.list_name,
                        blast.status,
                        local_time(when, zone),
                        figures.recipients,
                        figures.sent,
                        figures.replied,
                    ]
                )
    finally:
        db.dispose()
    if not rows:
        typer.echo("no blasts yet: caretbot blasts create NAME --list LIST --message TEXT")
        return
    from bot.cli.lists import _table

    _table(["blast", "list", "status", "when", "recipients", "sent", "replied"], rows)


def create_command(
    name: Annotated[str, typer.Argument(help="The blast's name.")],
    list_name: Annotated[str, typer.Option("--list", help="The list to text.")],
    message: Annotated[
        str, typer.Option("--message", help="The text: {first_name|there} fills fields in.")
    ],
    at: Annotated[str | None, typer.Option("--at", help=WHEN_HELP)] = None,
    tz: Annotated[
        str | None, typer.Option("--tz", help="Area/City for --at; DEFAULT_TIMEZONE.")
    ] = None,
    nudge_after: Annotated[
        str | None, typer.Option("--nudge-after", help="e.g. 2d: when to follow up.")
    ] = None,
    nudge: Annotated[
        str | None, typer.Option("--nudge", help="The follow-up text for the silent.")
    ] = None,
) -> None:
    """Create a blast (a draft, or scheduled with --at)."""
    settings = _settings()
    db = open_database()
    try:
        zone = _zone(tz, settings)
        _template(message)
        nudge_seconds = _nudge(nudge_after, nudge)
        send_at = _when(at, zone, utcnow()) if at else None
        _check_list(db, list_name)
        with db.write() as session:
            blast = blasts.create_blast(
                session=session,
                name=name,
                list_name=list_name,
                message=message,
                send_at=send_at,
                timezone=zone,
                nudge_after_seconds=nudge_seconds,
                nudge_message=nudge,
            )
            # Checked inside the transaction: a refusal here stores nothing.
            figures = _size_in(session, settings, blast)
        said = (
            f"scheduled for {local_time(send_at, zone)}" if send_at else "a draft: `send` starts it"
        )
        typer.echo(
            f'blast "{blast.name}" created, {said}: {figures.recipients} on the list, '
            f"{figures.segments} segments ({figures.encoding}), about "
            f"{figures.cost:.2f} in cost" + (_server_note(db) if send_at else "")
        )
    except (Refused, BlastError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()


def _nudge(after: str | None, text: str | None) -> int | None:
    if (after is None) != (text is None):
        raise Refused("--nudge-after and --nudge go together")
    if after is None or text is None:
        return None
    _template(text, "--nudge")
    return _seconds(after)


def _size_in(session: Any, settings: Settings, blast: BlastRow) -> BlastFigures:
    figures = blasts.preview(
        session=session, blast=blast, rules=blast_rules(settings), now=utcnow()
    )
    if figures.max_segments > MAX_SEGMENTS:
        raise Refused(
            f"the message is {figures.max_segments} segments for some recipients "
            f"(with fields filled in, links and the opt-out line); at most {MAX_SEGMENTS}"
        )
    if figures.recipients and figures.recipients == sum(figures.skipped.values()):
        reasons = ", ".join(f"{n} {why}" for why, n in figures.skipped.items())
        raise Refused(f"nobody on the list can be texted ({reasons})")
    return figures


def edit_command(
    name: Annotated[str, typer.Argument(help="The blast to change (before it starts).")],
    list_name: Annotated[str | None, typer.Option("--list")] = None,
    message: Annotated[str | None, typer.Option("--message")] = None,
    at: Annotated[str | None, typer.Option("--at", help=WHEN_HELP)] = None,
    tz: Annotated[str | None, typer.Option("--tz")] = None,
    nudge_after: Annotated[str | None, typer.Option("--nudge-after")] = None,
    nudge: Annotated[str | None, typer.Option("--nudge")] = None,
) -> None:
    """Change a blast until it starts."""
    settings = _settings()
    db = open_database()
    try:
        blast = _find(db, name)
        changes: dict[str, Any] = {}
        zone = _zone(tz or blast.timezone, settings)
        if message is not None:
            _template(message)
            changes["message"] = message
        if list_name is not None:
            _check_list(db, list_name)
            changes["list_name"] = list_name
        if at is not None:
            changes["send_at"] = _when(at, zone, utcnow())
            changes["timezone"] = zone
        if nudge_after is not None or nudge is not None:
            changes["nudge_after_seconds"] = _nudge(nudge_after, nudge)
            changes["nudge_message"] = nudge
        if not changes:
            raise Refused("nothing to change: give --list, --message, --at or --nudge")
        with db.write() as session:
            edited = blasts.edit_blast(session=session, blast_id=blast.id, **changes)
            _size_in(session, settings, edited)
        note = _server_note(db) if edited.status == "scheduled" else ""
        typer.echo(f'blast "{edited.name}" changed: {edited.status}' + note)
    except (Refused, BlastError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()


def _figures(name: str, *, started_only: bool) -> tuple[BlastRow, BlastFigures, Settings]:
    settings = _settings()
    db = open_database()
    try:
        blast = _find(db, name)
        with db.read() as session:
            rules = blast_rules(settings)
            if started_only:
                figures = blasts.report(session=session, blast=blast, rules=rules, now=utcnow())
            else:
                figures = blasts.preview(session=session, blast=blast, rules=rules, now=utcnow())
    except (Refused, BlastError, ListError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()
    return blast, figures, settings


def preview_command(
    name: Annotated[str, typer.Argument(help="The blast.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """Who the blast will text, what they get, what it costs and how long it takes."""
    blast, figures, settings = _figures(name, started_only=False)
    if as_json:
        typer.echo(json.dumps(figures.as_json(), ensure_ascii=False))
        return
    _describe(blast, figures, settings)


def report_command(
    name: Annotated[str, typer.Argument(help="The blast.")],
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
) -> None:
    """What the blast did: sent, delivered, failed, replies, clicks, opt-outs."""
    blast, figures, settings = _figures(name, started_only=True)
    if as_json:
        typer.echo(json.dumps(figures.as_json(), ensure_ascii=False))
        return
    _describe(blast, figures, settings)


def _describe(blast: BlastRow, figures: BlastFigures, settings: Settings) -> None:
    for line in describe(blast, figures, blast.timezone or settings.DEFAULT_TIMEZONE):
        typer.echo(line)


def send_command(name: Annotated[str, typer.Argument(help="The blast.")]) -> None:
    """Start a blast now, or confirm its --at time."""
    settings = _settings()
    db = open_database()
    try:
        blast = _find(db, name)
        now = utcnow()
        if blast.status == "scheduled" and blast.send_at and blast.send_at > now:
            zone = blast.timezone or settings.DEFAULT_TIMEZONE
            typer.echo(
                f'blast "{blast.name}" is confirmed for {local_time(blast.send_at, zone)}'
                + _server_note(db)
            )
            return
        if blast.status not in blasts.EDITABLE:
            raise Refused(f'blast "{blast.name}" is {blast.status}: it cannot be sent again')
        _check_list(db, blast.list_name)
        with db.write() as session:
            started = blasts.schedule(session=session, blast_id=blast.id, send_at=now)
            _size_in(session, settings, started)
        typer.echo(f'blast "{blast.name}" starts now.' + _server_note(db))
    except (Refused, BlastError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()


def cancel_command(name: Annotated[str, typer.Argument(help="The blast.")]) -> None:
    """Stop a blast: whatever is not sent yet is not sent."""
    db = open_database()
    try:
        blast = _find(db, name)
        with db.write() as session:
            _, canceled = blasts.cancel_blast(session=session, blast_id=blast.id)
        typer.echo(f'blast "{blast.name}" canceled; {canceled} texts will not be sent')
    except (Refused, BlastError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()


def resume_command(name: Annotated[str, typer.Argument(help="The blast.")]) -> None:
    """Continue a blast that was paused (carrier filtering, Twilio error 30007)."""
    db = open_database()
    try:
        blast = _find(db, name)
        with db.write() as session:
            blasts.resume_blast(session=session, blast_id=blast.id)
        typer.echo(f'blast "{blast.name}" resumes.' + _server_note(db))
    except (Refused, BlastError) as error:
        raise _refuse(error if isinstance(error, Refused) else Refused(str(error))) from None
    finally:
        db.dispose()
