"""What each caret command does to a conversation, and what caretbot answers.

`resolve` does the Slack lookups a command needs (is this person on the team, who has
this e-mail) before any transaction opens, so no database lock waits on Slack. `run`
then executes the command inside the caller's write transaction: it checks, then
writes, and returns an Answer: lines for the thread, a private line for the issuer,
whether the card changed, and the Slack work to do once the transaction has committed
(direct messages, the scheduler's date jobs). A command that cannot be done raises
Refused, whose message goes to the issuer only.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

import grammar
from bot.desk.people import People
from bot.settings import Settings
from bot.slack import cards
from grammar import (
    Assign,
    At,
    Cancel,
    Claim,
    Close,
    Command,
    Deliver,
    Help,
    Import,
    Invite,
    ListAdd,
    ListRemove,
    Note,
    Open,
    OptIn,
    OptOut,
    Read,
    Scheduled,
    Status,
    Unassign,
    Unclaim,
)
from grammar.command_types import is_name_ref
from grammar.slack_text import escape, slack_to_plain
from storage import applies, conversations, desk, lists
from storage.models import Candidate, Conversation


class Refused(Exception):
    """The command cannot be done as asked; the message says why, to the issuer only."""


@dataclass(frozen=True)
class Turn:
    """One caret line: who typed it, in which thread, when, and their time zone."""

    user: str
    channel: str
    thread_ts: str
    now: datetime
    tz: str
    manager: bool = False  # MANAGERS or MANAGER_GROUP (bot/slack/roles.py)


@dataclass(frozen=True)
class DirectMessage:
    """A DM to send once the command is stored; `link` appends the thread's permalink."""

    user: str
    text: str
    blocks: list[dict[str, Any]] | None = None
    link: bool = True


@dataclass
class Answer:
    """What a command leads to besides its writes."""

    thread: list[str] = field(default_factory=list)
    private: str | None = None
    card: bool = False
    direct: list[DirectMessage] = field(default_factory=list)
    arm: list[tuple[int, datetime]] = field(default_factory=list)
    disarm: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Context:
    """What a handler works with: the open transaction, the thread's conversation."""

    session: Session
    turn: Turn
    conversation: Conversation
    candidate: Candidate
    settings: Settings

    @property
    def conversation_id(self) -> int:
        assert self.conversation.id is not None
        return self.conversation.id

    @property
    def candidate_id(self) -> int:
        assert self.candidate.id is not None
        return self.candidate.id


def _people_are(user_ids: list[str]) -> str:
    return f"{cards.mentions(user_ids)} {'is' if len(user_ids) == 1 else 'are'}"


# Before the transaction: Slack lookups.


def resolve(command: Command, people: People) -> Command:
    """The command with what Slack knows filled in and checked; Refused when it cannot be.

    Raises SlackUnavailable when Slack could not be asked.
    """
    command = _by_names(command, people)
    if isinstance(command, Assign):
        outside = people.not_on_team(command.users)
        if outside:
            raise Refused(
                f"Not assigned: {_people_are(outside)} not on the team (the people in "
                f"<#{people.channel}>). Assign teammates, or `^invite` someone from outside "
                "to this conversation only."
            )
    elif isinstance(command, Invite):
        return _resolve_invite(command, people)
    elif isinstance(command, Deliver):
        person = people.person(command.user)
        if person is None or person.deleted or person.is_bot:
            raise Refused(f"Not delivered: <@{command.user}> is not a person in this Slack.")
    elif isinstance(command, At):
        # What the candidate will read: mentions as names, shortcodes as emoji, links
        # with their address (entities were decoded when the command was parsed).
        return dataclasses.replace(
            command,
            text=slack_to_plain(command.text, name_of=people.name_in_text, entities=False),
        )
    return command


def _by_names(command: Command, people: People) -> Command:
    """The command with each typed ``@name`` replaced by that person's Slack id."""
    if isinstance(command, Assign | Unassign) and any(map(is_name_ref, command.users)):
        ids = (_named(user, people) if is_name_ref(user) else user for user in command.users)
        return dataclasses.replace(command, users=tuple(dict.fromkeys(ids)))
    if isinstance(command, Invite | Deliver) and command.user and is_name_ref(command.user):
        return dataclasses.replace(command, user=_named(command.user, people))
    return command


def _named(name: str, people: People) -> str:
    found = people.by_name(name)
    if not found:
        raise Refused(
            f"Nobody in this Slack is called {name}. Pick the person from Slack's @ list "
            "as you type, so Slack says who they are."
        )
    if len(found) > 1:
        raise Refused(
            f"{name} could be {cards.mentions([p.id for p in found])}: pick the one you mean "
            "from Slack's @ list as you type."
        )
    return found[0].id


