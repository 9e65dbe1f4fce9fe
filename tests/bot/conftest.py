"""Fixtures for the edge tests: the Slack and Twilio fakes and a caretbot served between them.

`bridge` bundles the three with the moves a test makes: a candidate texts, a teammate
writes in a thread, Twilio calls back a status. Everything goes over real HTTP.
"""

from __future__ import annotations

import html
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.sandbox.signing import inbound_sms_params, slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage.db import Database
from storage.models import Candidate, Message, OutboxEntry
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, TEAM_NUMBER, Caretbot

CANDIDATE = "+15125550143"
OTHER_CANDIDATE = "+15125550177"
TEAMMATE = "U0DANA"
NOTE_PREFIX = ":information_source: "


@pytest.fixture(scope="session")
def _slack_server() -> Iterator[FakeSlack]:
    with FakeSlack("xoxb-test-token") as fake:
        yield fake


@pytest.fixture(scope="session")
def _twilio_server() -> Iterator[FakeTwilio]:
    fake = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def slack(_slack_server: FakeSlack) -> FakeSlack:
    """The Slack Web API, on loopback, accepting caretbot's bot token; fresh per test."""
    _slack_server.reset()
    return _slack_server


@pytest.fixture
def twilio(_twilio_server: FakeTwilio) -> FakeTwilio:
    """The Twilio REST API, on loopback, for caretbot's account; it signs its callbacks.
    Fresh per test."""
    _twilio_server.reset()
    return _twilio_server


