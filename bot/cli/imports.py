"""``caretbot import FILE``: candidates from a CSV or XLSX file, with a report.

Needs a database URL and nothing else. A header problem stops the import before
anything is written (exit status 1, every problem named with its column); rejected
rows are listed and written to a rejects CSV beside the file, and the import goes on.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from bot.settings import SettingsError, load_settings
from storage import import_runs
from storage.db import Database, current_revision, read_only_copy
from storage.imports import (
    HeaderError,
    ImportOptions,
    ImportSummary,
    SheetError,
    import_file,
)
from storage.lists import ListError

# Rejects printed on the terminal; the rejects file has them all.
SHOW_REJECTS = 20


def register(app: typer.Typer) -> None:
    """Add ``import`` to the caretbot CLI."""
    app.command("import")(import_command)


def open_database(*, dry_run: bool = False) -> Database:
    """The database at DATABASE_URL, migrated (SQLite) or checked to be (PostgreSQL).

    For a dry run, SQLite is read into memory and migrated there (storage.db's
    read_only_copy): the file is never created, migrated or written.
    """
    try:
        settings = load_settings()
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None
    if dry_run and settings.DATABASE_URL.startswith("sqlite"):
        return read_only_copy(settings.DATABASE_URL)
    db = Database(settings.DATABASE_URL)
    if db.is_sqlite:
        db.upgrade()
        return db
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(db.url)).get_current_head()
    current = current_revision(db.url)
    if current != head:
        typer.echo(
            f"caretbot: the database is at migration {current or 'none'}, not {head}. "
            "Run `caretbot db upgrade` first.",
            err=True,
        )
        raise typer.Exit(2)
    return db


def import_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A .csv or .xlsx file."),
    ],
    list_name: Annotated[
        str | None, typer.Option("--list", help="Add every imported candidate to this list.")
    ] = None,
    region: Annotated[
        str, typer.Option(help="Where phone numbers without a +country code are from.")
    ] = "US",
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check and count everything, write nothing (no database file, no rejects file).",
        ),
    ] = False,
    update_existing: Annotated[
        bool,
        typer.Option(
            "--update-existing/--no-update-existing",
            help="Update candidates whose phone is already known (a row may override).",
        ),
    ] = True,
    create_new: Annotated[
        bool,
        typer.Option(
            "--create-new/--no-create-new",
            help="Create candidates whose phone is new (a row may override).",
        ),
    ] = True,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where to write rejected rows (default: FILE.rejects.csv)."),
    ] = None,
    custom: Annotated[
        bool, typer.Option("--custom", help="Keep unknown columns as custom fields.")
    ] = False,
) -> None:
    """Import candidates from a CSV or XLSX file."""
    db = open_database(dry_run=dry_run)
    active_policy = load_settings().ACTIVE_APPLY  # open_database has checked the settings
    rejects_path = rejects or file.with_name(f"{file.stem}.rejects.csv")
    options = ImportOptions(
        list_name=list_name,
        region=region,
        dry_run=dry_run,
        update_existing=update_existing,
        create_new=create_new,
        custom=custom,
        rejects_path=rejects_path,
        active_policy=active_policy,
    )
    try:
        summary = _run(file, db, options)
        import_runs.record_summary(db, summary, file_name=file.name, source="cli", user=None)
    except HeaderError as error:
        typer.echo(f"caretbot: {file.name} was not imported: its header has problems", err=True)
        for problem in error.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    except (SheetError, ListError) as error:
        typer.echo(f"caretbot: {file.name} was not imported: {error}", err=True)
        raise typer.Exit(1) from None
    except ValueError as error:  # an unknown --region
        raise typer.BadParameter(str(error), param_hint="--region") from None
    finally:
        db.dispose()
    for line in summary.lines():
        typer.echo(line)
    if summary.repeated:
        typer.echo("")
        typer.echo("rows that shared a phone with an earlier row:")
        for repeat in summary.repeats[:SHOW_REJECTS]:
            typer.echo(f"  {repeat}")
        if summary.repeated > SHOW_REJECTS:
            typer.echo(f"  ... and {summary.repeated - SHOW_REJECTS} more")
    if summary.rejected:
        typer.echo("")
        typer.echo("rejected rows:")
        for reject in summary.rejects[:SHOW_REJECTS]:
            typer.echo(f"  {reject}")
        if summary.rejected > SHOW_REJECTS:
            typer.echo(f"  ... and {summary.rejected - SHOW_REJECTS} more")
        if summary.rejects_path:
            typer.echo(f"all rejected rows, with a reason column: {summary.rejects_path}")


def _run(file: Path, db: Database, options: ImportOptions) -> ImportSummary:
    """The import, with a progress bar when a person is watching."""
    if not sys.stderr.isatty():
        return import_file(file, db=db, options=options)
    with typer.progressbar(length=1000, label=f"importing {file.name}", file=sys.stderr) as bar:
        done = [0]

        def progress(fraction: float) -> None:
            step = int(fraction * 1000) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        return import_file(file, db=db, options=options, progress=progress)