def _resolve_invite(command: Invite, people: People) -> Invite:
    if command.email is not None:
        found = people.by_email(str(command.email))
        if found is None:
            raise Refused(f"Not invited: nobody in this Slack has the address {command.email}.")
        user = found.id
    else:
        assert command.user is not None
        user = command.user
        found = people.person(user)
        if found is None:
            raise Refused(f"Not invited: <@{user}> is not a person in this Slack.")
    if found.is_bot or found.deleted:
        raise Refused(f"Not invited: <@{user}> is not a person who can reply.")
    if user in people.team():
        raise Refused(
            f"<@{user}> is on the team already (in <#{people.channel}>) and sees every "
            "conversation: `^assign` them instead."
        )
    return Invite(user=user)


# Inside the transaction: the commands.


def assign(command: Assign, ctx: Context) -> Answer:
    added = desk.assign(
        session=ctx.session, conversation_id=ctx.conversation_id, users=command.users
    )
    if not added:
        return Answer(private=f"{_people_are(list(command.users))} assigned already.")
    return Answer(thread=[f"Assigned to {cards.mentions(added)} by <@{ctx.turn.user}>."], card=True)


def unassign(command: Unassign, ctx: Context) -> Answer:
    users = list(command.users) or None
    removed = desk.unassign(session=ctx.session, conversation_id=ctx.conversation_id, users=users)
    if not removed:
        if users is None:
            return Answer(private="Nobody is assigned to this conversation.")
        return Answer(private=f"{_people_are(users)} not assigned to this conversation.")
    return Answer(
        thread=[f"{cards.mentions(removed)} unassigned by <@{ctx.turn.user}>."], card=True
    )


def claim(_command: Claim, ctx: Context) -> Answer:
    user = ctx.turn.user
    if desk.claim_if_unclaimed(session=ctx.session, conversation_id=ctx.conversation_id, user=user):
        return Answer(thread=[f"Claimed by <@{user}>."], card=True)
    holder = desk.claimed_by(session=ctx.session, conversation_id=ctx.conversation_id)
    if holder == user:
        return Answer(private="You hold this conversation already.")
    raise Refused(
        f"<@{holder}> holds this conversation: they (or a manager) must `^unclaim` it "
        "before you can claim it."
    )


def unclaim(_command: Unclaim, ctx: Context) -> Answer:
    user = ctx.turn.user
    holder = desk.claimed_by(session=ctx.session, conversation_id=ctx.conversation_id)
    if holder is None:
        return Answer(private="Nobody holds this conversation.")
    if holder != user and not (ctx.turn.manager or user in ctx.settings.MANAGERS):
        raise Refused(
            f"<@{holder}> holds this conversation: only they or a manager can `^unclaim` it."
        )
    desk.unclaim(session=ctx.session, conversation_id=ctx.conversation_id, holder=holder)
    said = (
        f"Released by <@{user}>." if holder == user else f"<@{user}> released <@{holder}>'s claim."
    )
    return Answer(thread=[said], card=True)


def at(command: At, ctx: Context) -> Answer:
    if ctx.candidate.opted_out:
        reason = conversations.opted_out_reason(ctx.candidate.opt_out_source)
        raise Refused(f"Not scheduled: {reason}")
    grace = timedelta(minutes=ctx.settings.SCHEDULED_GRACE_MINUTES)
    send_id = desk.schedule_send(
        session=ctx.session,
        conversation_id=ctx.conversation_id,
        text=command.text,  # as the candidate will read it (see resolve)
        send_at=command.send_at,
        send_by=command.send_at + grace,
        created_by=ctx.turn.user,
        now=ctx.turn.now,
    )
    after = " A text from the candidate before then cancels it too."
    when = cards.slack_time(command.send_at)
    return Answer(
        thread=[
            f"<@{ctx.turn.user}> scheduled #{send_id} for {when}: {escape(command.text)}\n"
            f"(`^cancel {send_id}` cancels it."
            f"{after if ctx.settings.CANCEL_SCHEDULED_ON_REPLY else ''})"
        ],
        card=True,
        arm=[(send_id, command.send_at)],
    )


def _send_line(send: Any) -> str:
    return f"#{send.id} {cards.slack_time(send.send_at)} by <@{send.created_by}>: {send.text}"


def scheduled(_command: Scheduled, ctx: Context) -> Answer:
    pending = desk.pending_sends(session=ctx.session, conversation_id=ctx.conversation_id)
    if not pending:
        return Answer(thread=["Nothing is scheduled in this conversation."])
    lines = "\n".join(_send_line(send) for send in pending)
    return Answer(thread=[f"Scheduled ({len(pending)}):\n{lines}"])


