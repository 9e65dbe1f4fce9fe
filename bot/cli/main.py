"""The `caretbot` root command (`serve`, `db upgrade`) and the registration of the groups."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import structlog
import typer

from bot.cli import blasts, demo, imports, lists, outbox, parse, push
from bot.cli.problems import CaretbotGroup
from bot.logs import configure_logging
from bot.settings import Settings, SettingsError, load_settings, require_push, require_serve
from storage.db import Database, current_revision

app = typer.Typer(
    cls=CaretbotGroup, help="caretbot: text candidates from Slack.", no_args_is_help=True
)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")
parse.register(app)
imports.register(app)
lists.register(app)
outbox.register(app)
blasts.register(app)
push.register(app)
demo.register(app)

log = structlog.get_logger(__name__)


def _print_version(asked: bool) -> None:
    if not asked:
        return
    try:
        typer.echo(f"caretbot {version('caretbot')}")
    except PackageNotFoundError:  # run from a source tree that was never installed
        typer.echo("caretbot (not installed: pip install -e .)")
    raise typer.Exit()


@app.callback()
def root(
    show_version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print caretbot's version (from the installed distribution) and exit.",
    ),
) -> None:
    """caretbot: text candidates from Slack."""


def settings_or_exit() -> Settings:
    """The settings, or a message naming the bad setting and exit status 2."""
    try:
        return load_settings()
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
) -> None:
    """Run caretbot: Slack events, Twilio webhooks, the outbox and the scheduler."""
    import uvicorn

    from bot.server import create_app

    settings = settings_or_exit()
    try:
        require_serve(settings)
    except SettingsError as error:
        typer.echo(f"caretbot: configuration problem\n{error}", err=True)
        raise typer.Exit(2) from None
    configure_logging()
    db = Database(settings.DATABASE_URL)
    if db.is_sqlite:
        db.upgrade()
    else:
        _require_migrated(settings.DATABASE_URL)
    _require_push_settings(settings, db)
    uvicorn.run(
        create_app(settings, db),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=10,
    )


def _require_push_settings(settings: Settings, db: Database) -> None:
    """With a push rule enabled, `serve` runs the push: it needs the Zoho settings."""
    from storage.push.rules import any_enabled

    with db.read() as session:
        enabled = any_enabled(session=session)
    if not enabled:
        return
    try:
        require_push(settings)
    except SettingsError as error:
        typer.echo(
            "caretbot: configuration problem (a push rule is enabled, so serve pushes into "
            f"Zoho Recruit)\n{error}",
            err=True,
        )
        raise typer.Exit(2) from None


def _require_migrated(url: str) -> None:
    from alembic.script import ScriptDirectory

    from storage.db import alembic_config

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    current = current_revision(url)
    if current != head:
        typer.echo(
            f"caretbot: the database is at migration {current or 'none'}, not {head}. "
            "Run `caretbot db upgrade` first.",
            err=True,
        )
        raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database at DATABASE_URL to the latest schema."""
    settings = settings_or_exit()
    Database(settings.DATABASE_URL).upgrade()
    typer.echo(f"database is at migration {current_revision(settings.DATABASE_URL)}")


def main() -> None:  # pragma: no cover - console entry point alias
    app(prog_name="caretbot")


if __name__ == "__main__":  # pragma: no cover
    main()
