"""The campaign-to-recruit push: one run, and the recurring APScheduler job.

A run claims the one `running` row (storage.push.runs), settles what an interrupted run
left pending (each looked up in Recruit by email), then for every enabled rule plans
the engaged candidates, records the ignored ones with their reason, and pushes the rest
in upsert calls of at most 100, each call preceded by a committed `pending` entry per
candidate and followed by each item's outcome. Recruit unreachable (429/5xx after the
retries) or an answer that never came stops the run: what was not pushed is planned
again next run, and what may have been pushed is looked up, never sent twice.

After a run that did something, a report goes to the Slack channel through the outbox
(the scheduler never imports bot/). Recruit is reached through scheduler.recruit_port;
bot/ hands in the client.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

import structlog
from apscheduler.schedulers.base import BaseScheduler

from scheduler.recruit_port import (
    MAX_RECORDS_PER_CALL,
    FoundRecord,
    ItemResult,
    Recruit,
    RecruitAuthError,
    RecruitError,
    RecruitOutcomeUnknown,
    RecruitRejected,
    RecruitUnavailable,
)
from storage import conversations
from storage.db import Database
from storage.models import utcnow
from storage.push import runs
from storage.push.plan import NEVER_SENT, NO_ENGAGEMENT, Plan, Planned, plan_rule
from storage.push.rules import RuleView, list_rules

log = structlog.get_logger(__name__)

JOB_ID = "push.run"
# A run that has not touched its heartbeat for this long died elsewhere.
RUN_LEASE = timedelta(minutes=15)
# Recruit's and caretbot's clocks may differ a little: a record created this close
# before the pending entry still counts as created by the interrupted call.
CLOCK_SKEW = timedelta(seconds=5)

T = TypeVar("T")


class PushInProgress(Exception):
    """Another run holds the push; `run` says which, since when, and where."""

    def __init__(self, run: runs.RunInfo) -> None:
        super().__init__(
            f"push run #{run.id} is in progress since {run.started_at:%Y-%m-%d %H:%M:%S} UTC "
            f"({run.holder}); this one did nothing"
        )
        self.run = run


@dataclass
class RuleOutcome:
    """What a run did for one rule."""

    rule: RuleView
    new: int = 0
    updated: int = 0
    readded: int = 0
    failed: int = 0
    ignored: Counter[str] = field(default_factory=Counter)
    never_sent: bool = False
    no_engagement: int = 0
    left: int = 0  # planned but not pushed: the run stopped first

    @property
    def did_something(self) -> bool:
        return bool(self.new or self.updated or self.readded or self.failed or self.ignored)

    def count(self, state: str) -> None:
        """One more candidate in `state` (new, updated, readded, failed)."""
        setattr(self, state, getattr(self, state) + 1)

    def as_dict(self) -> dict[str, Any]:
        """The counts as stored in the run's summary and printed by --json."""
        return {
            "new": self.new,
            "updated": self.updated,
            "readded": self.readded,
            "failed": self.failed,
            "ignored": dict(self.ignored),
            "never_sent": self.never_sent,
            "no_engagement": self.no_engagement,
            "left": self.left,
        }

    def describe(self) -> str:
        """One line: "3 new, 1 updated, 0 re-added, 1 failed, 2 ignored (...)"."""
        if self.never_sent:
            return f"ignored: {NEVER_SENT}"
        ignored = sum(self.ignored.values())
        parts = [
            f"{self.new} new",
            f"{self.updated} updated",
            f"{self.readded} re-added",
            f"{self.failed} failed",
            f"{ignored} ignored"
            + (
                " (" + ", ".join(f"{n} {why}" for why, n in sorted(self.ignored.items())) + ")"
                if ignored
                else ""
            ),
        ]
        if self.no_engagement:
            parts.append(f"{self.no_engagement} texted with {NO_ENGAGEMENT}")
        if self.left:
            parts.append(f"{self.left} left for the next run")
        return ", ".join(parts)


@dataclass
class RunReport:
    """What `run_push` did (or, dry, would do)."""

    run_id: int | None
    state: str  # done | stopped | dry_run | idle
    outcomes: list[RuleOutcome] = field(default_factory=list)
    plans: list[Plan] = field(default_factory=list)
    settled: int = 0  # pending entries of an interrupted run, looked up and settled
    error: str | None = None
    calls: int = 0

    @property
    def did_something(self) -> bool:
        return bool(self.settled) or any(o.did_something for o in self.outcomes)

    def summary(self) -> dict[str, Any]:
        """Per rule id, its counts: what the run row keeps."""
        return {str(o.rule.id): o.as_dict() for o in self.outcomes}


