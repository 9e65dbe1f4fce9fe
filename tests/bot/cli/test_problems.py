"""No setting, network or file problem prints a traceback: every `caretbot` command
answers one line that says what failed and which setting (or file) to check, exit 1.
Also `caretbot --version`."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bot.cli.main
from bot.cli import app
from bot.settings import Settings
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, SIGNING_SECRET


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


@pytest.fixture
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A working directory without .env and an environment without caretbot settings."""
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    # serve points logging at stderr, which is CliRunner's buffer, closed after invoke:
    # later tests' logs would fail on it.
    monkeypatch.setattr(bot.cli.main, "configure_logging", lambda **_kw: None)
    yield tmp_path


def serve_settings() -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdef",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL_ID": "C0CARETBOT",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15125550100",
        "PUBLIC_URL": "https://caretbot.example.com",
    }


COMMANDS = {
    "db upgrade": ["db", "upgrade"],
    "serve": ["serve", "--port", "9"],
    "lists": ["lists"],
    "lists show": ["lists", "show", "Night nurses"],
    "lists create": ["lists", "create", "Austin", "--filter", "city:Austin"],
    "candidates": ["candidates", "--filter", "has:email"],
    "import": ["import", "candidates.csv"],
}


def assert_one_line(output: str, *fragments: str) -> None:
    assert "Traceback" not in output, output
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    for fragment in fragments:
        assert fragment in lines[0], output


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unreachable_postgresql_is_one_line_naming_database_url(
    clean: Path, closed_port: int, command: str
):
    (clean / "candidates.csv").write_text(
        "first_name,last_name,phone,email,opt_in\nAnaïs,Lefèvre,512-555-0104,a@example.com,yes\n",
        encoding="utf-8",
    )
    url = f"postgresql+psycopg://caretbot:s3cret@127.0.0.1:{closed_port}/caretbot"
    env = {"DATABASE_URL": url} | serve_settings()

    result = CliRunner().invoke(app, COMMANDS[command], env=env)

    assert result.exit_code == 1, result.output
    assert_one_line(result.stderr, "DATABASE_URL", f"127.0.0.1:{closed_port}", "refused")
    assert "s3cret" not in result.stderr  # the password never reaches the terminal
    assert result.stdout == ""


@pytest.mark.parametrize("command", ["db upgrade", "lists", "candidates"])
def test_an_sqlite_file_in_a_missing_folder_is_one_line_naming_database_url(
    clean: Path, command: str
):
    url = f"sqlite:///{clean / 'no such folder' / 'caretbot.db'}"

    result = CliRunner().invoke(app, COMMANDS[command], env={"DATABASE_URL": url})

    assert result.exit_code == 1, result.output
    assert_one_line(result.stderr, "DATABASE_URL", "unable to open", "folder")


def test_the_installed_script_says_one_line_too(tmp_path: Path, closed_port: int):
    """The console script outside CliRunner: Typer's rich traceback must not appear."""
    env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields}
    env["DATABASE_URL"] = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port}/caretbot"

    result = subprocess.run(
        ["caretbot", "db", "upgrade"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert_one_line(result.stderr, "caretbot: cannot use the database", "DATABASE_URL")


def test_a_rejects_file_that_cannot_be_written_is_one_line_naming_it(clean: Path):
    (clean / "candidates.csv").write_text(
        "first_name,last_name,phone,email,opt_in\n"
        "Anaïs,Lefèvre,512-555-0104,a@example.com,yes\n"
        "Bob,Nophone,,bob@example.com,yes\n",
        encoding="utf-8",
    )
    rejects = clean / "missing folder" / "rejects.csv"

    result = CliRunner().invoke(
        app,
        ["import", "candidates.csv", "--rejects", str(rejects)],
        env={"DATABASE_URL": f"sqlite:///{clean / 'caretbot.db'}"},
    )

    assert result.exit_code == 1, result.output
    assert_one_line(result.stderr, str(rejects), "No such file or directory")


def test_an_env_file_that_is_not_utf8_is_named(clean: Path):
    (clean / ".env").write_bytes(b"HELP_REPLY=R\xe9pondez STOP\n")

    result = CliRunner().invoke(app, ["lists"])

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert ".env" in result.stderr and "UTF-8" in result.stderr


def test_version_is_the_installed_distributions():
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"caretbot {version('caretbot')}"
