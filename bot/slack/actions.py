"""The candidate card's buttons: Claim / Unclaim, Assign, Close / Reopen, and the overflow
with Opt out (or Opt in) and Add to list.

Each button becomes the caret command it stands for and goes through the desk's one
path (`Desk.perform`), so a button and `^claim` check, store and answer alike: the card
is updated in place (chat.update), the thread gets its note, and a refusal (unclaiming
what someone else holds, opting in a candidate who texted STOP) goes to the clicker
alone through the action's `response_url` (ephemeral). The payload's trigger_id and
action_ts make the key the desk stores with the change, so a payload delivered twice
changes nothing twice; a double click sends two payloads, and the second finds the
change made ("You hold this conversation already").

Bolt acks at once and runs the work as a lazy listener (a thread), inside Slack's 3
seconds. Add to list opens a modal (views.open) with the static lists; its submission
runs `^list add` and shows a refusal on the list field (`response_action: errors`).
https://api.slack.com/reference/interaction-payloads/block-actions
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.models.blocks import (
    InputBlock,
    Option,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

import grammar
from bot.desk.people import SlackUnavailable
from bot.desk.runner import SLACK_ERRORS, Desk
from bot.slack import cards
from bot.slack.roles import Roles
from storage import lists
from storage.db import Database

log = structlog.get_logger(__name__)

LIST_MODAL = "desk.list_add"
LIST_BLOCK = "list"
LIST_ACTION = "list"
MAX_OPTIONS = 100  # a static_select holds at most 100 options
FROM_CARD = "from the candidate card"


def payload_key(prefix: str, *parts: Any) -> str:
    """A short, stable key for a payload (the processed-events table holds 64 chars)."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}:{digest[:48]}"


