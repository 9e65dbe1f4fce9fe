"""Every example README.md shows runs as shown (issue 7): its shell lines and `caretbot`
commands through the CLI on an empty database, its filters, its caret commands through
`caretbot parse`, and its settings values through the Settings class."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
import uvicorn
from typer.testing import CliRunner

import bot.cli.demo
import bot.cli.main
from bot.cli import app
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```sh\n(.*?)^```", README, flags=re.S | re.M)
PROSE = re.sub(r"^```.*?^```", "", README, flags=re.S | re.M)
SPANS = re.findall(r"`([^`\n]+)`", PROSE)


def is_template(line: str) -> bool:
    """A syntax line, not an example: [optional] parts, '...', or a FILE/NAME argument."""
    return any(
        "[" in token or "..." in token or re.fullmatch(r"[A-Z][A-Z-]{1,}", token)
        for token in shlex.split(line)
    )


def is_mention(span: str) -> bool:
    """`caretbot parse` in a sentence: a command named, without the arguments it needs."""
    words = span.split()
    command = typer.main.get_command(app)
    for word in words[1:]:
        subcommands = getattr(command, "commands", {})
        if word not in subcommands:
            return False
        command = subcommands[word]
    return any(param.required for param in command.params)


def caretbot_lines() -> list[str]:
    """The `caretbot ...` commands the README shows, in its order: code block lines
    (the last command of an `a && b` line too) and inline examples."""
    found = []
    for block in BLOCKS:
        for line in block.splitlines():
            found += [p.strip() for p in line.split("&&") if p.strip().startswith("caretbot ")]
    found += [
        s for s in SPANS if s.startswith("caretbot ") and not is_template(s) and not is_mention(s)
    ]
    return found


def table_row(first_cell: str) -> str:
    (row,) = [line for line in README.splitlines() if line.startswith(f"| {first_cell} |")]
    return row


def dotenv_blocks() -> list[dict[str, str]]:
    """The README's `.env` examples: code blocks whose lines are all NAME=value."""
    found = []
    for block in BLOCKS:
        lines = [line for line in block.splitlines() if line.strip()]
        if lines and all(re.fullmatch(r"[A-Z_]+=\S*", line) for line in lines):
            found.append(dict(line.split("=", 1) for line in lines))
    return found


class Served(Exception):
    """serve got as far as starting the web server: the example works."""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A new user's directory: the example file, the README's .env, an empty database."""
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    (env,) = dotenv_blocks()
    (tmp_path / ".env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'caretbot.db'}")
    started: list[dict[str, Any]] = []

    def run(asgi: object, **options: Any) -> None:
        started.append(options)
        raise Served

    monkeypatch.setattr(uvicorn, "run", run)
    # serve points logging at stderr, which is CliRunner's buffer, closed after invoke.
    monkeypatch.setattr(bot.cli.main, "configure_logging", lambda **_kw: None)
    monkeypatch.setattr(bot.cli.demo, "configure_logging", lambda **_kw: None)
    yield tmp_path


def invoke(line: str) -> Any:
    args = shlex.split(line)
    assert args[0] == "caretbot"
    return CliRunner().invoke(app, args[1:])


def test_the_readme_shows_the_examples_this_test_runs():
    lines = caretbot_lines()
    for example in (
        "caretbot db upgrade",
        "caretbot serve --host 0.0.0.0 --port 8000",
        "caretbot demo",
        'caretbot parse "^assign @dana"',
        "caretbot candidates --filter 'city:Austin source:indeed -status:archived'",
        "caretbot --version",
    ):
        assert example in lines
    assert not any(is_template(line) or is_mention(line) for line in lines)
    assert "caretbot parse" not in lines  # named in a sentence, not an example


def test_every_caretbot_command_in_the_readme_runs_as_shown(workdir: Path):
    for line in caretbot_lines():
        result = invoke(line)
        if line.startswith(("caretbot serve", "caretbot demo")):
            assert isinstance(result.exception, Served), f"{line}\n{result.output}"
            continue
        assert result.exit_code == 0, f"{line}\n{result.output}"
        assert "Traceback" not in result.output
        if line.startswith("caretbot parse"):
            assert json.loads(result.stdout)["command"]


def test_every_filter_the_readme_shows_runs(workdir: Path):
    row = table_row("`caretbot candidates --filter '...'`")
    filters = re.findall(r"`([^`]+)`", row.split("|")[2])
    assert "city:Austin source:indeed -status:archived" in filters
    assert invoke("caretbot import examples/candidates.csv --list 'Night nurses'").exit_code == 0
    for text in filters:
        result = CliRunner().invoke(app, ["candidates", "--filter", text])
        assert result.exit_code == 0, f"{text}\n{result.output}"


def command_table_examples() -> list[str]:
    start = README.index("<!-- commands:start")
    rows = README[start : README.index("<!-- commands:end -->")].splitlines()[3:]
    return [re.findall(r"`([^`]+)`", row.split(" | ")[-1])[0] for row in rows if row]


def at_time_examples() -> list[str]:
    sentence = re.search(r"Times in `\^at` are read[^:]*:(.*?)\.\n", README, flags=re.S)
    assert sentence
    return re.findall(r"`([^`]+)`", sentence.group(1))


@pytest.mark.parametrize("example", command_table_examples())
def test_every_caret_command_example_parses(example: str):
    result = CliRunner().invoke(
        app, ["parse", example, "--now", "2026-11-23T09:30:00", "--tz", "America/Chicago"]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("when", at_time_examples())
def test_every_at_time_example_parses(when: str):
    result = CliRunner().invoke(
        app,
        ["parse", f"^at {when} Hello", "--now", "2026-11-23T09:30:00", "--tz", "America/Chicago"],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"] == "Hello"


def settings_examples() -> list[tuple[str, str]]:
    """(setting, value) for each value the settings table shows: every code span in a
    row's meaning except setting names, paths (/slack/events, GET /readyz) and commands
    (^at)."""
    found = []
    for name in Settings.model_fields:
        meaning = table_row(f"`{name}`").split(" | ")[2]
        for span in re.findall(r"`([^`]+)`", meaning):
            if span not in Settings.model_fields and not span.startswith(
                ("/", "^", "caretbot", "GET /", "POST /")
            ):
                found.append((name, span))
    return found


@pytest.mark.parametrize(("name", "value"), settings_examples())
def test_every_settings_value_the_readme_shows_is_accepted(name: str, value: str):
    Settings(_env_file=None, **{name: value})  # type: ignore[call-arg]


def test_the_readmes_env_example_is_a_complete_serve_configuration(workdir: Path):
    (env,) = dotenv_blocks()
    assert set(env) <= set(Settings.model_fields)
    Settings(_env_file=None, **env)  # type: ignore[arg-type]
    result = invoke("caretbot serve --port 8000")
    assert isinstance(result.exception, Served), result.output
