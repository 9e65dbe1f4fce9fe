"""``caretbot parse TEXT``: what a caret command line parses to, without Slack.

Needs no settings: it only runs the grammar. The JSON goes to stdout, an error with
its caret to stderr with exit status 2 (a usage error, as for bad options).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

import grammar


def register(app: typer.Typer) -> None:
    """Add the ``parse`` command to the caretbot CLI."""
    app.command("parse")(parse)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(f"{name!r} is not an IANA time zone, e.g. Europe/London") from None


def _check_zone(name: str) -> str:
    _zone(name)
    return name


def _moment(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not ISO 8601, e.g. 2026-11-23T13:00:00Z") from None


def _check_now(text: str | None) -> str | None:
    if text is not None:
        _moment(text)
    return text


def _now(text: str | None, zone: ZoneInfo) -> datetime:
    if text is None:
        return datetime.now(UTC)
    moment = _moment(text)
    # A time without an offset is wall-clock time in --tz, as the issuer would see it.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def parse(
    text: Annotated[str, typer.Argument(help='A command line, e.g. "^at tomorrow 9am Hi"')],
    now: Annotated[
        str | None,
        typer.Option(
            help="The time to read it at (ISO 8601; no offset means --tz).", callback=_check_now
        ),
    ] = None,
    tz: Annotated[
        str,
        typer.Option(
            help="The issuer's time zone (IANA, e.g. America/New_York).", callback=_check_zone
        ),
    ] = "UTC",
) -> None:
    """Parse a caret command and print it as JSON, or the error with a caret under it."""
    zone = _zone(tz)
    try:
        command = grammar.parse_command(text, now=_now(now, zone), tz=zone)
    except grammar.CommandError as error:
        typer.echo(error.explain(), err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(grammar.command_to_json(command), ensure_ascii=False))