@pytest.fixture(scope="session")
def _migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite database at the latest migration, copied for each test (quicker than
    migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "caretbot.db"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture
def make_caretbot(
    tmp_path: Path, slack: FakeSlack, twilio: FakeTwilio, _migrated_sqlite: Path
) -> Iterator[Callable[..., Caretbot]]:
    """Start caretbot against the fakes (SQLite in tmp_path unless a URL is given)."""
    started: list[Caretbot] = []

    def make(
        database_url: str | None = None,
        *,
        start: bool = True,
        slack_api_url: str | None = None,
        overrides: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Caretbot:
        """`extra` are settings the harness leaves alone; `overrides` replace ones it
        sets (SLACK_POSTS_PER_SECOND, ...)."""
        if database_url is None:
            path = tmp_path / f"caretbot{len(started)}.db"
            shutil.copyfile(_migrated_sqlite, path)
            database_url = f"sqlite:///{path}"
        bot = Caretbot(
            database_url=database_url,
            slack_api_url=slack_api_url or slack.api_url,
            twilio_api_url=twilio.url,
            **extra,
        )
        if overrides:
            bot.settings = bot.settings.model_copy(update=overrides)
        started.append(bot)
        return bot.start() if start else bot

    yield make
    for bot in started:
        bot.stop()
        bot.http.close()
        bot.db.dispose()


@pytest.fixture
def caretbot(make_caretbot: Callable[..., Caretbot]) -> Caretbot:
    """caretbot serving on SQLite."""
    return make_caretbot()


class Bridge:
    """caretbot between the fakes, and the moves of a conversation."""

    def __init__(self, caretbot: Caretbot, slack: FakeSlack, twilio: FakeTwilio) -> None:
        self.caretbot = caretbot
        self.slack = slack
        self.twilio = twilio

    # A candidate's side.

    def text_in(
        self,
        body: str,
        *,
        from_: str = CANDIDATE,
        to: str = TEAM_NUMBER,
        sid: str | None = None,
        media: list[tuple[str, str]] | None = None,
        **extra: str,
    ) -> httpx.Response:
        """The candidate texts: Twilio's signed webhook, as Twilio sends it."""
        params = inbound_sms_params(from_, to, body, sid=sid, media=media, account_sid=ACCOUNT_SID)
        params.update(extra)
        return self.caretbot.twilio_post("/twilio/sms", params)

    def open_thread(self, body: str = "Hi, is the warehouse job still open?", **kw: Any) -> str:
        """A first text opens a thread; returns the thread's ts once the text is in it."""
        response = self.text_in(body, **kw)
        assert response.status_code == 200, response.text
        text = body
        root = self.slack.wait_for(
            lambda: next(
                (
                    p
                    for p in self.slack.posts(CHANNEL)
                    if p.thread_ts is not None
                    # Slack shows the escaped text (& < > as entities) as typed.
                    and any(
                        html.unescape(q.text) == text
                        for q in self.slack.posts(CHANNEL, p.thread_ts)
                    )
                ),
                None,
            )
        )
        return root.thread_ts

    # A teammate's side.

    def teammate_says(
        self,
        text: str,
        thread_ts: str | None,
        *,
        user: str | None = TEAMMATE,
        headers: dict[str, str] | None = None,
        **event_fields: Any,
    ) -> tuple[dict[str, Any], httpx.Response]:
        """Slack delivers a message event; returns the envelope and caretbot's answer."""
        envelope = slack_message_event(
            CHANNEL, user, text, thread_ts=thread_ts, bot_user_id="UBOT", **event_fields
        )
        response = self.caretbot.slack_post(envelope, extra_headers=headers)
        return envelope, response

    # What came out.

    def thread(self, thread_ts: str) -> list[str]:
        """Texts caretbot posted in the thread, oldest first (the root excluded)."""
        return [p.text for p in self.slack.posts(CHANNEL, thread_ts)]

    def notes(self, thread_ts: str) -> list[str]:
        """caretbot's own notes in the thread."""
        return [
            t.removeprefix(NOTE_PREFIX) for t in self.thread(thread_ts) if t.startswith(NOTE_PREFIX)
        ]

    def wait_for_note(self, thread_ts: str, *fragments: str, timeout: float = 5.0) -> str:
        """The first note in the thread containing every fragment."""
        return self.slack.wait_for(
            lambda: next(
                (n for n in self.notes(thread_ts) if all(f in n for f in fragments)), None
            ),
            timeout=timeout,
        )

    def texts_to(self, number: str = CANDIDATE) -> list[dict[str, Any]]:
        """Messages Twilio accepted for the number (created through its REST API)."""
        return [m for m in self.twilio.messages(to=number) if m["direction"] == "outbound-api"]

    def wait_for_texts(self, count: int, number: str = CANDIDATE, timeout: float = 5.0) -> list:
        return self.twilio.wait_for(
            lambda: sent if len(sent := self.texts_to(number)) >= count else None,
            timeout=timeout,
        )

    def creates(self) -> list[Any]:
        """Every Messages.create request Twilio received, accepted or not."""
        return self.twilio.calls("create")

    # The database.

    def candidate(self, phone: str = CANDIDATE) -> Candidate | None:
        with self.caretbot.db.read() as session:
            return session.execute(
                sa.select(Candidate).where(Candidate.phone == phone)  # type: ignore[arg-type]
            ).scalar_one_or_none()

    def messages(self, direction: str | None = None) -> list[Message]:
        with self.caretbot.db.read() as session:
            query = sa.select(Message).order_by(Message.id)  # type: ignore[arg-type]
            if direction:
                query = query.where(Message.direction == direction)  # type: ignore[arg-type]
            return list(session.execute(query).scalars())

    def outbox(self) -> list[OutboxEntry]:
        with self.caretbot.db.read() as session:
            return list(
                session.execute(
                    sa.select(OutboxEntry).order_by(OutboxEntry.id)  # type: ignore[arg-type]
                ).scalars()
            )

    def wait_for_message(self, predicate: Callable[[Message], bool], timeout: float = 5.0):
        """The first stored message that satisfies `predicate`, once there is one."""
        return self.slack.wait_for(
            lambda: next((m for m in self.messages() if predicate(m)), None), timeout=timeout
        )

    def wait_outbox_settled(self, timeout: float = 10.0) -> list[OutboxEntry]:
        """Wait until no outbox entry is pending or in flight."""

        def settled() -> list[OutboxEntry] | None:
            entries = self.outbox()
            busy = [e for e in entries if e.state in ("pending", "in_flight")]
            return None if busy else entries

        return self.slack.wait_for(settled, timeout=timeout)


@pytest.fixture
def bridge(caretbot: Caretbot, slack: FakeSlack, twilio: FakeTwilio) -> Bridge:
    return Bridge(caretbot, slack, twilio)
