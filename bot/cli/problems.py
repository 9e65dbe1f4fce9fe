"""What a setting, network or file problem says on the command line: one line, no traceback.

Every `caretbot` command runs inside `CaretbotGroup.invoke`, the one place that turns
such a problem into a sentence saying what failed and which setting (or file) to check,
with exit status 1. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import sqlalchemy as sa
import typer
from sqlalchemy.engine import make_url
from typer.core import TyperGroup

# PostgreSQL's SQLSTATE for "insufficient privilege": the URL's user may not do this.
_INSUFFICIENT_PRIVILEGE = "42501"


class CaretbotGroup(TyperGroup):
    """The root `caretbot` group: its commands' setting, network and file problems
    become one line on stderr and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            fail(database_problem(error))
        except sa.exc.ProgrammingError as error:
            if getattr(error.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
                raise
            fail(database_problem(error))
        except BrokenPipeError:
            # The reader went away (caretbot lists | head): nothing left to tell it.
            # Python's docs: point stdout at devnull so the exit flush does not fail too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except OSError as error:
            fail(file_problem(error))


def fail(message: str) -> None:
    """Print `message` as caretbot's one line on stderr and exit with status 1."""
    typer.echo(f"caretbot: {message}", err=True)
    raise typer.Exit(1)


def database_problem(error: sa.exc.DBAPIError) -> str:
    """``cannot use the database at URL (the driver's first line); check DATABASE_URL``."""
    said = (str(error.orig) or type(error.orig).__name__).strip().splitlines()
    reason = " ".join(said[0].split()) if said else "no reason given"
    url = _database_url()
    check = (
        "that its folder exists and caretbot may write there"
        if url.startswith("sqlite")
        else "that the database server is running and lets that user in"
    )
    return f"cannot use the database at {url} ({reason}); check DATABASE_URL and {check}"


def file_problem(error: OSError) -> str:
    """``cannot read or write PATH: Permission denied`` or the network error's words."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.filename is not None:
        return f"cannot read or write {error.filename}: {reason}"
    return f"a network or file error: {reason}"


def _database_url() -> str:
    from bot.settings import SettingsError, load_settings

    try:
        url = load_settings().DATABASE_URL
    except SettingsError:
        return "DATABASE_URL"
    # The password never reaches a terminal or a log.
    return make_url(url).render_as_string(hide_password=True)
