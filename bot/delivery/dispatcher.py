"""The outbox dispatcher: delivers stored work to Slack and Twilio, paced and retried.

Two loops run in threads, one for Slack work and one for Twilio work, so a slow
platform never holds up the other. Each takes the head of every lane that is due,
claims it, waits for its rate bucket, calls the platform, and records the outcome:
done, retry later (5xx, network errors, 429 with its Retry-After), or failed for good
(with a log line and, for texts, a note in the thread).
"""

from __future__ import annotations

import random
import threading
import time
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

from bot.delivery import blast_sends
from bot.delivery.health import PlatformHealth
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
# Heads of lanes claimed at once; given back if the dispatcher stops before doing them.
CLAIM_BATCH = 50


class LookupFailed(Exception):
    """Twilio could not say whether an earlier attempt already sent a text."""


@dataclass(frozen=True)
class Outcome:
    """How one piece of work went."""

    state: str  # done | retry | failed
    error: str | None = None
    delay: float = 0.0
    note: str | None = None  # said in the thread when the work is given up
    # What to store about the result, in the transaction that marks the work done.
    record: Callable[[Session], None] | None = None


DONE = Outcome("done")


def backoff(attempts: int) -> float:
    """Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to five minutes."""
    return min(MAX_BACKOFF_SECONDS, 2.0 ** max(0, attempts - 1)) * random.uniform(0.8, 1.2)


