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

import grammar
from bot import bridge
from bot.desk.runner import Desk
from bot.settings import Settings
from bot.slack import file_proxy, shared_files
from bot.slack.imports import SlackImports
from storage import conversations, outbox
from storage.db import Database

log = structlog.get_logger(__name__)

SLASH_COMMAND = "/caretbot"


def build_slack_app(
    *, settings: Settings, db: Database, client: WebClient, wake: Callable[[], None]
) -> App:
    """The Bolt app with caretbot's listeners registered."""
    app = App(
        client=client,
        signing_secret=settings.SLACK_SIGNING_SECRET,
        process_before_response=True,
        token_verification_enabled=False,
        # Slack only retries on errors; an unhandled event type must still get 200.
        raise_error_for_unhandled_request=False,
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
        on_thread_message(db, desk, event_id=body["event_id"], event=event)


def on_thread_message(db: Database, desk: Desk, *, event_id: str, event: dict[str, Any]) -> None:
    """A person's message in a thread: its caret lines run as commands, its other lines
    (and its images) are texted, in the message's order. Each part is stored under its own
    key (the event id, then event_id/1, /2 ...) so a retried event does each once."""
    files = file_proxy.SlackFiles(desk.client, desk.settings.SLACK_BOT_TOKEN or "")
    shared = (
        shared_files.sort_files(event["files"], files.info)
        if event.get("files")
        else shared_files.SharedFiles()
    )
    parts = grammar.split_message(event.get("text") or "")
    if shared.media and not any(part.kind == "text" for part in parts):
        parts.append(grammar.MessagePart("text", ""))  # images without a caption
    for index, part in enumerate(parts):
        part_id = event_id if index == 0 else f"{event_id}/{index}"
        if part.kind == "command":
            desk.handle_caret_line(event_id=part_id, event=event, text=part.text)
            continue
        reply = bridge.receive_teammate_message(
            db,
            event_id=part_id,
            event=event,
            text=part.text,
            name_of=desk.people.name_in_text,
            media=shared.media,
            autoclaim=desk.settings.AUTOCLAIM,
        )
        if reply is None:
            log.info("slack.event_retried")
            return
        log.info("slack.thread_message", outcome=reply.outcome, conversation=reply.conversation_id)
        if reply.outcome != "ignored":
            desk.wake()
            if shared.not_sent:
                shared_files.tell_not_sent(desk.client, event, shared.not_sent)
        if reply.claimed and reply.conversation_id is not None:
            desk.refresh_card(reply.conversation_id)
    if shared.not_sent and not any(part.kind == "text" for part in parts):
        with db.write() as session:  # a retried event tells once
            fresh = conversations.mark_event_processed(
                session=session, event_id=f"{event_id}/files"
            )
        if fresh:
            shared_files.tell_not_sent(desk.client, event, shared.not_sent)


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
