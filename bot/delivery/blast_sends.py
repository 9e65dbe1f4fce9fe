"""Blast texts and the blast's Slack message, as outbox work of their own kinds.

The dispatcher's Twilio loop delivers `blast.send` entries with `send_blast_text`:
the same sender bucket as conversation replies (so the pace holds for both), the same
look-up at Twilio before resending a text whose fate a crash left unknown, the same
status callback. Blast texts sort after every other kind when the loop claims work,
and it claims at most one second's worth of them at a time, so a teammate's reply
waits for at most about a second of blast texts.

Each recipient is claimed (state `sending`) before its text goes to Twilio, and its
MessageSid is recorded in the transaction that marks the work done.
"""

from __future__ import annotations

import functools
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import requests
import structlog
from slack_sdk.errors import SlackApiError
from twilio.base.exceptions import TwilioRestException

from bot.delivery.pacing import TokenBucket
from bot.sms import twilio_errors
from grammar.quiet_hours import QuietHours, parse_quiet_hours
from storage import blasts, messages, outbox
from storage.blasts import BLAST_SEND, BLAST_SLACK
from storage.models import utcnow
from storage.outbox import Work

if TYPE_CHECKING:
    from bot.delivery.dispatcher import Dispatcher, Outcome

log = structlog.get_logger(__name__)

TWILIO_KINDS = frozenset({BLAST_SEND})
SLACK_KINDS = frozenset({BLAST_SLACK})
# Claimed after every other kind (storage.outbox.due_heads).
LOW_PRIORITY = frozenset({BLAST_SEND})
# Threads that send blast texts at once (see deliver_concurrently).
SENDERS = 4
# One pool per dispatcher, gone with it.
_pools: weakref.WeakKeyDictionary[Dispatcher, ThreadPoolExecutor] = weakref.WeakKeyDictionary()
# Twilio errors that mean "this number cannot be texted": a failure with its reason.
NOT_TEXTABLE = frozenset({21211, 21614})


def take_few(heads: Sequence[Work], segments_per_second: float) -> list[Work]:
    """All heads of other kinds, and at most about one second's worth of blast texts."""
    room = max(1, int(segments_per_second))
    kept: list[Work] = []
    for work in heads:
        if work.kind in LOW_PRIORITY:
            if room <= 0:
                continue
            room -= 1
        kept.append(work)
    return kept


def take_segments(bucket: TokenBucket, cost: int) -> None:
    """Wait until the sender may send `cost` segments, and take them.

    A text of more segments than the bucket holds goes alone once the bucket is full,
    and leaves it in debt: nothing follows it for its segments' worth of time.
    """
    step = min(float(cost), bucket.burst)
    while not bucket.try_take(step):
        time.sleep(min(1.0, max(0.001, bucket.wait_time(step))))
    if cost > step:
        bucket.pause((cost - step) / bucket.rate)


def blast_name(db: Any, candidate_id: int | None) -> str | None:
    """The blast last texted to this candidate, for their card (None if none)."""
    if candidate_id is None:
        return None
    with db.read() as session:
        return blasts.blast_name_for(session=session, candidate_id=candidate_id)


def deliver_concurrently(dispatcher: Dispatcher, works: Sequence[Work]) -> int:
    """Deliver claimed blast texts on SENDERS threads; the number done or tried.

    One text at a time cannot keep up with a fast sender: each costs a few database
    writes and a round trip to Twilio. The sender's bucket (shared, locked) still paces
    them, and each is claimed and recorded on its own as before. Work not started when
    the dispatcher stops is given back.
    """
    pool = _pools.get(dispatcher)
    if pool is None:
        pool = _pools[dispatcher] = ThreadPoolExecutor(
            max_workers=SENDERS, thread_name_prefix="blast-send"
        )

    def one(work: Work) -> bool:
        if dispatcher.stopping.is_set():
            return False
        dispatcher.deliver(replace(work, attempts=work.attempts + 1))
        return True

    done = list(pool.map(one, works))
    left = [work.id for work, went in zip(works, done, strict=True) if not went]
    if left:
        with dispatcher.db.write() as session:
            outbox.release(session=session, entry_ids=left)
    return len(works) - len(left)


