"""`caretbot blasts` as typed, on a real SQLite file: what it says, and that every bad
input is one clear line, exit status 2 and nothing stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.blast_models import Blast
from storage.db import Database
from storage.lists import ensure_static_list
from tests.bot.blasts.helpers import cli, seed

KEYS = [
    "name", "status", "recipients", "skipped", "held", "pending", "sent", "delivered",
    "failed", "replied", "opted_out", "clicked", "segments", "encoding", "cost",
]  # fmt: skip


@pytest.fixture
def url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PUBLIC_URL", "https://caret.example.com")
    database_url = f"sqlite:///{tmp_path / 'caretbot.db'}"
    db = Database(database_url)
    db.upgrade()
    seed(
        db,
        [
            {"phone": "+13125550101", "first_name": "Zoë", "city": "Chicago"},
            {"phone": "+12125550102", "first_name": "Ben"},
            {"phone": "+12135550103", "opt_in": False},
        ],
    )
    with db.write() as session:
        ensure_static_list(session=session, name="Empty")
    db.dispose()
    return database_url


def stored(url: str) -> list[tuple[str, str, str]]:
    db = Database(url)
    with db.read() as session:
        rows = session.execute(sa.select(Blast.name, Blast.status, Blast.message)).all()  # type: ignore[call-overload]
    db.dispose()
    return [tuple(row) for row in rows]


def test_create_preview_and_list(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = cli(
        monkeypatch, url, "blasts", "create", "Nights", "--list", "night nurses",
        "--message", "Hi {first_name|there}, nights in {city|your area}: https://x.example/jobs",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith('blast "Nights" created, a draft')
    code, out, _ = cli(monkeypatch, url, "blasts", "preview", "Nights", "--json")
    figures = json.loads(out)
    assert list(figures) == KEYS
    assert figures["recipients"] == 3 and figures["skipped"] == {"no_opt_in": 1}
    assert figures["pending"] + figures["held"] == 2
    # "Zoë": the ë is not in GSM-7, so her text (only hers) is UCS-2.
    assert figures["encoding"] == "UCS-2" and figures["sent"] == 0
    assert figures["cost"] == round(figures["segments"] * 0.0083, 4)
    code, out, _ = cli(monkeypatch, url, "blasts", "preview", "Nights")
    assert "Hi Zoë, nights in Chicago: https://caret.example.com/l/" in out
    assert "Reply STOP to opt out." in out
    assert "because of: 'ë' at 6" in out
    code, out, _ = cli(monkeypatch, url, "blasts")
    assert "Nights" in out and "draft" in out


def test_preview_names_what_forces_ucs2(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli(
        monkeypatch, url, "blasts", "create", "Curly", "--list", "Night nurses",
        "--message", "It’s {first_name|you} 🌙",
    )  # fmt: skip
    code, out, _ = cli(monkeypatch, url, "blasts", "preview", "Curly")
    assert (
        "UCS-2 (70 characters a segment, not 160) because of: '’' at 3, 'ë' at 8, '🌙' at 10" in out
    )


def test_a_scheduled_blast_says_serve_will_send_it(url: str, monkeypatch: pytest.MonkeyPatch):
    code, out, err = cli(
        monkeypatch, url, "blasts", "create", "Later", "--list", "Night nurses",
        "--message", "Hi", "--at", "tomorrow 9am", "--tz", "America/New_York",
    )  # fmt: skip
    assert code == 0, err
    assert "scheduled for" in out and "EST" in out
    assert "`caretbot serve` will send it" in out
    code, out, _ = cli(
        monkeypatch, url, "blasts", "edit", "Later", "--message", "Hello {first_name|}"
    )
    assert code == 0 and "changed" in out
    assert stored(url) == [("Later", "scheduled", "Hello {first_name|}")]
    code, out, _ = cli(monkeypatch, url, "blasts", "cancel", "Later")
    assert code == 0 and "canceled" in out
    code, _, err = cli(monkeypatch, url, "blasts", "edit", "Later", "--message", "Hi again")
    assert code == 2 and "is canceled: it can no longer be edited" in err


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--list", "Nope", "--message", "Hi"], 'there is no list named "Nope"'),
        (["--list", "Empty", "--message", "Hi"], 'list "Empty" has no candidates'),
        (
            ["--list", "Night nurses", "--message", "Hi", "--at", "2020-01-01 09:00"],
            "--at: '2020-01-01 09:00' is Wed 01 Jan 2020 09:00 CST, which has passed",
        ),
        (
            ["--list", "Night nurses", "--message", "x" * 1540],
            "the message is 11 segments for some recipients",
        ),
        (
            ["--list", "Night nurses", "--message", "Hi {frist_name}"],
            "--message: 'frist_name' is not a field a message can fill in at column 5",
        ),
        (["--list", "Night nurses", "--message", "Hi {first_name"], "this { is never closed"),
        (["--list", "Night nurses", "--message", "  "], "--message is empty"),
        (
            ["--list", "Night nurses", "--message", "Hi", "--tz", "Mars/Base"],
            "--tz 'Mars/Base' is not a time zone",
        ),
        (
            ["--list", "Night nurses", "--message", "Hi", "--nudge-after", "2d"],
            "--nudge-after and --nudge go together",
        ),
        (
            ["--list", "Night nurses", "--message", "Hi", "--nudge-after", "soon", "--nudge", "?"],
            "--nudge-after 'soon' is not a delay",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_stored(
    url: str, monkeypatch: pytest.MonkeyPatch, args: list[str], error: str
) -> None:
    code, out, err = cli(monkeypatch, url, "blasts", "create", "Bad", *args)
    assert code == 2, out
    first = err.splitlines()[0]
    assert first.startswith("caretbot blasts: ") and error in first, err
    assert stored(url) == []


def test_a_second_blast_with_the_same_name_is_refused(url: str, monkeypatch: pytest.MonkeyPatch):
    cli(monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses", "--message", "A")
    code, _, err = cli(
        monkeypatch, url, "blasts", "create", "nights", "--list", "Night nurses", "--message", "B"
    )
    assert code == 2 and 'there is already a blast named "nights"' in err
    assert stored(url) == [("Nights", "draft", "A")]


def test_unknown_blasts_are_refused(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for command in ("preview", "report", "send", "cancel", "resume"):
        code, _, err = cli(monkeypatch, url, "blasts", command, "Ghost")
        assert code == 2 and 'there is no blast named "Ghost"' in err


def test_send_starts_a_draft_now(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    cli(monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses", "--message", "A")
    code, out, _ = cli(monkeypatch, url, "blasts", "send", "Nights")
    assert code == 0 and "starts now" in out and "`caretbot serve` will send it" in out
    assert stored(url)[0][1] == "scheduled"
