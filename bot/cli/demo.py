"""``caretbot demo``: the whole product on one machine, with no account anywhere.

It runs the real `caretbot serve` app (webhooks, Bolt, outbox, scheduler) on SQLite in
DIR, and beside it, in the same process and on loopback, the Slack and Twilio
stand-ins of bot.sandbox with settings generated for them. The stand-ins reach caretbot
only through its public routes, signed as the platforms sign. The page at `/` (added
here, never by `serve`) shows a candidate's phone and the Slack channel.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from bot.logs import configure_logging
from bot.settings import SettingsError


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (port 0: a free one). OSError if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


def free_port(host: str, port: int) -> int:
    """`port` if it can be bound (0: a free one the system picks). OSError if taken."""
    with bind(host, port) as sock:
        return int(sock.getsockname()[1])


def demo(
    port: Annotated[
        int, typer.Option(help="Port of the page and of caretbot (0: a free one).")
    ] = 8000,
    data: Annotated[
        Path, typer.Option("--data", help="Directory for the demo's SQLite database.")
    ] = Path("caretbot-demo"),
    sample: Annotated[
        bool, typer.Option("--sample", help="Load the ~50 sample candidates into a list first.")
    ] = False,
) -> None:
    """Try caretbot with no accounts: a phone and a Slack channel in your browser."""
    import uvicorn

    from bot.sandbox.page import demo_app, load_sample
    from bot.sandbox.world import Sandbox
    from storage.db import Database

    host = "127.0.0.1"
    try:
        port = free_port(host, port)
    except OSError as error:
        typer.echo(f"caretbot demo: cannot listen on {host}:{port}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    address = f"http://{host}:{port}"
    data.mkdir(parents=True, exist_ok=True)
    sandbox = Sandbox(address, data.resolve()).start()
    try:
        try:
            settings = sandbox.settings()
        except SettingsError as error:  # pragma: no cover - the generated settings are valid
            typer.echo(f"caretbot demo: configuration problem\n{error}", err=True)
            raise typer.Exit(2) from None
        configure_logging()
        db = Database(settings.DATABASE_URL)
        db.upgrade()
        if sample:
            for line in load_sample(sandbox, db):
                typer.echo(line)
        app = demo_app(sandbox, settings, db)
        typer.echo(f"caretbot demo: open {address}/ (data in {data}; Ctrl-C stops it)")
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    finally:
        sandbox.stop()
