"""``caretbot outbox``: work for Slack and Twilio that is stuck or given up, and why;
``caretbot outbox retry ID|--all`` puts it back to be done now.

Stuck: waiting longer than READY_MAX_BACKLOG_AGE_SECONDS, or already tried and waiting
for its next try. Given up: failed for good (a permanent error, or out of tries). A
running `serve` picks work that was put back within a second or so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from bot.cli.imports import open_database
from bot.settings import SettingsError, load_settings
from storage import messages, outbox
from storage.conversations import SEND_SMS
from storage.models import utcnow


def register(app: typer.Typer) -> None:
    """Add ``outbox`` (with ``retry``) to the CLI."""
    outbox_app = typer.Typer(help="Work for Slack and Twilio that is stuck or given up.")
    outbox_app.callback(invoke_without_command=True)(outbox_command)
    outbox_app.command("retry")(retry_command)
    app.add_typer(outbox_app, name="outbox")


def _seconds(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"


def why(problem: outbox.Problem, now: datetime) -> str:
    """One line on why an entry is listed."""
    error = problem.last_error or "no error recorded"
    if problem.state == "failed":
        return f"given up: {error}"
    if problem.state == "in_flight":
        return f"in flight for {_seconds(now - problem.created_at)} (a worker may have died)"
    if problem.attempts == 0:
        return f"waiting {_seconds(now - problem.created_at)}, not tried yet"
    due = problem.next_attempt_at - now
    when = f"in {_seconds(due)}" if due.total_seconds() > 0 else "now"
    return f"tried {problem.attempts} times, next try {when}: {error}"


def outbox_command(ctx: typer.Context) -> None:
    """List outbox work that is stuck or given up, oldest first, with why."""
    if ctx.invoked_subcommand is not None:
        return
    try:
        max_age = load_settings().READY_MAX_BACKLOG_AGE_SECONDS
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None
    db = open_database()
    now = utcnow()
    try:
        with db.read() as session:
            found = outbox.problems(session=session, stuck_before=now - timedelta(seconds=max_age))
    finally:
        db.dispose()
    if not found:
        typer.echo("Nothing stuck or given up in the outbox.")
        return
    typer.echo(f"{'id':>6}  {'kind':<20} {'state':<9} {'stored':<20} why")
    for problem in found:
        stored = problem.created_at.strftime("%Y-%m-%d %H:%M:%S")
        typer.echo(
            f"{problem.id:>6}  {problem.kind:<20} {problem.state:<9} {stored:<20} "
            f"{why(problem, now)}"
        )
    given_up = sum(1 for p in found if p.state == "failed")
    typer.echo(
        f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}: {given_up} given up, "
        f"{len(found) - given_up} stuck. `caretbot outbox retry ID` or `--all` puts them back."
    )


def retry_command(
    entry_ids: Annotated[
        list[int] | None, typer.Argument(help="Outbox entry ids, as `caretbot outbox` lists.")
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Every given-up and waiting entry.")] = False,
) -> None:
    """Put given-up (or waiting) outbox work back, to be done now with fresh tries."""
    if not entry_ids and not every:
        typer.echo("Name the entries to retry (caretbot outbox retry 12 13) or --all.", err=True)
        raise typer.Exit(2)
    if entry_ids and every:
        typer.echo("Give entry ids or --all, not both.", err=True)
        raise typer.Exit(2)
    db = open_database()
    try:
        with db.write() as session:
            back = outbox.put_back(session=session, entry_ids=entry_ids or None, now=utcnow())
            texts = [w.payload["message_id"] for w in back if w.kind == SEND_SMS]
            messages.reopen_unsent(session=session, message_ids=texts)
    finally:
        db.dispose()
    missing = sorted(set(entry_ids or []) - {work.id for work in back})
    if back:
        ids = ", ".join(str(work.id) for work in back)
        typer.echo(f"Put back {len(back)} entr{'y' if len(back) == 1 else 'ies'}: {ids}.")
    elif not missing:
        typer.echo("Nothing to put back.")
    if missing:
        typer.echo(
            f"Not put back (no such entry, already done, or in flight): "
            f"{', '.join(map(str, missing))}.",
            err=True,
        )
        raise typer.Exit(1)
