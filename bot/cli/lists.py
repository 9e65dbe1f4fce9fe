"""``caretbot lists`` and ``caretbot candidates``: lists and the filters that build them.

`lists create NAME --filter '...'` copies the candidates who match now (a static list);
with `--dynamic` it saves the filter, which is evaluated whenever the list is used.
A bad filter is answered with the caret under the problem (exit status 1).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from bot.cli.imports import open_database
from grammar.counts import counted, verb
from grammar.filters import FIELDS, FilterError
from storage.filter_sql import count_query, select_query
from storage.lists import (
    ROW_COLUMNS,
    ListError,
    candidate_rows,
    compile_text,
    create_list,
    find_list,
    list_count,
    list_lists,
    list_query,
)

FILTER_HELP = (
    "A filter such as: city:Austin source:indeed -status:archived, "
    'campaign:"Fall 2026" OR campaign:"Spring 2027", created:>2026-10-01, replied:<7d, '
    'has:email, list:"Night nurses", opted_out:false. Fields: '
    + ", ".join(spec.name for spec in FIELDS)
)


def register(app: typer.Typer) -> None:
    """Add ``lists`` (with ``create`` and ``show``) and ``candidates`` to the CLI."""
    lists_app = typer.Typer(help="Lists of candidates: static or dynamic (a saved filter).")
    lists_app.callback(invoke_without_command=True)(lists_command)
    lists_app.command("create")(create_command)
    lists_app.command("show")(show_command)
    app.add_typer(lists_app, name="lists")
    app.command("candidates")(candidates_command)


def _fail(error: FilterError | ListError) -> typer.Exit:
    message = error.explain() if isinstance(error, FilterError) else str(error)
    typer.echo(message, err=True)
    return typer.Exit(1)


def lists_command(ctx: typer.Context) -> None:
    """Show every list: name, kind, how many candidates, its filter."""
    if ctx.invoked_subcommand is not None:
        return
    db = open_database()
    try:
        with db.read() as session:
            infos = list_lists(session=session)
            rows = []
            for info in infos:
                try:
                    count: Any = list_count(session=session, info=info)
                except ListError:
                    count = "filter broken"
                rows.append([info.name, info.kind, count, info.filter_text or ""])
    finally:
        db.dispose()
    if not rows:
        typer.echo("no lists yet: caretbot lists create NAME --filter '...'")
        return
    _table(["list", "kind", "candidates", "filter"], rows)


def create_command(
    name: Annotated[str, typer.Argument(help="The list's name.")],
    filter_text: Annotated[str, typer.Option("--filter", help=FILTER_HELP)],
    dynamic: Annotated[
        bool, typer.Option("--dynamic", help="Save the filter; evaluate it whenever used.")
    ] = False,
) -> None:
    """Create a list from a filter."""
    db = open_database()
    try:
        with db.write() as session:
            info, count = create_list(
                session=session, name=name, filter_text=filter_text, dynamic=dynamic
            )
    except (FilterError, ListError) as error:
        raise _fail(error) from None
    finally:
        db.dispose()
    if dynamic:
        matching = f"{counted(count, 'candidate')} {verb(count, 'matches', 'match')}"
        typer.echo(f"dynamic list {info.name} saved; {matching} it now")
    else:
        typer.echo(f"list {info.name} created with {counted(count, 'candidate')}")


def show_command(
    name: Annotated[str, typer.Argument(help="The list's name.")],
    limit: Annotated[int, typer.Option(help="How many candidates to show.")] = 20,
) -> None:
    """Show a list: its kind, filter, size and first candidates."""
    db = open_database()
    try:
        with db.read() as session:
            info = find_list(session=session, name=name)
            if info is None:
                raise ListError(f'there is no list named "{name}"')
            query = list_query(session=session, name=name)
            count = list_count(session=session, info=info)
            rows = candidate_rows(session=session, query=query, limit=limit)
    except ListError as error:
        raise _fail(error) from None
    finally:
        db.dispose()
    typer.echo(f"list {info.name} ({info.kind}): {counted(count, 'candidate')}")
    if info.filter_text:
        typer.echo(f"filter: {info.filter_text}")
    _rows(rows)


def candidates_command(
    filter_text: Annotated[str, typer.Option("--filter", help=FILTER_HELP)],
    limit: Annotated[int, typer.Option(help="How many candidates to show.")] = 10,
) -> None:
    """Count the candidates a filter matches and show the first of them."""
    db = open_database()
    try:
        with db.read() as session:
            compiled = compile_text(session=session, text=filter_text)
            count = session.execute(count_query(compiled)).scalar_one()
            rows = candidate_rows(session=session, query=select_query(compiled), limit=limit)
    except (FilterError, ListError) as error:
        raise _fail(error) from None
    finally:
        db.dispose()
    typer.echo(f"{counted(count, 'candidate')} {verb(count, 'matches', 'match')}")
    _rows(rows)


def _rows(rows: list[dict[str, Any]]) -> None:
    if rows:
        _table(list(ROW_COLUMNS), [[row[c] for c in ROW_COLUMNS] for row in rows])


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A plain text table: no colour, so it reads the same in a log or a pipe."""
    cells = [[str(c) for c in header], *([("" if v is None else str(v)) for v in r] for r in rows)]
    widths = [max(len(row[at]) for row in cells) for at in range(len(header))]
    for number, row in enumerate(cells):
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        typer.echo(line.rstrip())
        if number == 0:
            typer.echo("  ".join("-" * width for width in widths))
