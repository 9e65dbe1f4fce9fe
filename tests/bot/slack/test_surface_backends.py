"""The Slack surface on SQLite and on PostgreSQL (TEST_POSTGRES_URL): a button, the Home
tab and /caretbot read and write the same way on both."""

from __future__ import annotations

from collections.abc import Callable

from bot.slack import cards
from tests.bot.conftest import TEAMMATE
from tests.bot.slack.conftest import Surface, home_text
from tests.bot.slack.test_slash import texts


def test_claim_home_and_status_on_each_backend(
    make_surface: Callable[..., Surface], database_url: str
) -> None:
    surface = make_surface(database_url=database_url)
    thread = surface.bridge.open_thread("¿Hay turnos de noche? 🌙")
    surface.open_home()
    surface.home()
    surface.click(thread, cards.ACTION_CLAIM)
    surface.bridge.wait_for_note(thread, f"Claimed by <@{TEAMMATE}>.")
    shown = surface.slack.wait_for(
        lambda: (
            (text := home_text(surface.slack.home(TEAMMATE) or {"blocks": []}))
            and "# Claimed by you (1)" in text
            and text
        )
    )
    assert "# Waiting for you (1)" in shown and "waiting just now" in shown
    _, _, url = surface.slash("status")
    status = texts(surface.answer(url))
    dialect = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    assert f"• Database: answers ({dialect})" in status
    assert "• Scheduler lock: nobody" not in status