def holder_name() -> str:
    """host:pid:nonce, the `holder` of a run this process starts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def is_stale(run: runs.RunInfo, *, now: datetime | None = None) -> bool:
    """A running run is stale when its process on this host is gone (kill -9), or it
    has been silent longer than RUN_LEASE (its host died)."""
    if (now or utcnow()) - run.heartbeat_at > RUN_LEASE:
        return True
    host, _, rest = run.holder.partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def plan_all(db: Database, *, now: datetime) -> list[Plan]:
    """The plan of every enabled rule (a dry run: nothing is written or sent)."""
    with db.read() as session:
        return [
            plan_rule(session=session, rule=rule, now=now)
            for rule in list_rules(session=session, enabled_only=True)
        ]


def run_push(
    db: Database,
    recruit: Recruit | None,
    *,
    channel: str | None = None,
    dry_run: bool = False,
    holder: str | None = None,
    clock: Callable[[], datetime] = utcnow,
    stale: Callable[[runs.RunInfo], bool] = is_stale,
) -> RunReport:
    """One run of the push. Raises PushInProgress when another run holds it; a Recruit
    that cannot take the records stops the run (state "stopped", `error` says why)."""
    if dry_run:
        plans = plan_all(db, now=clock())
        return RunReport(run_id=None, state="dry_run", plans=plans, outcomes=_outcomes(plans))
    assert recruit is not None
    with db.read() as session:
        enabled = list_rules(session=session, enabled_only=True)
        pending = runs.pending_entries(session=session)
    if not enabled and not pending:
        return RunReport(run_id=None, state="idle")
    with db.write() as session:
        run_id, current = runs.start_run(
            session=session, holder=holder or holder_name(), now=clock(), is_stale=stale
        )
    if run_id is None:
        assert current is not None
        raise PushInProgress(current)
    structlog.contextvars.bind_contextvars(push_run=run_id)
    report = RunReport(run_id=run_id, state="done")
    try:
        _run(db, recruit, report, clock)
    except BaseException as error:
        with db.write() as session:
            runs.finish_run(
                session=session,
                run_id=run_id,
                state="failed",
                summary=report.summary(),
                now=clock(),
                error=repr(error)[:500],
                rule_ids=[o.rule.id for o in report.outcomes],
            )
        log.exception("push.run_failed")
        raise
    finally:
        structlog.contextvars.unbind_contextvars("push_run")
    with db.write() as session:
        runs.finish_run(
            session=session,
            run_id=run_id,
            state=report.state,
            summary=report.summary(),
            now=clock(),
            error=report.error,
            rule_ids=[o.rule.id for o in report.outcomes],
        )
        if channel and report.did_something:
            conversations.post_in_channel(
                session=session, channel=channel, text=report_text(report)
            )
    log.info(
        "push.run_done",
        run=run_id,
        state=report.state,
        settled=report.settled,
        rules=len(report.outcomes),
        pushed=sum(o.new + o.updated + o.readded for o in report.outcomes),
        failed=sum(o.failed for o in report.outcomes),
    )
    return report


class _Stop(Exception):
    """Recruit cannot go on: the run stops, and says why."""


def _run(db: Database, recruit: Recruit, report: RunReport, clock: Callable[[], datetime]) -> None:
    assert report.run_id is not None
    try:
        _settle_pending(db, recruit, report, clock)
    except RecruitError as error:
        report.state, report.error = "stopped", _why(error)
        return
    with db.read() as session:
        rules = list_rules(session=session, enabled_only=True)
    for rule in rules:
        with db.read() as session:
            plan = plan_rule(session=session, rule=rule, now=clock())
        outcome = _outcome_of(plan)
        report.outcomes.append(outcome)
        with db.write() as session:
            runs.record_ignored(
                session=session,
                run_id=report.run_id,
                rule_id=rule.id,
                entries=[(i.candidate_id, i.engaged_at, i.reason) for i in plan.ignored],
                now=clock(),
            )
        batches = list(_chunks(plan.pushes, MAX_RECORDS_PER_CALL))
        for index, batch in enumerate(batches):
            try:
                _push_batch(db, recruit, report.run_id, rule, batch, outcome, clock)
            except RecruitError as error:
                outcome.left = sum(len(b) for b in batches[index:])
                report.state, report.error = "stopped", _why(error)
                log.warning("push.stopped", rule=rule.id, error=report.error)
                return


def _push_batch(
    db: Database,
    recruit: Recruit,
    run_id: int,
    rule: RuleView,
    batch: Sequence[Planned],
    outcome: RuleOutcome,
    clock: Callable[[], datetime],
) -> None:
    with db.write() as session:
        ids = runs.record_pending(
            session=session,
            run_id=run_id,
            rule_id=rule.id,
            entries=[(p.candidate_id, p.engaged_at, p.email) for p in batch],
            now=clock(),
        )
        runs.heartbeat(session=session, run_id=run_id, now=clock())
    try:
        results = recruit.upsert(rule.module, [p.record for p in batch])
    except RecruitOutcomeUnknown:
        raise  # the entries stay pending: the next run looks them up
    except RecruitError:
        # Recruit answered and took nothing (429/5xx after retries, a refused request,
        # OAuth): the candidates are planned again next run.
        with db.write() as session:
            runs.drop_pending(session=session, entry_ids=ids)
        raise
    outcomes = []
    for entry_id, planned, result in zip(ids, batch, results, strict=True):
        state = _state_of(result, planned.readd)
        outcome.count(state)
        outcomes.append(
            {
                "id": entry_id,
                "state": state,
                "recruit_id": result.record_id,
                "error_code": None if result.ok else result.code,
                "error_field": None if result.ok else result.field,
                "reason": None if result.ok else result.message[:300],
            }
        )
    with db.write() as session:
        runs.record_results(session=session, outcomes=outcomes, now=clock())
        runs.heartbeat(session=session, run_id=run_id, now=clock())


def _state_of(result: ItemResult, readd: bool) -> str:
    if not result.ok:
        return "failed"
    if readd:
        return "readded"
    return "updated" if result.action == "update" else "new"


def _settle_pending(
    db: Database, recruit: Recruit, report: RunReport, clock: Callable[[], datetime]
) -> None:
    """Look up each entry an interrupted run left pending: in Recruit, it was pushed
    (New if Recruit created it after the entry was written, else Updated; Re-added
    after an earlier push); not in Recruit, the candidate is planned again."""
    assert report.run_id is not None
    with db.read() as session:
        pending = runs.pending_entries(session=session)
    for entry in pending:
        found: FoundRecord | None = None
        if entry.email:
            found = recruit.find_by_email(entry.module, entry.email)
        settled: dict[str, Any] | None = None
        if found is not None:
            if entry.pushed_before:
                state = "readded"
            elif found.created_time is not None and (
                found.created_time >= entry.created_at - CLOCK_SKEW
            ):
                state = "new"
            else:
                state = "updated"
            settled = {
                "state": state,
                "recruit_id": found.record_id,
                "reason": "found in Recruit after an interrupted run",
            }
        with db.write() as session:
            runs.settle_pending(
                session=session,
                entry_id=entry.id,
                run_id=report.run_id,
                outcome=settled,
                now=clock(),
            )
            runs.heartbeat(session=session, run_id=report.run_id, now=clock())
        report.settled += 1
    if pending:
        log.info("push.settled_pending", entries=len(pending))


def _outcomes(plans: list[Plan]) -> list[RuleOutcome]:
    outcomes = []
    for plan in plans:
        outcome = _outcome_of(plan)
        for planned in plan.pushes:
            outcome.count("readded" if planned.readd else "new")
        outcomes.append(outcome)
    return outcomes


def _outcome_of(plan: Plan) -> RuleOutcome:
    outcome = RuleOutcome(
        rule=plan.rule, never_sent=plan.never_sent, no_engagement=plan.no_engagement
    )
    outcome.ignored.update(ignored.reason for ignored in plan.ignored)
    return outcome


def _why(error: RecruitError) -> str:
    if isinstance(error, RecruitUnavailable):
        return f"Recruit could not take the records ({error}); the rest waits for the next run"
    if isinstance(error, RecruitOutcomeUnknown):
        return f"{error}; the next run looks those records up before pushing again"
    if isinstance(error, RecruitAuthError | RecruitRejected):
        return str(error)
    return repr(error)


def _chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def report_text(report: RunReport) -> str:
    """The Slack report of a run: per rule, its counts (ignored by reason)."""
    head = f"Push to Zoho Recruit, run #{report.run_id}"
    if report.state == "stopped":
        head += f" stopped: {_escape(report.error or '')}"
    lines = [head]
    if report.settled:
        lines.append(f"• {report.settled} left pending by an interrupted run, settled")
    for outcome in report.outcomes:
        rule = outcome.rule
        lines.append(
            f"• #{rule.id} {rule.module}, {rule.engagement}, list {_escape(rule.list_name)}: "
            f"{outcome.describe()}"
        )
    return "\n".join(lines)


# The job.

_db: Database | None = None
_make_recruit: Callable[[], Recruit] | None = None
_channel: str | None = None
_interval_minutes = 60


def configure(
    db: Database,
    *,
    make_recruit: Callable[[], Recruit] | None,
    channel: str | None,
    interval_minutes: int,
) -> None:
    """Give the job its database, a way to reach Recruit (None: no push job), and the
    Slack channel for its reports."""
    global _db, _make_recruit, _channel, _interval_minutes
    _db, _make_recruit, _channel, _interval_minutes = db, make_recruit, channel, interval_minutes


def fire_push() -> None:
    """Interval job: one run of the push (nothing when another run holds it)."""
    assert _db is not None and _make_recruit is not None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job=JOB_ID)
    recruit = _make_recruit()
    try:
        report = run_push(_db, recruit, channel=_channel)
    except PushInProgress as busy:
        log.info("push.in_progress_elsewhere", run=busy.run.id, holder=busy.run.holder)
        return
    finally:
        close = getattr(recruit, "close", None)
        if close is not None:
            close()
    if report.state != "idle":
        log.info("job.done", run=report.run_id, state=report.state)


def start(aps: BaseScheduler) -> None:
    """This process leads: run the push every PUSH_INTERVAL_MINUTES (if configured)."""
    if _make_recruit is None:
        return
    aps.add_job(
        fire_push,
        "interval",
        minutes=_interval_minutes,
        id=JOB_ID,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(60, _interval_minutes * 30),
    )


def stop(aps: BaseScheduler) -> None:
    """This process no longer leads: drop the job."""
    if aps.get_job(JOB_ID):
        aps.remove_job(JOB_ID)
