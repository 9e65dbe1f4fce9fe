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
from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from bot import bridge
from bot.desk.people import People
from bot.desk.runner import Desk
from bot.settings import Settings
from bot.slack import thread_messages
from bot.slack.actions import CardActions
from bot.slack.envelope import check_envelope
from bot.slack.home_tabs import HomeTabs
from bot.slack.identity import SlackIdentity, bolt_logger
from bot.slack.imports import SlackImports
from bot.slack.roles import Roles
from bot.slack.slash import SLASH_COMMAND, SlashCommands
from storage.db import Database

log = structlog.get_logger(__name__)

__all__ = ["SLASH_COMMAND", "build_slack_app"]


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
    people = People(client, settings.SLACK_CHANNEL_ID or "")
    roles = Roles(settings=settings, client=client, people=people)
    desk = Desk(settings=settings, db=db, client=client, wake=wake, people=people, roles=roles)
    register_messages(
        app,
        db=db,
        desk=desk,
        imports=SlackImports(settings=settings, db=db, client=client, roles=roles),
    )
    tabs = HomeTabs(db=db, client=client, roles=roles, team_channel=settings.SLACK_CHANNEL_ID or "")
    SlashCommands(settings=settings, db=db, roles=roles, people=people, links=tabs.link).register(
        app
    )
    CardActions(desk=desk, roles=roles, db=db).register(app)
    tabs.register(app)
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
        thread_messages.receive(db, desk, event_id=body["event_id"], event=event)