def cancel(command: Cancel, ctx: Context) -> Answer:
    pending = desk.pending_sends(session=ctx.session, conversation_id=ctx.conversation_id)
    if command.id is None:
        if not pending:
            raise Refused("Nothing is scheduled in this conversation.")
        if len(pending) > 1:
            lines = "\n".join(_send_line(send) for send in pending)
            raise Refused(
                f"{len(pending)} sends are scheduled; say which one, e.g. "
                f"`^cancel {pending[0].id}`:\n{lines}"
            )
        target = pending[0]
    else:
        found = [send for send in pending if send.id == command.id]
        if not found:
            raise Refused(
                f"There is no pending send #{command.id} in this conversation "
                "(`^scheduled` lists them)."
            )
        target = found[0]
    assert target.id is not None
    desk.cancel_send(session=ctx.session, conversation_id=ctx.conversation_id, send_id=target.id)
    return Answer(
        thread=[f"<@{ctx.turn.user}> cancelled {_send_line(target)}"],
        card=True,
        disarm=[target.id],
    )


def close(_command: Close, ctx: Context) -> Answer:
    if not desk.set_closed(
        session=ctx.session, conversation_id=ctx.conversation_id, closed=True, now=ctx.turn.now
    ):
        return Answer(private="This conversation is closed already.")
    return Answer(thread=[f"Closed by <@{ctx.turn.user}>."], card=True)


def open_(_command: Open, ctx: Context) -> Answer:
    if not desk.set_closed(
        session=ctx.session, conversation_id=ctx.conversation_id, closed=False, now=ctx.turn.now
    ):
        return Answer(private="This conversation is open already.")
    return Answer(thread=[f"Reopened by <@{ctx.turn.user}>."], card=True)


def read(_command: Read, ctx: Context) -> Answer:
    desk.mark_read(session=ctx.session, conversation_id=ctx.conversation_id, now=ctx.turn.now)
    return Answer(thread=[f"Marked read by <@{ctx.turn.user}>."])


def invite(command: Invite, ctx: Context) -> Answer:
    assert command.user is not None  # resolve() turned an e-mail into a user
    guest = command.user
    if not desk.add_guest(session=ctx.session, conversation_id=ctx.conversation_id, user=guest):
        return Answer(private=f"<@{guest}> is invited to this conversation already.")
    name = cards.display_name(ctx.candidate)
    return Answer(
        thread=[f"<@{ctx.turn.user}> invited <@{guest}> to this conversation."],
        card=True,
        direct=[
            DirectMessage(
                guest,
                f"<@{ctx.turn.user}> invited you to the conversation with {name}. What you "
                "write in its thread is texted to the candidate; lines starting with ^ are "
                "commands (`^help`).",
            )
        ],
    )


def deliver(command: Deliver, ctx: Context) -> Answer:
    desk.record_delivery(
        session=ctx.session,
        conversation_id=ctx.conversation_id,
        to_user=command.user,
        delivered_by=ctx.turn.user,
        status=command.status,
        stars=command.stars,
        summary=command.summary,
        now=ctx.turn.now,
    )
    if command.status is not None:
        applies.set_status(
            session=ctx.session, candidate_id=ctx.candidate_id, status=command.status
        )
    desk.set_closed(
        session=ctx.session, conversation_id=ctx.conversation_id, closed=True, now=ctx.turn.now
    )
    details = ", ".join(
        part
        for part in (command.status, cards.stars(command.stars) if command.stars else None)
        if part
    )
    said = f"Delivered to <@{command.user}> by <@{ctx.turn.user}>"
    said += f" ({details})" if details else ""
    said += f": {command.summary}" if command.summary else "."
    text, blocks = cards.delivery_card(
        ctx.candidate,
        status=command.status,
        rating=command.stars,
        summary=command.summary,
        delivered_by=ctx.turn.user,
        at=ctx.turn.now,
    )
    return Answer(
        thread=[f"{said}\nThe conversation is closed."],
        card=True,
        direct=[DirectMessage(command.user, text, blocks)],
    )


def opt_out(command: OptOut, ctx: Context) -> Answer:
    earlier = desk.opt_out_manually(
        session=ctx.session, candidate_id=ctx.candidate_id, reason=command.reason
    )
    if earlier is not None:
        return Answer(private=f"Opted out already: {conversations.opted_out_reason(earlier)}")
    pending = desk.pending_sends(session=ctx.session, conversation_id=ctx.conversation_id)
    after = f" Scheduled sends will not go out ({len(pending)})." if pending else ""
    return Answer(
        thread=[
            f"<@{ctx.turn.user}> opted the candidate out: {command.reason}. Nothing will be "
            f"texted to them; `^opt-in <reason>` undoes it.{after}"
        ],
        card=True,
    )


