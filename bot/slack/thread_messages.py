"""A person's message in a conversation thread, taken apart: caret lines run as commands
(the desk), the other lines and the images shared with them are texted (the bridge)."""

from __future__ import annotations

from typing import Any

import structlog

import grammar
from bot import bridge
from bot.desk.runner import Desk
from bot.slack import file_proxy, shared_files
from storage import conversations
from storage.db import Database

log = structlog.get_logger(__name__)


def receive(db: Database, desk: Desk, *, event_id: str, event: dict[str, Any]) -> None:
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
            continue  # done before; the message's other parts may not have been
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