def handlers(dispatcher: Dispatcher) -> dict[str, Any]:
    """The dispatcher's handlers for the blast kinds."""
    return {
        BLAST_SEND: lambda work: send_blast_text(dispatcher, work),
        BLAST_SLACK: lambda work: post_blast_message(dispatcher, work),
    }


def send_blast_text(dispatcher: Dispatcher, work: Work) -> Outcome:
    """Text one blast recipient (see the module docstring)."""
    from bot.delivery.dispatcher import DONE, LookupFailed, Outcome, backoff

    db = dispatcher.db
    recipient_id = work.payload["recipient_id"]
    # One transaction reads the recipient and claims it (state `sending`) before the
    # text goes to Twilio, or sets it aside (canceled, paused, opted out, quiet hours).
    aside: dict[str, Any] | None = None
    with db.write() as session:
        view = blasts.send_view(session=session, recipient_id=recipient_id)
        if view is None:
            return Outcome("failed", error="blast recipient not found")
        if view.state not in ("queued", "sending"):
            return DONE  # done before a crash, or canceled
        claimed_now = view.state == "queued"
        if claimed_now:
            aside = _set_aside(dispatcher, view)
            if aside is not None:
                blasts.set_aside(session=session, view=view, **aside)
            else:
                blasts.mark_sending(session=session, view=view)
    if aside is not None:
        log.info("blast.set_aside", recipient=recipient_id, state=aside["state"])
        return DONE
    if not claimed_now:
        # Claimed before a crash or a timeout: Twilio may have it already.
        try:
            found = dispatcher._find_sent(
                view.body, view.phone, view.team_number, view.message_created_at
            )
        except LookupFailed as error:
            return _retry_or_give_up(
                dispatcher, work, view, f"look-up failed: {error}", backoff(work.attempts)
            )
        if found is not None:
            log.info("blast.found_after_restart", recipient=recipient_id, sid=found.sid)
            return _sent(view, found)
        if view.blast_status == "canceled":
            with db.write() as session:
                blasts.set_aside(session=session, view=view, state="canceled")
            return DONE
    take_segments(dispatcher.twilio_pacer.bucket(work.pace_key), max(1, view.segments))
    try:
        sent = dispatcher.twilio.messages.create(
            **dispatcher._send_args(view.body, view.phone, view.team_number)
        )
    except TwilioRestException as error:
        return _refused(dispatcher, work, view, error)
    except (OSError, requests.RequestException) as error:
        return _retry_or_give_up(
            dispatcher, work, view, f"twilio unreachable: {error!r}", backoff(work.attempts)
        )
    log.info("blast.sent", blast=view.blast_id, recipient=recipient_id, sid=sent.sid)
    return _sent(view, sent)


@functools.lru_cache(maxsize=4)
def _quiet_hours(text: str) -> QuietHours:
    return parse_quiet_hours(text)


def _set_aside(dispatcher: Dispatcher, view: blasts.SendView) -> dict[str, Any] | None:
    """Why a queued recipient is not texted now (and what becomes of it), or None."""
    if view.blast_status == "canceled":
        return {"state": "canceled"}
    if view.blast_status == "paused":
        return {"state": "pending"}
    if view.opted_out:
        return {"state": "skipped", "skip_reason": "opted_out"}
    settings = dispatcher.settings
    opens = _quiet_hours(settings.QUIET_HOURS).opens_at(
        utcnow(), view.timezone or settings.DEFAULT_TIMEZONE
    )
    return None if opens is None else {"state": "pending", "hold_until": opens}


def _sent(view: blasts.SendView, sent: Any) -> Outcome:
    from bot.delivery.dispatcher import Outcome

    segments = int(sent.num_segments) if sent.num_segments else None
    now = utcnow()
    return Outcome(
        "done",
        record=lambda session: blasts.record_sent(
            session=session,
            view=view,
            sid=sent.sid,
            status=sent.status or "queued",
            segments=segments,
            now=now,
        ),
    )


