"""What the desk does when the bridge stores a text or a reply, in the same transaction:
a text from the candidate reopens a closed conversation and cancels its pending
scheduled sends; with AUTOCLAIM, a teammate's reply claims an unclaimed conversation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session

from bot.slack import cards
from storage import conversations, desk
from storage.conversations import Inbound, Reply


def after_candidate_texts(
    session: Session, *, stored: Sequence[Inbound | None], channel: str, cancel_scheduled: bool
) -> desk.AfterTexts:
    """Reopen and cancel for a batch of stored texts, with a note in each thread."""
    effects = desk.after_candidate_texts(
        session=session,
        conversation_ids={inbound.conversation_id for inbound in stored if inbound is not None},
        cancel_scheduled=cancel_scheduled,
    )
    for conversation_id in effects.reopened:
        conversations.add_note(
            session=session,
            conversation_id=conversation_id,
            channel=channel,
            text="The candidate texted, so this conversation is open again (it was closed).",
        )
    for send in effects.cancelled:
        conversations.add_note(
            session=session,
            conversation_id=send.conversation_id,
            channel=channel,
            text=f"Scheduled send #{send.id} (for {cards.slack_time(send.send_at)}) is "
            f"cancelled: the candidate texted first. It was: {send.text}",
        )
    changed = set(effects.reopened) | {send.conversation_id for send in effects.cancelled}
    for conversation_id in sorted(changed):
        conversations.refresh_card(
            session=session, conversation_id=conversation_id, channel=channel
        )
    return effects


def autoclaim(session: Session, *, reply: Reply, user: str, channel: str) -> bool:
    """Claim the conversation for the teammate who replied, if nobody holds it."""
    if reply.conversation_id is None or reply.outcome == "ignored":
        return False
    claimed = desk.claim_if_unclaimed(
        session=session, conversation_id=reply.conversation_id, user=user
    )
    if claimed:
        conversations.add_note(
            session=session,
            conversation_id=reply.conversation_id,
            channel=channel,
            text=f"Claimed by <@{user}> (their reply, with autoclaim on).",
        )
    return claimed