class CardActions:
    """Turns the card's buttons into desk commands."""

    def __init__(self, *, desk: Desk, roles: Roles, db: Database) -> None:
        self.desk = desk
        self.roles = roles
        self.db = db

    def register(self, app: App) -> None:
        """The buttons (acked at once, worked lazily), the list modal's submit and close."""
        for action_id in (
            cards.ACTION_CLAIM,
            cards.ACTION_UNCLAIM,
            cards.ACTION_ASSIGN,
            cards.ACTION_CLOSE,
            cards.ACTION_REOPEN,
            cards.ACTION_MORE,
        ):
            app.action(action_id)(ack=_ack, lazy=[self.on_action])
        app.view(LIST_MODAL)(self.on_list_submit)
        app.view_closed(LIST_MODAL)(self.on_list_closed)

    # The buttons.

    def on_action(self, body: dict[str, Any], respond: Respond, client: WebClient) -> None:
        """One block_actions payload from the card."""
        structlog.contextvars.clear_contextvars()
        action = body["actions"][0]
        user = body["user"]["id"]
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        thread_ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        structlog.contextvars.bind_contextvars(action=action["action_id"], user=user)

        def tell(text: str) -> None:
            try:
                respond(text=text, response_type="ephemeral", replace_original=False)
            except Exception as error:  # a response_url expires after 30 minutes
                log.warning("actions.respond_failed", error=repr(error))

        if not channel or not thread_ts:
            tell("This button is not on a candidate card.")
            return
        if not self._may_work(user, tell):
            return
        command = self._command(action, body, client, user, channel, thread_ts, tell)
        if command is None:
            return
        key = payload_key(
            "action", body.get("trigger_id"), action.get("action_ts"), action["action_id"]
        )
        turn = self.desk.turn(user=user, channel=channel, thread_ts=thread_ts)
        self.desk.perform(key, turn, command, tell=tell)
        log.info("actions.done", command=command.keyword)

    def _may_work(self, user: str, tell: Callable[[str], None]) -> bool:
        try:
            role = self.roles.role(user)
        except SlackUnavailable as error:
            tell(f"Nothing was done: {error}. Try again in a moment.")
            return False
        if role in ("manager", "member"):
            return True
        tell(self.roles.member_refusal("use the buttons on a candidate card"))
        return False

    def _command(
        self,
        action: dict[str, Any],
        body: dict[str, Any],
        client: WebClient,
        user: str,
        channel: str,
        thread_ts: str,
        tell: Callable[[str], None],
    ) -> grammar.Command | None:
        action_id = action["action_id"]
        simple: dict[str, grammar.Command] = {
            cards.ACTION_CLAIM: grammar.Claim(),
            cards.ACTION_UNCLAIM: grammar.Unclaim(),
            cards.ACTION_CLOSE: grammar.Close(),
            cards.ACTION_REOPEN: grammar.Open(),
        }
        if action_id in simple:
            return simple[action_id]
        if action_id == cards.ACTION_ASSIGN:
            chosen = action.get("selected_user")
            return grammar.Assign(users=(chosen,)) if chosen else None
        choice = str((action.get("selected_option") or {}).get("value", "")).split(":", 1)[0]
        if choice == cards.MORE_OPT_OUT:
            return grammar.OptOut(reason=f"{FROM_CARD}, by <@{user}>")
        if choice == cards.MORE_OPT_IN:
            return grammar.OptIn(reason=f"{FROM_CARD}, by <@{user}>")
        if choice == cards.MORE_LIST_ADD:
            self._open_list_modal(body, client, channel, thread_ts, tell)
            return None
        tell("caretbot does not know that button; the card may be from an older version.")
        return None

    # Add to list: a modal with the static lists.

    def _open_list_modal(
        self,
        body: dict[str, Any],
        client: WebClient,
        channel: str,
        thread_ts: str,
        tell: Callable[[str], None],
    ) -> None:
        with self.db.read() as session:
            static = [info for info in lists.list_lists(session=session) if not info.dynamic]
        try:
            client.views_open(
                trigger_id=body["trigger_id"], view=list_modal(static, channel, thread_ts)
            )
        except SLACK_ERRORS as error:
            log.warning("actions.modal_failed", error=repr(error))
            tell(
                f"The list picker did not open ({error}); `^list add <list>` in the thread works too."
            )

    def on_list_submit(self, ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        """view_submission: add the candidate to the chosen list, or show why not on the
        list field (response_action: errors)."""
        structlog.contextvars.clear_contextvars()
        user = body["user"]["id"]
        where = json.loads(view.get("private_metadata") or "{}")
        chosen = (
            view["state"]["values"].get(LIST_BLOCK, {}).get(LIST_ACTION, {}).get("selected_option")
            or {}
        )
        name = chosen.get("value")
        if not name:
            ack(response_action="errors", errors={LIST_BLOCK: "Pick a list."})
            return
        said: list[str] = []
        turn = self.desk.turn(user=user, channel=where["channel"], thread_ts=where["thread_ts"])
        answer = self.desk.perform(
            payload_key("view", view.get("id"), name),
            turn,
            grammar.ListAdd(name=name),
            tell=said.append,
        )
        if answer is not None and said and not answer.thread:
            ack(response_action="errors", errors={LIST_BLOCK: said[-1][:150]})
            return
        ack()
        log.info("actions.list_added", added=bool(answer and answer.thread))

    def on_list_closed(self, ack: Ack, body: dict[str, Any]) -> None:
        """view_closed: the person cancelled the list picker; nothing to undo."""
        ack()
        log.info("actions.list_modal_closed", user=body["user"]["id"])


def _ack(ack: Ack) -> None:
    ack()


def list_modal(static: list[lists.ListInfo], channel: str, thread_ts: str) -> dict[str, Any]:
    """The Add to list modal: a select of the static lists (a dynamic list is a filter,
    no one is added to it), or why there is nothing to pick."""
    metadata = json.dumps({"channel": channel, "thread_ts": thread_ts})
    if not static:
        return View(
            type="modal",
            callback_id=LIST_MODAL,
            title="Add to list",
            close="Close",
            private_metadata=metadata,
            blocks=[
                SectionBlock(
                    text="There are no static lists yet: `caretbot lists create NAME --filter "
                    "...` or `^import List name` with a file creates one."
                )
            ],
        ).to_dict()
    # An option's text holds 75 characters, its value 150 (the list's name).
    options = [Option(text=info.name[:75], value=info.name[:150]) for info in static[:MAX_OPTIONS]]
    return View(
        type="modal",
        callback_id=LIST_MODAL,
        title="Add to list",
        submit="Add",
        close="Cancel",
        notify_on_close=True,
        private_metadata=metadata,
        blocks=[
            InputBlock(
                block_id=LIST_BLOCK,
                label=PlainTextObject(text="List"),
                element=StaticSelectElement(
                    action_id=LIST_ACTION, placeholder="Choose a list", options=options
                ),
            )
        ],
    ).to_dict()
