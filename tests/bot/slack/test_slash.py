"""`/caretbot` through real HTTP: a signed slash-command form in, an ephemeral answer out
(in the ack for help and mistakes, through the response_url for the rest), within
Slack's 3 seconds, with the same lists, filters and errors as the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from bot.cli import imports as cli_import
from bot.sandbox import slack_payloads as payloads
from bot.slack.slash import SUBCOMMANDS, table_markdown
from storage import lists
from tests.bot.conftest import TEAMMATE
from tests.bot.slack.conftest import BOSS, SAM, Surface

ROOT = Path(__file__).resolve().parents[3]
CSV = (
    "First Name,Last Name,Mobile,Email,Opt In,City,Source\n"
    "Zoë,Núñez,(512) 555-0101,zoe@example.com,yes,Austin,indeed\n"
    "José,O’Brien,512-555-0102,jose@example.com,yes,Dallas,linkedin\n"
    "Ana,López,512-555-0103,,yes,Austin,indeed\n"
)


def texts(answer: dict[str, Any]) -> str:
    """Every text of an answer's blocks, joined."""
    parts = []
    for block in answer.get("blocks") or []:
        if block["type"] == "section":
            parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts += [element["text"] for element in block["elements"]]
    return "\n".join(parts)


def import_csv(surface: Surface, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`caretbot import people.csv --list "Night nurses"`, as typed, into caretbot's database."""
    path = tmp_path / "Enfermeras noche.csv"
    path.write_text(CSV, encoding="utf-8")
    monkeypatch.setenv("DATABASE_URL", surface.caretbot.settings.DATABASE_URL)
    app = typer.Typer()
    cli_import.register(app)
    app.command("noop")(lambda: None)
    result = CliRunner().invoke(app, ["import", str(path), "--list", "Night nurses"])
    assert result.exit_code == 0, result.output


def test_help_is_answered_in_the_ack_privately_within_3_seconds(surface: Surface) -> None:
    for text in ("help", ""):
        response, seconds, _ = surface.slash(text)
        assert response.status_code == 200 and seconds < 3
        answer = response.json()
        assert answer["response_type"] == "ephemeral"
        shown = texts(answer)
        for sub in SUBCOMMANDS:
            assert f"`/caretbot {sub.syntax}`" in shown
    assert not surface.slack.responses()


def test_a_mistyped_subcommand_gets_did_you_mean_from_the_table(surface: Surface) -> None:
    response, _, _ = surface.slash("lsts")
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    assert "`/caretbot lsts` is not a caretbot command. Did you mean `/caretbot lists`" in texts(
        answer
    )
    assert "`/caretbot help` lists them all." in texts(answer)
    response, _, _ = surface.slash("<script>&")
    assert "`/caretbot &lt;script&gt;&amp;` is not a caretbot command." in texts(response.json())


def test_lists_list_and_candidates_answer_through_the_response_url(
    surface: Surface, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_csv(surface, tmp_path, monkeypatch)
    with surface.caretbot.db.write() as session:
        lists.create_list(session=session, name="Austin", filter_text="city:Austin", dynamic=True)

    response, seconds, url = surface.slash("lists")
    assert response.status_code == 200 and seconds < 3 and response.text == ""
    answer = surface.answer(url)
    assert answer["response_type"] == "ephemeral" and answer["replace_original"] is False
    shown = texts(answer)
    assert "*Austin* (dynamic): 2 candidates `city:Austin`" in shown
    assert "*Night nurses* (static): 3 candidates" in shown

    _, _, url = surface.slash("list night nurses")
    shown = texts(surface.answer(url))
    assert "*Night nurses*: static, 3 candidates" in shown
    assert "*Zoë Núñez* · +1 512-555-0101 · zoe@example.com · Austin" in shown
    assert "*José O’Brien*" in shown

    _, _, url = surface.slash("list Nigth nurses")
    assert 'There is no list "Nigth nurses". Did you mean "Night nurses"?' in texts(
        surface.answer(url)
    )

    _, _, url = surface.slash('candidates city:Austin -email:"zoe@example.com"')
    shown = texts(surface.answer(url))
    assert '1 candidates match `city:Austin -email:"zoe@example.com"`' in shown
    assert "*Ana López*" in shown and "Zoë" not in shown


def test_a_bad_filter_answers_with_the_caret_under_it(surface: Surface) -> None:
    _, _, url = surface.slash("candidates city:Austin created:>yesterdayish")
    shown = texts(surface.answer(url))
    assert shown.startswith("That filter does not read:\n```")
    assert "^" in shown


def test_import_says_how_and_shows_the_last_imports(
    surface: Surface, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, url = surface.slash("import")
    shown = texts(surface.answer(url))
    assert "with `^import List name`" in shown and "No imports yet." in shown
    assert "Who may import: <@U0BOSS> or members of @recruiting-leads." in shown
    import_csv(surface, tmp_path, monkeypatch)
    _, _, url = surface.slash("import")
    shown = texts(surface.answer(url))
    assert (
        "*Enfermeras noche.csv* into *Night nurses* (cli): 3 rows, 3 new, 0 updated, 0 rejected"
        in shown
    )


def test_status_names_each_part(surface: Surface) -> None:
    _, _, url = surface.slash("status")
    shown = texts(surface.answer(url))
    assert "• Database: answers (sqlite)" in shown
    assert "• Slack: configured, Events API at `/slack/events`" in shown
    assert "• Twilio: configured, sending from +1 500-555-0006" in shown
    assert "• Outbox: 0 waiting to be delivered" in shown
    assert "• Scheduler lock: " in shown and "nobody" not in shown  # the test's workers hold it
    assert "• Sender's pace: 50 SMS segments a second" in shown


def test_waiting_lists_what_waits_for_you_and_the_team(surface: Surface) -> None:
    thread = surface.bridge.open_thread("¿Sigue abierta la vacante? 🙏")
    surface.bridge.open_thread("Hi, I'm Bo's referral", from_="+15125550177")
    surface.bridge.teammate_says("^claim", thread)
    surface.slack.wait_for(
        lambda: surface.card(thread) and "Unclaim" in str(surface.card(thread)["blocks"])
    )
    _, _, url = surface.slash("waiting")
    shown = texts(surface.answer(url))
    mine, team = shown.split("*Waiting for the team*")
    assert "*Waiting for you* (1)" in mine and "+1 512-555-0143" in mine
    assert ":large_green_circle:" in mine and "waiting just now" in mine
    assert f"claimed by <@{TEAMMATE}>" in mine
    assert "(1)" in team and "+1 512-555-0177" in team
    link = f"https://caretbot-test.slack.com/archives/C0CARETBOT/p{thread.replace('.', '')}"
    assert link in mine


def test_a_guest_is_refused_privately_and_told_who_may(surface: Surface) -> None:
    _, _, url = surface.slash("lists", user=SAM)
    shown = texts(surface.answer(url))
    assert shown.startswith(
        "Only members of the team (the people in <#C0CARETBOT>) may use `/caretbot lists`"
    )
    response, _, _ = surface.slash("help", user=SAM)
    assert "`/caretbot lists`" in texts(response.json())


def test_unsigned_or_stale_slash_commands_are_refused(surface: Surface) -> None:
    body = payloads.slash_command(
        "status", user=BOSS, channel="C0CARETBOT", response_url=surface.slack.response_url()
    )
    assert (
        surface.caretbot.slack_post(body, content_type=payloads.FORM, secret="wrong").status_code
        == 401
    )
    stale = surface.caretbot.slack_post(body, content_type=payloads.FORM, timestamp=1_000_000)
    assert stale.status_code == 401
    assert not surface.slack.responses()


def test_the_readme_shows_the_subcommand_table() -> None:
    readme = (ROOT / "README.md").read_text()
    assert table_markdown() in readme


def test_many_long_lists_fit_slacks_limits(surface: Surface) -> None:
    with surface.caretbot.db.write() as session:
        for number in range(120):
            name = f"Enfermeras de noche — Hospital São João, ala {number:03d} " + "·" * 60
            lists.create_list(session=session, name=name, filter_text=f'city:"Austin {number}"')
    _, _, url = surface.slash("lists")
    answer = surface.answer(url)  # the fake refuses an answer over Slack's limits
    assert len(answer["blocks"]) <= 50
    assert all(len(block["text"]["text"]) <= 3000 for block in answer["blocks"])
    shown = texts(answer)
    assert "*Lists* (120)" in shown and "ala 000" in shown
    assert "• *Enfermeras de noche — Hospital São João, ala 001" in shown  # cut between lines
