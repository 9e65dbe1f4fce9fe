"""The installed `caretbot` script, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        ["caretbot", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_parse_prints_the_command_as_json(tmp_path: Path) -> None:
    result = run(
        "parse",
        "^at tomorrow 9am Are you free?",
        "--now",
        "2026-11-23T15:00:00Z",
        "--tz",
        "America/Chicago",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "command": "at",
        "send_at": "2026-11-24T15:00:00Z",
        "text": "Are you free?",
    }


def test_parse_shows_a_bad_command_with_a_caret_and_exits_2(tmp_path: Path) -> None:
    result = run("parse", "^clam", cwd=tmp_path)
    assert result.returncode == 2
    assert "^claim" in result.stderr
    assert "^" in result.stderr.splitlines()[1]


def test_db_upgrade_creates_the_default_sqlite_database_without_other_settings(
    tmp_path: Path,
) -> None:
    result = run("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "caretbot.db").exists()
    assert "database is at migration" in result.stdout
