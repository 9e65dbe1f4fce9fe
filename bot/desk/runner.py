"""The conversation desk: caret commands typed in a candidate's thread.

A caret line is parsed in the issuer's Slack time zone, resolved against Slack (the
team, e-mails), then run in one write transaction together with the mark that this
Slack event was handled, so a retried event runs a command once. Answers for the thread
go through the outbox (ordered with the conversation's other posts, paced, retried);
errors and refusals go to the issuer alone (chat.postEphemeral); when the command
changed the conversation, the candidate card at the thread's root is updated
(chat.update).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import grammar
from bot.desk import commands as desk_commands
from bot.desk.commands import Answer, Context, DirectMessage, Refused, Turn
from bot.desk.people import People, SlackUnavailable
from bot.settings import Settings
from bot.slack import cards
from bot.slack.roles import Roles
from scheduler import scheduled_sends
from storage import conversations, desk
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

NOT_A_CONVERSATION = (
    "This thread is not a conversation thread: caret commands work in a candidate's "
    "thread (the one that starts with their card)."
)
SLACK_ERRORS = (SlackApiError, OSError, requests.RequestException)


class Desk:
    """Runs caret commands; holds the Slack client and the people cache."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        client: WebClient,
        wake: Callable[[], None],
        people: People | None = None,
        clock: Callable[[], Any] = utcnow,
        roles: Roles | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.client = client
        self.wake = wake
        self.people = people or People(client, settings.SLACK_CHANNEL_ID or "")
        self.clock = clock
        self.roles = roles

    def turn(self, *, user: str, channel: str, thread_ts: str) -> Turn:
        """Who acts, where, now, in their time zone, and whether they are a manager."""
        return Turn(
            user=user,
            channel=channel,
            thread_ts=thread_ts,
            now=self.clock(),
            tz=self.people.tz(user),
            manager=self.roles.is_manager(user) if self.roles is not None else False,
        )

    def handle_caret_line(
        self, *, event_id: str, event: Mapping[str, Any], text: str | None = None
    ) -> None:
        """Run the command a teammate typed in a thread, and answer.

        `text` is the command's lines when the message holds more than the command
        (grammar.split_message); `event_id` is then this command's own key, so a
        retried event runs each of the message's commands once.
        """
        turn = self.turn(user=event["user"], channel=event["channel"], thread_ts=event["thread_ts"])
        line = event.get("text", "") if text is None else text
        command: grammar.Command | str
        try:
            command = grammar.parse_command(line, now=turn.now, tz=turn.tz)
        except grammar.CommandError as error:
            command = error.explain(slack=True)
        self.perform(event_id, turn, command)

    def perform(
        self,
        key: str,
        turn: Turn,
        command: grammar.Command | str,
        *,
        tell: Callable[[str], None] | None = None,
    ) -> Answer | None:
        """Run one command for one turn, once per `key`: the one path of a caret line
        (key: the event_id) and of a button on the card (key: the action's trigger).

        `command` is a command, or the refusal to answer instead (a parse error). `tell`
        says something to the person alone (default: chat.postEphemeral in the thread).
        Returns the Answer, or None when nothing was done (a key already used, Slack
        unavailable, a crash, said to the person).
        """
        structlog.contextvars.bind_contextvars(user=turn.user, thread=turn.thread_ts)
        try:
            done = self._run(key, turn, command, tell)
        except Exception:
            # Rolled back, and the key is not marked handled: a retry may run it.
            log.exception("desk.command_crashed")
            self._say(turn, tell, "Something went wrong running that command; nothing was changed.")
            return None
        if done is None:
            return None
        self._after(turn, *done, tell=tell)
        return done[1]

    def _run(
        self,
        event_id: str,
        turn: Turn,
        parsed: grammar.Command | str,
        tell: Callable[[str], None] | None = None,
    ) -> tuple[int | None, Answer] | None:
        """Resolve and run the command, stored with the event's id; None when
        there is nothing more to do (a retried event, Slack unavailable)."""
        refusal: str | None = parsed if isinstance(parsed, str) else None
        command: grammar.Command | None = None
        try:
            if not isinstance(parsed, str):
                command = desk_commands.resolve(parsed, self.people)
        except Refused as error:
            refusal = str(error)
        except SlackUnavailable as error:
            # Not marked handled: Slack's retry (or the teammate) can try again.
            log.warning("desk.slack_unavailable", error=str(error))
            self._say(turn, tell, f"Nothing was done: {error}. Try again in a moment.")
            return None
        conversation_id: int | None = None
        with self.db.write() as session:
            if not conversations.mark_event_processed(session=session, event_id=event_id):
                log.info("desk.event_retried")
                return None
            found = desk.conversation_in_thread(
                session=session, channel=turn.channel, thread_ts=turn.thread_ts
            )
            if found is None:
                answer = Answer(private=NOT_A_CONVERSATION)
            elif command is None:
                answer = Answer(private=refusal)
            else:
                conversation, candidate = found
                conversation_id = conversation.id
                context = Context(session, turn, conversation, candidate, self.settings)
                try:
                    with session.begin_nested():
                        answer = desk_commands.run(command, context)
                except Refused as error:
                    answer = Answer(private=str(error))
                for line in answer.thread:
                    conversations.add_note(
                        session=session,
                        conversation_id=conversation.id,  # type: ignore[arg-type]
                        channel=conversation.slack_channel,
                        text=line,
                    )
        log.info(
            "desk.command",
            command=command.keyword if command is not None else None,
            conversation=conversation_id,
            private=answer.private is not None,
        )
        return conversation_id, answer

    def _after(
        self,
        turn: Turn,
        conversation_id: int | None,
        answer: Answer,
        *,
        tell: Callable[[str], None] | None = None,
    ) -> None:
        """The Slack work of a stored command; each step logs its own failure."""
        if answer.thread:
            self.wake()
        if answer.private:
            self._say(turn, tell, answer.private)
        for send_id, send_at in answer.arm:
            scheduled_sends.arm(send_id, send_at)
        for send_id in answer.disarm:
            scheduled_sends.disarm(send_id)
        if conversation_id is not None and answer.card:
            self.refresh_card(conversation_id)
        for message in answer.direct:
            self._direct(turn, message)

    def _say(self, turn: Turn, tell: Callable[[str], None] | None, text: str) -> None:
        if tell is None:
            self._tell(turn, text)
        else:
            tell(text)

    def _tell(self, turn: Turn, text: str) -> None:
        """A message only the issuer sees, in the thread."""
        try:
            self.client.chat_postEphemeral(
                channel=turn.channel, user=turn.user, thread_ts=turn.thread_ts, text=text
            )
        except SLACK_ERRORS as error:
            log.warning("desk.ephemeral_failed", error=repr(error))

    def _direct(self, turn: Turn, message: DirectMessage) -> None:
        """A DM (a delivery card, an invitation), with a link to the thread."""
        text, blocks = message.text, message.blocks
        try:
            if message.link:
                link = self.client.chat_getPermalink(
                    channel=turn.channel, message_ts=turn.thread_ts
                )["permalink"]
                text = f"{text}\n<{link}|Open the conversation>"
                if blocks is not None:
                    blocks = [*blocks, _link_block(link)]
            dm = self.client.conversations_open(users=message.user)["channel"]["id"]
            self.client.chat_postMessage(channel=dm, text=text, blocks=blocks, unfurl_links=False)
        except SLACK_ERRORS as error:
            log.warning("desk.dm_failed", to=message.user, error=repr(error))
            self._tell(turn, f"The direct message to <@{message.user}> could not be sent: {error}")

    def refresh_card(self, conversation_id: int) -> None:
        """Show the conversation's current state on its candidate card."""
        update = card_update(self.db, conversation_id)
        if update is None:
            return
        try:
            self.client.chat_update(**update)
        except SLACK_ERRORS as error:
            log.warning("desk.card_update_failed", conversation=conversation_id, error=repr(error))


def card_update(db: Database, conversation_id: int) -> dict[str, Any] | None:
    """chat.update's arguments for the conversation's card; None before it has a thread."""
    with db.read() as session:
        view = desk.desk_view(session=session, conversation_id=conversation_id)
    if view is None or view.conversation.slack_thread_ts is None:
        return None
    text, blocks = cards.candidate_card(view.candidate, view.conversation, next_send=view.next_send)
    blocks = [*blocks, cards.card_actions(view.candidate, view.conversation)]
    return {
        "channel": view.conversation.slack_channel,
        "ts": view.conversation.slack_thread_ts,
        "text": text,
        "blocks": blocks,
    }


def _link_block(link: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"<{link}|Open the conversation>"}],
    }
