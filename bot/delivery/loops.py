"""The dispatcher's machinery: a platform's loop and pool, and how a failure is read.

Each platform (Slack, Twilio) has a loop that claims the heads of lanes that are due
and that their channel's or sender's bucket can pay for now (the others wait, holding
up no one), and starts their calls on a small pool, so a slow or stuck call holds one
thread, not the platform. Claims carry the dispatcher's name and a lease it renews.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import timedelta
from typing import Any

import requests
import structlog

from bot.delivery import blast_sends
from bot.delivery.pacing import Pacer
from grammar.segments import count_segments
from storage import blasts, conversations, messages, outbox
from storage.db import Database
from storage.models import utcnow
from storage.outbox import Work

log = structlog.get_logger(__name__)

REACTIONS_PACE_KEY = "slack:reactions"
# Each loop's kinds of work: a conversation's and a blast's.
SLACK_KINDS = conversations.SLACK_KINDS | blast_sends.SLACK_KINDS
TWILIO_KINDS = conversations.TWILIO_KINDS | blast_sends.TWILIO_KINDS

# Calls in progress at once per platform: a hung call holds one, not the platform.
POOL_SIZE = 8


class Loop:
    """One platform's loop: its kinds of work and the pool its calls run on."""

    def __init__(self, name: str, kinds: frozenset[str], size: int = POOL_SIZE) -> None:
        self.name = name
        self.kinds = kinds
        self.size = size
        self.pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=f"outbox-{name}")
        self._busy = 0
        self._lock = threading.Lock()
        # Set by each round: pace keys that must wait, and the soonest a bucket refills.
        self.waiting: list[str] = []
        self.pace_wait: float | None = None
        # Set when there may be work for this loop (new work stored, a call finished).
        self.kick = threading.Event()
        # Pace keys with a call in progress, and how many.
        self.in_progress: dict[str, int] = {}

    def note_wait(self, seconds: float) -> None:
        """A bucket will have what a skipped head needs in `seconds`."""
        self.pace_wait = seconds if self.pace_wait is None else min(self.pace_wait, seconds)

    def free(self) -> int:
        """Calls that can start now."""
        with self._lock:
            return self.size - self._busy

    def busy_with(self, pace_key: str) -> bool:
        """A call for this channel or sender is in progress."""
        with self._lock:
            return self.in_progress.get(pace_key, 0) > 0

    def submit(self, target: Callable[[Work], None], work: Work) -> None:
        """Run `target(work)` on the pool; it counts as busy until it returns, and its
        end kicks the loop."""
        with self._lock:
            self._busy += 1
            self.in_progress[work.pace_key] = self.in_progress.get(work.pace_key, 0) + 1

        def run() -> None:
            try:
                target(work)
            finally:
                with self._lock:
                    self._busy -= 1
                    left = self.in_progress.pop(work.pace_key, 1) - 1
                    if left:
                        self.in_progress[work.pace_key] = left
                self.kick.set()

        self.pool.submit(run)


def retry_after_seconds(headers: Any) -> float:
    """Seconds a 429 asked to wait (Retry-After), 1 when it did not say."""
    value = headers.get("Retry-After") or headers.get("retry-after") if headers else None
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


# A gateway's answer: the request never reached the platform's application.
NOT_DONE_STATUSES = frozenset({502, 503, 504})