def opt_in(command: OptIn, ctx: Context) -> Answer:
    if not ctx.candidate.opted_out:
        return Answer(private="The candidate is not opted out.")
    if not desk.opt_in_manually(session=ctx.session, candidate_id=ctx.candidate_id):
        raise Refused(
            f"Not opted in: {conversations.opted_out_reason(ctx.candidate.opt_out_source)} "
            "`^opt-in` only undoes an opt-out made with `^opt-out`."
        )
    return Answer(
        thread=[f"<@{ctx.turn.user}> opted the candidate back in: {command.reason}."], card=True
    )


def note(command: Note, ctx: Context) -> Answer:
    desk.record_note(
        session=ctx.session,
        conversation_id=ctx.conversation_id,
        author=ctx.turn.user,
        text=command.text,
        now=ctx.turn.now,
    )
    return Answer(thread=[f"Note from <@{ctx.turn.user}> (not texted): {command.text}"])


def help_(command: Help, _ctx: Context) -> Answer:
    return Answer(private=f"```{grammar.help_text(command.command)}```")


def status(command: Status, ctx: Context) -> Answer:
    if not applies.set_status(
        session=ctx.session, candidate_id=ctx.candidate_id, status=command.status
    ):
        raise Refused(
            f"No status set: {cards.display_name(ctx.candidate)} has no apply yet (applies "
            "come from imports and the recruiting system)."
        )
    return Answer(thread=[f"Status set to {command.status} by <@{ctx.turn.user}>."], card=True)


def _static_list(ctx: Context, name: str) -> lists.ListInfo:
    info = lists.find_list(session=ctx.session, name=name)
    if info is None:
        names = [known.name for known in lists.list_lists(session=ctx.session)]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        guess = f' Did you mean "{close[0]}"?' if close else ""
        raise Refused(
            f'There is no list "{name}".{guess} (`caretbot lists` creates and shows lists.)'
        )
    if info.dynamic:
        raise Refused(
            f'"{info.name}" is a dynamic list (a saved filter): candidates are on it when '
            "they match its filter, not by being added or removed."
        )
    return info


def list_add(command: ListAdd, ctx: Context) -> Answer:
    info = _static_list(ctx, command.name)
    if not lists.add_members(
        session=ctx.session, list_id=info.id, candidate_ids=[ctx.candidate_id]
    ):
        return Answer(private=f'The candidate is on "{info.name}" already.')
    return Answer(thread=[f'Added to the list "{info.name}" by <@{ctx.turn.user}>.'])


def list_remove(command: ListRemove, ctx: Context) -> Answer:
    info = _static_list(ctx, command.name)
    if not lists.remove_members(
        session=ctx.session, list_id=info.id, candidate_ids=[ctx.candidate_id]
    ):
        return Answer(private=f'The candidate is not on "{info.name}".')
    return Answer(thread=[f'Removed from the list "{info.name}" by <@{ctx.turn.user}>.'])


def import_file(_command: Import, _ctx: Context) -> Answer:
    raise Refused(
        "`^import` works in the channel, on a message that carries the CSV or XLSX file, "
        "not in a candidate's thread."
    )


HANDLERS: dict[type, Callable[[Any, Context], Answer]] = {
    Assign: assign,
    Unassign: unassign,
    Claim: claim,
    Unclaim: unclaim,
    At: at,
    Scheduled: scheduled,
    Cancel: cancel,
    Close: close,
    Open: open_,
    Read: read,
    Invite: invite,
    Deliver: deliver,
    OptOut: opt_out,
    OptIn: opt_in,
    Note: note,
    Help: help_,
    Status: status,
    ListAdd: list_add,
    ListRemove: list_remove,
    Import: import_file,
}


def run(command: Command, ctx: Context) -> Answer:
    """Do the command in the caller's transaction; Refused when it cannot be done.

    A guest (`^invite`d into this conversation, not on the team) replies in the thread
    but runs no command other than `^help`: commands are the team's.
    """
    if ctx.turn.user in ctx.conversation.guests and not isinstance(command, Help):
        raise Refused(
            "As a guest of this conversation you can reply in its thread (it is texted to "
            "the candidate); commands are for the team (the people in "
            f"<#{ctx.settings.SLACK_CHANNEL_ID}>)."
        )
    return HANDLERS[type(command)](command, ctx)
