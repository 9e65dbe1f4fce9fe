"""README.md names every setting caretbot reads."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_readme() -> None:
    missing = [name for name in Settings.model_fields if f"| `{name}` |" not in README]
    assert not missing, f"add these settings to README.md's table: {missing}"