def refused(error: BaseException) -> bool:
    """The connection was refused: the request never reached the platform."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | requests.exceptions.ConnectTimeout):
            return True
        if isinstance(current, requests.exceptions.ConnectionError) and "refused" in str(current):
            return True
        reason = getattr(current, "reason", None)
        current = (
            reason
            if isinstance(reason, BaseException)
            else current.__cause__ or current.__context__
        )
    return False


class LoopRunner:
    """The loops of a dispatcher: claim what is due and affordable, run it on the pool,
    renew leases, take back lapsed claims. The dispatcher supplies `deliver`."""

    db: Database
    wake: Any
    stopping: threading.Event
    slack_pacer: Pacer
    reaction_pacer: Pacer
    twilio_pacer: Pacer
    owner: str
    lease: timedelta
    lease_renew_seconds: float
    claim_batch: int
    _threads: list[threading.Thread]
    _loops: list[Loop]

    def deliver(self, work: Work) -> Any:
        raise NotImplementedError

    def start(self) -> None:
        """Hand back work whose claim lapsed (a dead dispatcher's), then run both loops."""
        self._take_back(SLACK_KINDS | TWILIO_KINDS)
        for name, kinds in (("slack", SLACK_KINDS), ("twilio", TWILIO_KINDS)):
            loop = Loop(name, kinds)
            self._loops.append(loop)
            thread = threading.Thread(
                target=self.run, args=(loop,), name=f"outbox-{name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        forward = threading.Thread(target=self._forward_wakes, name="outbox-wake", daemon=True)
        forward.start()
        self._threads.append(forward)

    def _forward_wakes(self) -> None:
        """Pass `wake` (set by whoever stores work, maybe in another process) to every
        loop, so that one loop clearing it never swallows another's wake-up."""
        while not self.stopping.is_set():
            if self.wake.wait(1.0):
                self.wake.clear()
                for loop in self._loops:
                    loop.kick.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the calls in hand (bounded by the clients' timeouts) and stop."""
        self.stopping.set()
        self.wake.set()
        for loop in self._loops:
            loop.kick.set()
        for thread in self._threads:
            thread.join(timeout)
        for loop in self._loops:
            loop.pool.shutdown(wait=True, cancel_futures=True)
        self._threads.clear()
        self._loops.clear()
        # Claimed but never started: back to pending now, not after the lease.
        try:
            with self.db.write() as session:
                outbox.release_owned(session=session, owner=self.owner)
        except Exception:  # the database is gone: the lease runs out instead
            log.exception("outbox.release_failed")

    def _take_back(self, kinds: frozenset[str]) -> None:
        with self.db.write() as session:
            left = outbox.take_back_in_flight(session=session, kinds=kinds)
        for work in left:
            log.warning("outbox.resumed", entry=work.id, kind=work.kind)

    def heartbeat(self, loop: Loop) -> None:
        """Renew this dispatcher's claims and take back lapsed ones (dead workers')."""
        with self.db.write() as session:
            outbox.renew_leases(session=session, owner=self.owner, lease=self.lease)
        self._take_back(loop.kinds)

    def run(self, loop: Loop) -> None:
        """Deliver work of the loop's kinds until stopped."""
        beat = time.monotonic()
        while not self.stopping.is_set():
            try:
                if time.monotonic() - beat >= self.lease_renew_seconds:
                    beat = time.monotonic()
                    self.heartbeat(loop)
                did = self.run_once(loop)
            except Exception:  # the loop must outlive a database hiccup
                log.exception("outbox.loop_failed")
                did = 0
            if not did:
                loop.kick.wait(self._idle_seconds(loop))
                loop.kick.clear()

    def run_once(self, loop: Loop) -> int:
        """Start every due head of lane whose rate allows it now; the number started.

        Heads whose Slack channel or Twilio sender must wait (its bucket is empty, or
        paused by a 429 or an outage) are left pending, untouched, and never hold up
        heads on other channels or senders. Each started entry runs on the loop's pool,
        so one slow call holds up only its own lane. Blast texts come after every other
        kind, at most about a second's worth at a time (blast_sends.take_few), so a
        teammate's reply waits behind about a second of them at most.
        """
        loop.pace_wait = None
        free = loop.free()
        if free <= 0:
            return 0
        waiting = self._waiting_pace_keys(loop)
        loop.waiting = list(waiting)
        for seconds in waiting.values():
            loop.note_wait(seconds)
        with self.db.read() as session:
            heads = outbox.due_heads(
                session=session,
                kinds=loop.kinds,
                now=utcnow(),
                limit=self.claim_batch,
                skip_pace_keys=loop.waiting,
                low_priority=blast_sends.LOW_PRIORITY,
            )
        heads = blast_sends.take_few(heads, self.twilio_pacer.rate)
        paid: list[tuple[Work, float]] = []
        started_keys: set[str] = set()
        for work in heads:
            if len(paid) >= free:
                break
            if loop.name == "slack" and (
                work.pace_key in started_keys or loop.busy_with(work.pace_key)
            ):
                # One call at a time per channel: calls reach Slack spaced as their
                # tokens were taken (Slack allows about one post a second per channel).
                continue
            bucket = self._pacer(work.pace_key).bucket(work.pace_key)
            if bucket.paused_for() > 0:
                loop.note_wait(bucket.paused_for())
                continue
            cost = self._cost(work)
            if bucket.try_take(cost):
                paid.append((work, cost))
                started_keys.add(work.pace_key)
            else:
                loop.note_wait(bucket.wait_time(cost))
        if not paid:
            return 0
        with self.db.write() as session:
            claimed = outbox.claim_many(
                session=session,
                entry_ids=[work.id for work, _ in paid],
                owner=self.owner,
                lease=self.lease,
            )
        started = 0
        for work, cost in paid:
            if work.id not in claimed:
                self._pacer(work.pace_key).bucket(work.pace_key).give_back(cost)
                continue
            loop.submit(self._run_claimed, replace(work, attempts=work.attempts + 1))
            started += 1
        return started

    def _run_claimed(self, work: Work) -> None:
        if self.stopping.is_set():
            with self.db.write() as session:
                outbox.release(session=session, entry_ids=[work.id])
            return
        try:
            self.deliver(work)
        except Exception:  # recording failed (database down): the entry stays in flight
            log.exception("outbox.record_failed", entry=work.id)

    def _pacer(self, pace_key: str) -> Pacer:
        if pace_key == REACTIONS_PACE_KEY:
            return self.reaction_pacer
        if pace_key.startswith("twilio:"):
            return self.twilio_pacer
        return self.slack_pacer

    def _waiting_pace_keys(self, loop: Loop) -> dict[str, float]:
        """Channels or senders that cannot send now, and for how long."""
        pacers = (
            [self.twilio_pacer]
            if loop.name == "twilio"
            else [self.slack_pacer, self.reaction_pacer]
        )
        waiting = {}
        for pacer in pacers:
            for key, bucket in pacer.items():
                if (seconds := bucket.paused_for()) > 0:
                    waiting[key] = seconds
        return waiting

    def _cost(self, work: Work) -> float:
        """Tokens one entry takes from its bucket: a text's segments (Twilio counts a
        sender's rate in segments), the card and the text for a conversation's first
        Slack post, else one call."""
        if work.kind == blasts.BLAST_SEND:
            with self.db.read() as session:
                blast_view = blasts.send_view(
                    session=session, recipient_id=work.payload["recipient_id"]
                )
            return float(max(1, blast_view.segments)) if blast_view else 1.0
        if work.kind == conversations.SEND_SMS:
            with self.db.read() as session:
                view = messages.view(session=session, message_id=work.payload["message_id"])
            return float(max(1, count_segments(view.message.body))) if view else 1.0
        if work.kind == conversations.POST_INBOUND:
            with self.db.read() as session:
                view = messages.view(session=session, message_id=work.payload["message_id"])
            return 2.0 if view is not None and view.conversation.slack_thread_ts is None else 1.0
        return 1.0

    def _idle_seconds(self, loop: Loop) -> float:
        """How long to sleep: until the next entry falls due or a bucket refills (new
        work and finished calls kick the loop sooner)."""
        if loop.free() <= 0:
            return 0.25
        with self.db.read() as session:
            due = outbox.next_due_at(session=session, kinds=loop.kinds, skip_pace_keys=loop.waiting)
        wait = 1.0 if due is None else (due - utcnow()).total_seconds()
        if wait <= 0:
            # Due, but its bucket is short of tokens, or it waits for a call in
            # progress (whose end kicks the loop).
            wait = loop.pace_wait if loop.pace_wait is not None else 0.25
        if loop.pace_wait is not None:
            wait = min(wait, loop.pace_wait)
        return min(1.0, max(0.005, wait))
