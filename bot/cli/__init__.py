"""The `caretbot` command line: one module per command group.

`main` holds the root (`serve`, `db upgrade`, `--version`) and registers the groups:
`imports` (`caretbot import`), `lists` (`caretbot lists`, `caretbot candidates`),
`parse` (`caretbot parse`). Each command asks only for the settings it uses.
"""

from __future__ import annotations

from bot.cli.main import app

__all__ = ["app"]
