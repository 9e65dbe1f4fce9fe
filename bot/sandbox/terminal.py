"""The demo page's terminal: `caretbot` commands typed on the page run as typed, in a
child process, against the demo's database and stand-ins (the demo's settings as its
environment), so the page shows the command line as a user has it.

Only the command groups that read or change caretbot's data are allowed (`lists`,
`candidates`, `parse`, and `blasts` / `push` when installed); never `serve`, `demo`,
`db` or `import` of an arbitrary file. No shell: the line is split with shlex.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass

ALLOWED = ("lists", "candidates", "parse", "blasts", "push")
TIMEOUT_SECONDS = 120.0
MAX_OUTPUT = 20_000


class CommandRefused(ValueError):
    """A line the terminal will not run (not `caretbot ...`, an unknown group, bad quoting)."""


@dataclass(frozen=True)
class Run:
    """One command's argv (after `caretbot`), exit status and combined output."""

    argv: list[str]
    exit_status: int
    output: str


def available_groups() -> list[str]:
    """The allowed groups this install has (blasts and push come with their modules)."""
    optional = {"blasts": "bot.cli.blasts", "push": "bot.cli.push"}
    return [
        group
        for group in ALLOWED
        if group not in optional or importlib.util.find_spec(optional[group]) is not None
    ]


def parse_line(line: str) -> list[str]:
    """`caretbot GROUP ...` (or `GROUP ...`) as argv after `caretbot`; CommandRefused
    for anything else."""
    try:
        words = shlex.split(line)
    except ValueError as error:
        raise CommandRefused(f"cannot read the line: {error}") from None
    if words[:1] == ["caretbot"]:
        words = words[1:]
    if not words:
        raise CommandRefused("type a caretbot command, e.g. caretbot lists")
    groups = available_groups()
    if words[0] not in groups:
        raise CommandRefused(f"the demo's terminal runs caretbot {' / '.join(groups)} only")
    return words


def run(argv: list[str], environment: dict[str, str]) -> Run:
    """Run `caretbot ARGV` with the demo's settings; TimeoutError past TIMEOUT_SECONDS."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("SLACK_", "TWILIO_", "ZOHO_", "DATABASE_URL", "QUIET_HOURS"))
    }
    env.update(environment)
    env["COLUMNS"] = "100"
    try:
        done = subprocess.run(
            [sys.executable, "-c", "from bot.cli.main import main; main()", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"caretbot {' '.join(argv)} ran over {TIMEOUT_SECONDS:.0f} s") from None
    output = (done.stdout + done.stderr)[-MAX_OUTPUT:]
    return Run(argv, done.returncode, output)


BLAST = "Warehouse open day"
PRESETS: dict[str, list[str]] = {
    "lists": ["caretbot lists", 'caretbot lists show "Demo sample"'],
    "candidates": ["caretbot candidates --filter 'list:\"Demo sample\" has:email'"],
    "parse": ['caretbot parse "^at tomorrow 9am See you at the front desk"'],
    "blasts": [
        f'caretbot blasts create "{BLAST}" --list "Demo sample" --message '
        "'Hi {first_name|there}! Our warehouse open day is Saturday 10am: "
        "https://example.com/jobs/open-day Reply YES to save a spot.'",
        f'caretbot blasts preview "{BLAST}"',
        f'caretbot blasts send "{BLAST}"',
        f'caretbot blasts report "{BLAST}"',
    ],
    "push": [
        'caretbot push add --module candidates --engagement replied --list "Demo sample"',
        "caretbot push enable 1",
        "caretbot push run",
        "caretbot push history",
    ],
}


def presets() -> list[str]:
    """Commands the page offers as one-click examples, for the groups installed."""
    return [line for group in available_groups() for line in PRESETS.get(group, [])]