def _retry_or_give_up(
    dispatcher: Dispatcher, work: Work, view: blasts.SendView, error: str, delay: float
) -> Outcome:
    from bot.delivery.dispatcher import Outcome

    if work.attempts < dispatcher.settings.OUTBOX_MAX_ATTEMPTS:
        return Outcome("retry", error=error, delay=delay)
    # Given up: the recipient is a failure, so the blast can finish.
    return Outcome(
        "failed",
        error=f"gave up after {work.attempts} attempts: {error}",
        record=lambda session: blasts.record_failed(session=session, view=view, error_code=None),
    )


def _refused(
    dispatcher: Dispatcher, work: Work, view: blasts.SendView, error: TwilioRestException
) -> Outcome:
    from bot.delivery.dispatcher import DONE, backoff

    code = error.code if isinstance(error.code, int) else None
    if error.status == 429 or error.status >= 500 or code in twilio_errors.RETRYABLE:
        retry_after = getattr(dispatcher.twilio.http_client, "retry_after", None)
        if error.status == 429:
            # The whole sender waits, not just this text.
            dispatcher.twilio_pacer.bucket(work.pace_key).pause(float(retry_after or 1.0))
        return _retry_or_give_up(
            dispatcher,
            work,
            view,
            f"twilio {error.status} {code}",
            retry_after if retry_after is not None else backoff(work.attempts),
        )
    with dispatcher.db.write() as session:
        blasts.record_failed(session=session, view=view, error_code=code)
        if code == twilio_errors.OPTED_OUT:
            messages.opt_out(
                session=session,
                candidate_id=view.candidate_id,
                source="carrier",
                reason="Twilio error 21610",
            )
    log.warning("blast.refused", blast=view.blast_id, recipient=view.recipient_id, code=code)
    return DONE


def post_blast_message(dispatcher: Dispatcher, work: Work) -> Outcome:
    """Post or update the blast's message in SLACK_CHANNEL_ID, or post a notice."""
    from bot.blast_report import describe
    from bot.delivery.blast_rules import blast_rules
    from bot.delivery.dispatcher import DONE, Outcome

    blast_id = work.payload["blast_id"]
    with dispatcher.db.read() as session:
        blast = blasts.get_blast(session=session, blast_id=blast_id)
        figures = blasts.report(
            session=session, blast=blast, rules=blast_rules(dispatcher.settings), now=utcnow()
        )
    channel = blast.slack_channel or dispatcher.settings.SLACK_CHANNEL_ID or ""
    notice = work.payload.get("notice")
    zone = blast.timezone or dispatcher.settings.DEFAULT_TIMEZONE
    lines = describe(blast, figures, zone)
    text = ":mega: " + "\n".join(line for line in lines if not line.startswith("  "))
    try:
        if notice:
            dispatcher._slack_call(
                dispatcher.slack.chat_postMessage,
                work.pace_key,
                channel=channel,
                text=f":warning: {notice}",
                thread_ts=blast.slack_ts,
                reply_broadcast=blast.slack_ts is not None,
            )
            return DONE
        if blast.slack_ts:
            dispatcher._slack_call(
                dispatcher.slack.chat_update,
                work.pace_key,
                channel=channel,
                ts=blast.slack_ts,
                text=text,
            )
            return DONE
        response = dispatcher._slack_call(
            dispatcher.slack.chat_postMessage,
            work.pace_key,
            channel=channel,
            text=text,
            unfurl_links=False,
        )
    except (SlackApiError, OSError, requests.RequestException) as error:
        return dispatcher._slack_outcome(work, error)
    ts = response["ts"]
    return Outcome(
        "done",
        record=lambda session: blasts.set_slack_ts(
            session=session, blast_id=blast_id, channel=channel, ts=ts
        ),
    )
