"""The Slack Bolt app: request verification, the message listener, the slash command.

Bolt checks every request's signature and refuses timestamps older than five minutes.
Listeners run before the HTTP answer (process_before_response): what a teammate wrote
is stored before Slack hears 200, so a crash means Slack retries, and the retry is
recognised by its event_id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import bridge
from bot.desk.runner import Desk
from bot.settings import Settings
from bot.slack.envelope import check_envelope
from bot.slack.identity import SlackIdentity, bolt_logger
from bot.slack.imports import SlackImports
from storage import outbox
from storage.db import Database

log = structlog.get_logger(__name__)

SLASH_COMMAND = "/caretbot"


def is_caret_line(text: str) -> bool:
    """A line starting with ^ is a command for caretbot, never texted."""
    return text.lstrip().startswith("^")


def build_slack_app(
    *,
    settings: Settings,
    db: Database,
    client: WebClient,
    wake: Callable[[], None],
    identity: SlackIdentity | None = None,
) -> App:
    """The Bolt app with caretbot's listeners registered.

    Bolt gets a client without a token and the bot's identity from `identity` (its
    `authorize` hook), so that a Slack outage at start-up never turns events away.
    """
    app = App(
        client=WebClient(base_url=client.base_url, timeout=client.timeout, retry_handlers=[]),
        authorize=identity or SlackIdentity(db=db, client=client),
        logger=bolt_logger(),
        signing_secret=settings.SLACK_SIGNING_SECRET,
        process_before_response=True,
        token_verification_enabled=False,
        # Slack only retries on errors; an unhandled event type must still get 200.
        raise_error_for_unhandled_request=False,
        # A signed request without the fields Slack always sends is a 400, not a 500.
        before_authorize=check_envelope,
    )
    register_messages(
        app,
        db=db,
        desk=Desk(settings=settings, db=db, client=client, wake=wake),
        imports=SlackImports(settings=settings, db=db, client=client),
    )
    register_slash_command(app, db=db)
    return app


def register_messages(app: App, *, db: Database, desk: Desk, imports: SlackImports) -> None:
    """Teammates' thread messages become texts to the candidate; ^ lines are commands;
    a file uploaded to the channel with ^import is imported."""

    @app.event("message")
    def on_message(body: dict[str, Any], event: dict[str, Any], context: BoltContext) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            event_id=body.get("event_id"), channel=event.get("channel")
        )
        if imports.handles(event, context.bot_user_id):
            imports.receive(event_id=body["event_id"], event=event)
            return
        if not bridge.is_teammate_thread_message(event, context.bot_user_id):
            return
        if is_caret_line(event.get("text", "")):
            desk.handle_caret_line(event_id=body["event_id"], event=event)
            return
        reply = bridge.receive_teammate_message(
            db, event_id=body["event_id"], event=event, autoclaim=desk.settings.AUTOCLAIM
        )
        if reply is None:
            log.info("slack.event_retried")
            return
        log.info("slack.thread_message", outcome=reply.outcome, conversation=reply.conversation_id)
        if reply.outcome != "ignored":
            desk.wake()
        if reply.claimed and reply.conversation_id is not None:
            desk.refresh_card(reply.conversation_id)


def register_slash_command(app: App, *, db: Database) -> None:
    """/caretbot answers privately with how caretbot is doing and how to use it."""

    @app.command(SLASH_COMMAND)
    def on_command(ack: Ack, command: dict[str, Any]) -> None:
        with db.read() as session:
            waiting = outbox.backlog(session=session)
        ack(
            text=(
                "caretbot texts candidates from this channel's threads. Reply in a "
                "conversation thread to text the candidate; start a line with ^ for a "
                f"command. Outbox: {waiting} waiting."
            ),
            response_type="ephemeral",
        )