class Dispatcher:
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
        # reactions.add is Tier 3: about 50 a minute.
        self.reaction_pacer = Pacer(0.8, 5, clock)
        self.twilio_pacer = Pacer(settings.TWILIO_SEGMENTS_PER_SECOND, 1, clock)
        self._threads: list[threading.Thread] = []
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

    # The loops.

    def start(self) -> None:
        """Hand back work a crash left in flight, then run both loops in threads."""
        with self.db.write() as session:
            left = outbox.take_back_in_flight(
                session=session,
                kinds=conversations.SLACK_KINDS
                | conversations.TWILIO_KINDS
                | blast_sends.SLACK_KINDS
                | blast_sends.TWILIO_KINDS,
            )
        for work in left:
            log.warning("outbox.resumed", entry=work.id, kind=work.kind)
        for name, kinds in (
            ("slack", conversations.SLACK_KINDS | blast_sends.SLACK_KINDS),
            ("twilio", conversations.TWILIO_KINDS | blast_sends.TWILIO_KINDS),
        ):
            thread = threading.Thread(
                target=self.run, args=(kinds,), name=f"outbox-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the work in hand and stop."""
        self.stopping.set()
        self.wake.set()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def run(self, kinds: frozenset[str]) -> None:
        """Deliver work of these kinds until stopped."""
        while not self.stopping.is_set():
            try:
                did = self.run_once(kinds)
            except Exception:  # the loop must outlive a database hiccup
                log.exception("outbox.loop_failed")
                did = 0
            if not did:
                self.wake.wait(self._idle_seconds(kinds))
                self.wake.clear()

    def run_once(self, kinds: frozenset[str]) -> int:
        """Do every due head of lane once; the number done or tried."""
        with self.db.write() as session:
            heads = outbox.due_heads(
                session=session,
                kinds=kinds,
                now=utcnow(),
                limit=CLAIM_BATCH,
                low_priority=blast_sends.LOW_PRIORITY,
            )
            heads = blast_sends.take_few(heads, self.settings.TWILIO_SEGMENTS_PER_SECOND)
            claimed = outbox.claim_many(session=session, entry_ids=[work.id for work in heads])
        mine = [work for work in heads if work.id in claimed]
        for index, work in enumerate(mine):
            if self.stopping.is_set():
                with self.db.write() as session:
                    outbox.release(session=session, entry_ids=[w.id for w in mine[index:]])
                return index
            if work.kind in blast_sends.LOW_PRIORITY:
                # The rest are blast texts (they sort last): sent a few at a time.
                return index + blast_sends.deliver_concurrently(self, mine[index:])
            self.deliver(replace(work, attempts=work.attempts + 1))
        return len(mine)

    def _idle_seconds(self, kinds: frozenset[str]) -> float:
        with self.db.read() as session:
            due = outbox.next_due_at(session=session, kinds=kinds)
        if due is None:
            return 1.0
        return min(1.0, max(0.01, (due - utcnow()).total_seconds()))

    def deliver(self, work: Work) -> Outcome:
        """Do one claimed entry and record how it went."""
        structlog.contextvars.bind_contextvars(outbox_entry=work.id, kind=work.kind)
        try:
            outcome = self._handlers[work.kind](work)
        except Exception as error:  # a bug must not wedge the lane
            log.exception("outbox.handler_crashed")
            outcome = Outcome("retry", error=repr(error), delay=backoff(work.attempts))
        finally:
            structlog.contextvars.unbind_contextvars("outbox_entry", "kind")
        if outcome.state == "retry" and work.attempts >= self.settings.OUTBOX_MAX_ATTEMPTS:
            outcome = Outcome(
                "failed",
                error=f"gave up after {work.attempts} attempts: {outcome.error}",
                note=outcome.note,
            )
        self._record(work, outcome)
        self.health.record(work.kind.split(".", 1)[0], outcome.state == "done", outcome.error)
        return outcome

    def _record(self, work: Work, outcome: Outcome) -> None:
        with self.db.write() as session:
            if outcome.record is not None:
                outcome.record(session)
            if outcome.state == "done":
                outbox.mark_done(session=session, entry_id=work.id)
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
        pacer = self.reaction_pacer if pace_key == "slack:reactions" else self.slack_pacer
        bucket = pacer.bucket(pace_key)
        while not bucket.try_take():
            time.sleep(bucket.wait_time())
        try:
            return method(**kwargs)
        except SlackApiError as error:
            retry_after = error.response.headers.get("Retry-After") or error.response.headers.get(
                "retry-after"
            )
            if error.response.status_code == 429 and retry_after:
                bucket.pause(float(retry_after))
            raise

    def _slack_outcome(self, work: Work, error: Exception) -> Outcome:
        if isinstance(error, SlackApiError):
            status = error.response.status_code
            code = error.response.get("error") if isinstance(error.response.data, dict) else None
            if status == 429:
                retry_after = float(error.response.headers.get("Retry-After", 1) or 1)
                return Outcome("retry", error="slack 429", delay=retry_after)
            if status >= 500 or code in SLACK_TRANSIENT:
                return Outcome(
                    "retry", error=f"slack {status} {code}", delay=backoff(work.attempts)
                )
            return Outcome("failed", error=f"slack said {code or status}")
        # Connection refused, reset, timed out: Slack may be back in a moment.
        return Outcome("retry", error=f"slack unreachable: {error!r}", delay=backoff(work.attempts))

    def _post_inbound(self, work: Work) -> Outcome:
        with self.db.read() as session:
            view = messages.view(session=session, message_id=work.payload["message_id"])
        if view is None:
            return Outcome("failed", error="message not found")
        conversation, candidate = view.conversation, view.candidate
        try:
            thread_ts = conversation.slack_thread_ts
            if thread_ts is None:
                card_text, card_blocks = cards.candidate_card(
                    candidate, conversation, blast=blast_sends.blast_name(self.db, candidate.id)
                )
                card_blocks = [*card_blocks, cards.card_actions(candidate, conversation)]
                response = self._slack_call(
                    self.slack.chat_postMessage,
                    work.pace_key,
                    channel=conversation.slack_channel,
                    text=card_text,
                    blocks=card_blocks,
                    unfurl_links=False,
                )
                thread_ts = response["ts"]
                with self.db.write() as session:
                    messages.set_thread(
                        session=session,
                        conversation_id=conversation.id,  # type: ignore[arg-type]
                        thread_ts=thread_ts,
                    )
                log.info("slack.thread_opened", conversation=conversation.id)
            text, blocks = cards.inbound_text(view.message)
            response = self._slack_call(
                self.slack.chat_postMessage,
                work.pace_key,
                channel=conversation.slack_channel,
                thread_ts=thread_ts,
                text=text,
                blocks=blocks,
                username=cards.display_name(candidate),
                icon_emoji=":iphone:",
                unfurl_links=False,
            )
        except (SlackApiError, OSError, requests.RequestException) as error:
            return self._slack_outcome(work, error)
        log.info("slack.posted", conversation=conversation.id, message=view.message.id)
        message_id, slack_ts = view.message.id, response["ts"]
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
        try:
            self._slack_call(
                self.slack.chat_postMessage,
                work.pace_key,
                channel=conversation.slack_channel,
                thread_ts=conversation.slack_thread_ts,
                text=cards.note(work.payload["text"]),
                unfurl_links=False,
            )
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
                    message.body, candidate.phone, conversation.team_number, message.created_at
                )
            except LookupFailed as error:
                # Sending blind could text the candidate twice: wait until Twilio answers.
                return Outcome(
                    "retry", error=f"look-up failed: {error}", delay=backoff(work.attempts)
                )
            if found is not None:
                self._record_sent(message_id, found)
                log.info("sms.found_after_restart", message=message_id, sid=found.sid)
                return DONE
        segments = count_segments(message.body)
        bucket = self.twilio_pacer.bucket(work.pace_key)
        while not bucket.try_take(max(1, segments)):
            time.sleep(min(1.0, bucket.wait_time(max(1, segments))))
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
                "retry", error=f"twilio unreachable: {error!r}", delay=backoff(work.attempts)
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
        try:
            candidates = self.twilio.messages.list(
                to=to,
                from_=team_number or None,
                date_sent_after=since - timedelta(days=1),
                limit=50,
            )
        # A failed list raises the base TwilioException ("Unable to fetch page").
        except (TwilioException, OSError, requests.RequestException) as error:
            raise LookupFailed(repr(error)) from error
        return next((m for m in candidates if m.body == body), None)

    def _record_sent(self, message_id: int, sent: Any) -> None:
        segments = int(sent.num_segments) if sent.num_segments else None
        with self.db.write() as session:
            messages.record_sent(
                session=session,
                message_id=message_id,
                sid=sent.sid,
                status=sent.status or "queued",
                segments=segments,
            )

    def _twilio_failure(
        self, work: Work, view: messages.MessageView, error: TwilioRestException
    ) -> Outcome:
        code = error.code
        if error.status == 429 or error.status >= 500 or code in twilio_errors.RETRYABLE:
            retry_after = getattr(self.twilio.http_client, "retry_after", None)
            return Outcome(
                "retry",
                error=f"twilio {error.status} {code}",
                delay=retry_after if retry_after is not None else backoff(work.attempts),
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
