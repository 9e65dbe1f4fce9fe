"""The outbox dispatcher: delivers stored work to Slack and Twilio, paced and retried.

Two loops run in threads, one for Slack work and one for Twilio work, so a slow
platform never holds up the other (bot/delivery/loops.py). Each takes the head of every
lane that is due and whose rate bucket allows it, claims it with a lease, calls the
platform on a small pool, and records the outcome here: done, retry later (5xx, network
errors, 429 with its Retry-After, until RETRY_BUDGET_HOURS), or failed for good (with a
log line and, for texts, a note in the thread).
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlmodel import Session
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.rest import Client as TwilioClient

from bot import bridge
from bot.delivery import blast_sends, slack_lookup
from bot.delivery.health import PlatformHealth
from bot.delivery.loops import NOT_DONE_STATUSES, Loop, LoopRunner, refused, retry_after_seconds
from bot.delivery.pacing import Pacer
from bot.desk import runner as desk
from bot.settings import Settings
from bot.slack import cards, file_proxy
from bot.sms import twilio_errors
from grammar.segments import count_segments
from storage import conversations, messages, outbox
from storage.db import Database
from storage.models import utcnow
from storage.outbox import Work

log = structlog.get_logger(__name__)

# Slack says these when the trouble is on its side; anything else ok=false is final.
SLACK_TRANSIENT = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
MAX_BACKOFF_SECONDS = 300.0
# A channel or sender that failed is tried again after at most this long, whatever
# each entry's own backoff: once it is back, catch-up starts within this many seconds
# and then runs at the platform's rate (issue 8 asks catch-up within 1.5 times that).
MAX_PROBE_SECONDS = 10.0
# How long a claim holds without renewal; renewed every LEASE_RENEW_SECONDS while the
# dispatcher lives, and taken back by another one only once it has lapsed.
LEASE_SECONDS = 60.0
LEASE_RENEW_SECONDS = 5.0
# Heads of lanes claimed at once; given back if the dispatcher stops before doing them.
CLAIM_BATCH = 50


class LookupFailed(Exception):
    """Slack or Twilio could not say whether an earlier attempt already did the work."""


@dataclass(frozen=True)
class Outcome:
    """How one piece of work went."""

    state: str  # done | retry | failed
    error: str | None = None
    delay: float = 0.0
    # For a retry: the platform is failing (5xx, unreachable), so its channel or sender
    # waits, not only this entry; and whether it surely did not do the work (no look-up
    # is needed before the next try).
    outage: bool = False
    not_done: bool = False
    note: str | None = None  # said in the thread when the work is given up
    # What to store about the result, in the transaction that marks the work done.
    record: Callable[[Session], None] | None = None
    # For a retry: what to store if the retry budget is spent and the work given up.
    on_give_up: Callable[[Session], None] | None = None


DONE = Outcome("done")


def platform_of(kind: str) -> str:
    """The platform an outbox kind's work goes to (slack, twilio), for /healthz."""
    return "twilio" if kind in conversations.TWILIO_KINDS | blast_sends.TWILIO_KINDS else "slack"


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to five minutes."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class Dispatcher(LoopRunner):
    """Delivers the outbox. State: the platform clients and the rate buckets."""

    def __init__(
        self,
        *,
        db: Database,
        settings: Settings,
        slack: WebClient,
        twilio: TwilioClient,
        clock: Callable[[], float] = time.monotonic,
        wake: Any = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.slack = slack
        self.twilio = twilio
        # Set by whoever stores new work (a threading or a multiprocessing Event).
        self.wake = wake if wake is not None else threading.Event()
        self.stopping = threading.Event()
        self.slack_pacer = Pacer(settings.SLACK_POSTS_PER_SECOND, settings.SLACK_POST_BURST, clock)
        # reactions.add is Tier 3: about 50 a minute; so are the look-ups.
        self.reaction_pacer = Pacer(0.8, 5, clock)
        self.lookup_pacer = Pacer(0.8, 5, clock)
        self.twilio_pacer = Pacer(settings.TWILIO_SEGMENTS_PER_SECOND, 1, clock, window=True)
        self._threads: list[threading.Thread] = []
        self._loops: list[Loop] = []
        # Who holds this dispatcher's claims (host, process, instance).
        self.owner = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        lease = settings.OUTBOX_LEASE_SECONDS or LEASE_SECONDS
        self.lease = timedelta(seconds=lease)
        self.lease_renew_seconds = min(LEASE_RENEW_SECONDS, lease / 3)
        self.claim_batch = CLAIM_BATCH
        # Failures in a row per pace key, for the probe's backoff.
        self._failures: dict[str, int] = {}
        self._failures_lock = threading.Lock()
        self.health = PlatformHealth(db)
        self._handlers: dict[str, Callable[[Work], Outcome]] = {
            conversations.POST_INBOUND: self._post_inbound,
            conversations.POST_NOTE: self._post_note,
            conversations.ADD_REACTION: self._add_reaction,
            conversations.UPDATE_CARD: self._update_card,
            conversations.SEND_SMS: self._send_sms,
            **blast_sends.handlers(self),
            conversations.POST_CHANNEL: self._post_channel,
        }

    def deliver(self, work: Work) -> Outcome:
        """Do one claimed entry and record how it went.

        A transient failure spends no try: the entry is retried with backoff until
        RETRY_BUDGET_HOURS after it was stored; only a permanent error, or the budget
        running out, gives it up.
        """
        structlog.contextvars.bind_contextvars(outbox_entry=work.id, kind=work.kind)
        try:
            outcome = self._handlers[work.kind](work)
        except Exception as error:  # a bug must not wedge the lane
            log.exception("outbox.handler_crashed")
            outcome = Outcome("retry", error=repr(error), delay=backoff(work.attempts))
        finally:
            structlog.contextvars.unbind_contextvars("outbox_entry", "kind")
        recovered = False
        if outcome.state == "retry":
            if outcome.outage:
                self._pace_key_failed(work.pace_key)
            if self.out_of_budget(work, outcome.delay):
                outcome = replace(
                    outcome,
                    state="failed",
                    error=f"gave up after retrying for {self.settings.RETRY_BUDGET_HOURS:g} "
                    f"hours ({work.attempts} attempts): {outcome.error}",
                    record=outcome.on_give_up,
                )
        else:
            recovered = self._pace_key_worked(work.pace_key)
        self._record(work, outcome, recovered=recovered)
        self.health.record(platform_of(work.kind), outcome.state == "done", outcome.error)
        return outcome

    def out_of_budget(self, work: Work, delay: float) -> bool:
        """A retry after `delay` seconds would come after RETRY_BUDGET_HOURS from when
        the work was stored: it is given up instead."""
        deadline = work.created_at + timedelta(hours=self.settings.RETRY_BUDGET_HOURS)
        return utcnow() + timedelta(seconds=delay) > deadline

    def _pace_key_failed(self, pace_key: str) -> None:
        """The platform failed for this channel or sender. One failure may be the
        entry's own; from the second in a row on, all of its work is held back (one
        probe at a time), for at most MAX_PROBE_SECONDS."""
        with self._failures_lock:
            failures = self._failures[pace_key] = self._failures.get(pace_key, 0) + 1
        if failures >= 2:
            seconds = min(MAX_PROBE_SECONDS, backoff(failures - 1))
            self._pacer(pace_key).bucket(pace_key).pause(seconds)

    def _pace_key_worked(self, pace_key: str) -> bool:
        """True when the channel or sender had been failing (it is back)."""
        with self._failures_lock:
            return self._failures.pop(pace_key, 0) > 0

    def _record(self, work: Work, outcome: Outcome, *, recovered: bool = False) -> None:
        with self.db.write() as session:
            if outcome.record is not None:
                outcome.record(session)
            if outcome.state == "done":
                outbox.mark_done(session=session, entry_id=work.id)
                if recovered:
                    again = outbox.due_again(session=session, pace_key=work.pace_key)
                    log.info("outbox.recovered", pace_key=work.pace_key, entries=again)
            elif outcome.state == "retry":
                log.info(
                    "outbox.retry",
                    entry=work.id,
                    error=outcome.error,
                    delay=round(outcome.delay, 2),
                )
                outbox.retry_later(
                    session=session,
                    entry_id=work.id,
                    delay=timedelta(seconds=outcome.delay),
                    error=outcome.error or "",
                    maybe_done=not outcome.not_done,
                )
            else:
                log.error("outbox.gave_up", entry=work.id, kind=work.kind, error=outcome.error)
                outbox.mark_failed(session=session, entry_id=work.id, error=outcome.error or "")
                self._note_failure(session, work, outcome)

    def _note_failure(self, session: Any, work: Work, outcome: Outcome) -> None:
        # A note about a note that failed would fail the same way.
        if work.kind == conversations.POST_NOTE:
            return
        message_id = work.payload.get("message_id")
        if message_id is None:
            return
        view = messages.view(session=session, message_id=message_id)
        if view is None:
            return
        if work.kind == conversations.SEND_SMS and view.message.status in ("pending", "sending"):
            messages.record_not_sent(session=session, message_id=message_id, status="failed")
        what = "text to the candidate" if work.kind == conversations.SEND_SMS else "Slack post"
        conversations.add_note(
            session=session,
            conversation_id=view.conversation.id,  # type: ignore[arg-type]
            channel=view.conversation.slack_channel,
            text=outcome.note or f"A {what} could not be delivered: {outcome.error}",
        )

    # Slack work.

    def _slack_call(self, method: Callable[..., Any], pace_key: str, **kwargs: Any) -> Any:
        """Call Slack (the loop has taken this call's tokens); a 429 pauses the channel
        for its Retry-After (Slack's rate limits are per method and channel)."""
        try:
            return method(**kwargs)
        except SlackApiError as error:
            if error.response.status_code == 429:
                self._pacer(pace_key).bucket(pace_key).pause(
                    retry_after_seconds(error.response.headers)
                )
            raise

    def _slack_outcome(self, work: Work, error: Exception) -> Outcome:
        if isinstance(error, SlackApiError):
            status = error.response.status_code
            code = error.response.get("error") if isinstance(error.response.data, dict) else None
            if status == 429:
                return Outcome(
                    "retry",
                    error="slack 429",
                    delay=retry_after_seconds(error.response.headers),
                    not_done=True,
                )
            if status >= 500 or code in SLACK_TRANSIENT:
                return Outcome(
                    "retry",
                    error=f"slack {status} {code}",
                    delay=backoff(work.attempts),
                    outage=True,
                    # A gateway's 502/503/504 never reached Slack's app; a 500 may have.
                    not_done=status in NOT_DONE_STATUSES or status < 500,
                )
            return Outcome("failed", error=f"slack said {code or status}")
        # Refused: Slack never got it. Reset or timed out: it may have posted.
        return Outcome(
            "retry",
            error=f"slack unreachable: {error!r}",
            delay=backoff(work.attempts),
            outage=True,
            not_done=refused(error),
        )

    def _look_up(self, work: Work, channel: str, thread_ts: str | None, part: str) -> str | None:
        """The ts of this entry's `part` if an earlier attempt posted it (see
        slack_lookup); None when it did not, or when no attempt may have."""
        if not work.maybe_done:
            return None
        self.lookup_pacer.bucket(channel).take(1)
        try:
            found = slack_lookup.find_post(
                self.slack,
                channel=channel,
                thread_ts=thread_ts,
                entry_id=work.id,
                part=part,
                since=work.created_at,
            )
        except (SlackApiError, OSError, requests.RequestException) as error:
            raise LookupFailed(repr(error)) from error
        if found is not None:
            log.info("slack.found_after_unknown_outcome", entry=work.id, part=part)
        return found

    def _lookup_failed(self, work: Work, error: LookupFailed) -> Outcome:
        # Posting blind could post twice: wait until Slack can say.
        return Outcome(
            "retry", error=f"look-up failed: {error}", delay=backoff(work.attempts), outage=True
        )

    def _post_inbound(self, work: Work) -> Outcome:
        with self.db.read() as session:
            view = messages.view(session=session, message_id=work.payload["message_id"])
        if view is None:
            return Outcome("failed", error="message not found")
        conversation, candidate = view.conversation, view.candidate
        channel = conversation.slack_channel
        try:
            thread_ts = conversation.slack_thread_ts
            if thread_ts is None:
                thread_ts = self._look_up(work, channel, None, "card")
                if thread_ts is None:
                    card_text, card_blocks = cards.candidate_card(
                        candidate,
                        conversation,
                        blast=blast_sends.blast_name(self.db, candidate.id),
                    )
                    card_blocks = [*card_blocks, cards.card_actions(candidate, conversation)]
                    response = self._slack_call(
                        self.slack.chat_postMessage,
                        work.pace_key,
                        channel=channel,
                        text=card_text,
                        blocks=card_blocks,
                        unfurl_links=False,
                        metadata=slack_lookup.metadata(work.id, "card"),
                    )
                    thread_ts = response["ts"]
                with self.db.write() as session:
                    messages.set_thread(
                        session=session,
                        conversation_id=conversation.id,  # type: ignore[arg-type]
                        thread_ts=thread_ts,
                    )
                log.info("slack.thread_opened", conversation=conversation.id)
            slack_ts = self._look_up(work, channel, thread_ts, "text")
            if slack_ts is None:
                text, blocks = cards.inbound_text(view.message)
                response = self._slack_call(
                    self.slack.chat_postMessage,
                    work.pace_key,
                    channel=channel,
                    thread_ts=thread_ts,
                    text=text,
                    blocks=blocks,
                    username=cards.display_name(candidate),
                    icon_emoji=":iphone:",
                    unfurl_links=False,
                    metadata=slack_lookup.metadata(work.id, "text"),
                )
                slack_ts = response["ts"]
        except LookupFailed as error:
            return self._lookup_failed(work, error)
        except (SlackApiError, OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        log.info("slack.posted", conversation=conversation.id, message=view.message.id)
        message_id = view.message.id
        return Outcome(
            "done",
            record=lambda session: messages.set_slack_ts(
                session=session,
                message_id=message_id,  # type: ignore[arg-type]
                slack_ts=slack_ts,
            ),
        )

    def _post_note(self, work: Work) -> Outcome:
        with self.db.read() as session:
            found = messages.conversation_view(
                session=session, conversation_id=work.payload["conversation_id"]
            )
        if found is None:
            return Outcome("failed", error="conversation not found")
        conversation = found[0]
        if conversation.slack_thread_ts is None:
            return Outcome("failed", error="the conversation has no Slack thread")
        channel, thread_ts = conversation.slack_channel, conversation.slack_thread_ts
        try:
            if self._look_up(work, channel, thread_ts, "note") is None:
                self._slack_call(
                    self.slack.chat_postMessage,
                    work.pace_key,
                    channel=channel,
                    thread_ts=thread_ts,
                    text=cards.note(work.payload["text"]),
                    unfurl_links=False,
                    metadata=slack_lookup.metadata(work.id, "note"),
                )
        except LookupFailed as error:
            return self._lookup_failed(work, error)
        except (SlackApiError, OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        return DONE

    def _post_channel(self, work: Work) -> Outcome:
        try:
            self._slack_call(
                self.slack.chat_postMessage,
                work.pace_key,
                channel=work.payload["channel"],
                text=work.payload["text"],
                unfurl_links=False,
            )
        except (SlackApiError, OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        return DONE

    def _update_card(self, work: Work) -> Outcome:
        update = desk.card_update(self.db, work.payload["conversation_id"])
        if update is None:
            return DONE  # no thread yet: the card will be posted with the current state
        try:
            self._slack_call(self.slack.chat_update, work.pace_key, **update)
        except (SlackApiError, OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        return DONE

    def _add_reaction(self, work: Work) -> Outcome:
        try:
            self._slack_call(
                self.slack.reactions_add,
                work.pace_key,
                channel=work.payload["channel"],
                timestamp=work.payload["ts"],
                name=work.payload["name"],
            )
        except SlackApiError as error:
            if error.response.get("error") == "already_reacted":
                return DONE
            return self._slack_outcome(work, error)
        except (OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        return DONE

    # Twilio work.

    def _send_sms(self, work: Work) -> Outcome:
        message_id = work.payload["message_id"]
        with self.db.read() as session:
            view = messages.view(session=session, message_id=message_id)
        if view is None:
            return Outcome("failed", error="message not found")
        message, conversation, candidate = view.message, view.conversation, view.candidate
        if message.status not in ("pending", "sending"):
            return DONE  # already sent, or blocked, before a crash
        if candidate.opted_out and not work.payload.get("compliance"):
            with self.db.write() as session:
                messages.record_not_sent(session=session, message_id=message_id, status="blocked")
                conversations.add_note(
                    session=session,
                    conversation_id=conversation.id,  # type: ignore[arg-type]
                    channel=conversation.slack_channel,
                    text=f"Not texted: {conversations.opted_out_reason(candidate.opt_out_source)}",
                )
            log.info("sms.blocked_opted_out", conversation=conversation.id, message=message_id)
            return DONE
        if message.status == "sending":
            # An earlier attempt may have reached Twilio before a crash or a timeout.
            try:
                found = self._find_sent(
                    message.body,
                    candidate.phone,
                    conversation.team_number,
                    message.sending_since or message.created_at,
                )
            except LookupFailed as error:
                # Sending blind could text the candidate twice: wait until Twilio answers.
                return Outcome(
                    "retry",
                    error=f"look-up failed: {error}",
                    delay=backoff(work.attempts),
                    outage=True,
                )
            if found is not None:
                self._record_sent(message_id, found)
                log.info("sms.found_after_restart", message=message_id, sid=found.sid)
                return DONE
        segments = count_segments(message.body)
        with self.db.write() as session:
            messages.mark_sending(session=session, message_id=message_id)
        try:
            sent = self.twilio.messages.create(
                **self._send_args(
                    message.body, candidate.phone, conversation.team_number, message.media
                )
            )
        except TwilioRestException as error:
            return self._twilio_failure(work, view, error)
        except (OSError, requests.RequestException) as error:
            return Outcome(
                "retry",
                error=f"twilio unreachable: {error!r}",
                delay=backoff(work.attempts),
                outage=True,
            )
        self._record_sent(message_id, sent)
        log.info(
            "sms.sent",
            conversation=conversation.id,
            message=message_id,
            sid=sent.sid,
            segments=segments,
        )
        return DONE

    def _send_args(
        self, body: str, to: str, team_number: str, media: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"to": to, "body": body}
        if media and self.settings.PUBLIC_URL:
            # Slack files a teammate shared, each at a signed caretbot URL Twilio fetches.
            args["media_url"] = [
                file_proxy.signed_url(
                    public_url=self.settings.PUBLIC_URL,
                    secret=self.settings.media_url_secret,
                    file_id=item["file_id"],
                    name=item.get("name", ""),
                )
                for item in media
            ]
            if not body:
                del args["body"]  # Twilio takes Body or MediaUrl; an image needs no caption
        if team_number:
            args["from_"] = team_number
        if self.settings.TWILIO_MESSAGING_SERVICE_SID:
            args["messaging_service_sid"] = self.settings.TWILIO_MESSAGING_SERVICE_SID
        if self.settings.PUBLIC_URL:
            args["status_callback"] = f"{self.settings.PUBLIC_URL}/twilio/status"
        return args

    def _find_sent(self, body: str, to: str, team_number: str, since: datetime) -> Any:
        """The message an earlier attempt created at Twilio, if one did: same To, From
        and body, created after the first attempt began (`since`, less a second for
        Twilio's whole-second dates and clocks), and not already recorded for another
        of caretbot's texts (the same "Thanks!" twice). The earliest such, else None."""
        try:
            # Newest first; no DateSent filter: a queued message has no date_sent yet.
            listed = self.twilio.messages.list(
                to=to, from_=team_number or None, limit=50, page_size=50
            )
        # A failed list raises the base TwilioException ("Unable to fetch page").
        except (TwilioException, OSError, requests.RequestException) as error:
            raise LookupFailed(repr(error)) from error
        threshold = since.replace(microsecond=0) - timedelta(seconds=1)
        matches = [
            m
            for m in listed
            if m.body == body and m.date_created is not None and m.date_created >= threshold
        ]
        with self.db.read() as session:
            known = messages.recorded_sids(session=session, sids=[m.sid for m in matches])
        fresh = [m for m in matches if m.sid not in known]
        return min(fresh, key=lambda m: m.date_created) if fresh else None

    def _record_sent(self, message_id: int, sent: Any) -> None:
        segments = int(sent.num_segments) if sent.num_segments else None
        with self.db.write() as session:
            early = messages.record_sent(
                session=session,
                message_id=message_id,
                sid=sent.sid,
                status=sent.status or "queued",
                segments=segments,
            )
            for change in early:  # status callbacks that beat the create's answer
                bridge.after_status(session, change, sid=sent.sid)
                log.info("sms.status", message=message_id, status=change.status, early=True)

    def _twilio_failure(
        self, work: Work, view: messages.MessageView, error: TwilioRestException
    ) -> Outcome:
        code = error.code
        if error.status == 429 or error.status >= 500 or code in twilio_errors.RETRYABLE:
            retry_after = getattr(self.twilio.http_client, "retry_after", None)
            if error.status == 429:
                # A sender's limit: everything from this sender waits, not this text only.
                self.twilio_pacer.bucket(work.pace_key).pause(retry_after or 1.0)
            return Outcome(
                "retry",
                error=f"twilio {error.status} {code}",
                delay=retry_after if retry_after is not None else backoff(work.attempts),
                outage=error.status >= 500,
            )
        conversation = view.conversation
        with self.db.write() as session:
            messages.record_not_sent(
                session=session,
                message_id=view.message.id,  # type: ignore[arg-type]
                status="failed",
                error_code=int(code) if isinstance(code, int) else None,
            )
            if code == twilio_errors.OPTED_OUT:
                messages.opt_out(
                    session=session,
                    candidate_id=view.candidate.id,  # type: ignore[arg-type]
                    source="carrier",
                    reason="Twilio error 21610",
                )
            conversations.add_note(
                session=session,
                conversation_id=conversation.id,  # type: ignore[arg-type]
                channel=conversation.slack_channel,
                text=f"Not texted: Twilio error {code} ({twilio_errors.explain(code)}).",
            )
        log.warning("sms.refused", conversation=conversation.id, code=code, status=error.status)
        return DONE
