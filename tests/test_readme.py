"""README.md stays true: its command table is the one the parser reads."""

from __future__ import annotations

from pathlib import Path

from grammar.command_table import table_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_the_readme_lists_exactly_the_commands_of_the_command_table() -> None:
    start = README.index("<!-- commands:start")
    start = README.index("\n", start) + 1
    end = README.index("<!-- commands:end -->")
    assert README[start:end].strip() == table_markdown().strip()
