"""The background workers of `serve`: the outbox dispatcher and the scheduler.

By default they run in a child process of `serve`, so their Slack and Twilio calls never
hold the web process's GIL while a webhook waits; the web process wakes them through a
pipe when it stores new work, and the same pipe tells the child when `serve` stops or
dies (a worker posting beside a new server's worker would post texts twice). WORKERS_IN_PROCESS=true runs them as threads of
the web process instead (one process to watch; the tests use it).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from multiprocessing.connection import Connection
from typing import Any, Protocol

import structlog

from bot.delivery.blast_rules import blast_rules
from bot.delivery.clients import slack_client, twilio_client
from bot.delivery.dispatcher import Dispatcher
from bot.desk.people import People
from bot.logs import configure_logging
from bot.recruit.jobs import configure_push
from bot.settings import Settings
from bot.slack.home_tabs import HomeRefresher, HomeTabs
from bot.slack.roles import Roles
from scheduler import blasts as scheduled_blasts
from scheduler.runner import Scheduler
from storage.db import Database

log = structlog.get_logger(__name__)

# Whole seconds the parent gives the worker to stop: an operator's stop ends in 10 s.
CHILD_STOP_SECONDS = 7
WAKE_BYTE = b"w"
STOP_BYTE = b"s"
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM}


class Wake(Protocol):
    def set(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...


class Waker(Protocol):
    def set(self) -> None: ...


class Workers(Protocol):
    @property
    def wake(self) -> Waker: ...

    def start(self) -> None: ...
    def stop(self) -> None: ...
    def alive(self) -> bool: ...


def run_workers(settings: Settings, db: Database, wake: Wake) -> tuple[Dispatcher, Scheduler]:
    """Start the dispatcher and the scheduler on this process's threads."""
    dispatcher = Dispatcher(
        db=db,
        settings=settings,
        slack=slack_client(settings),
        twilio=twilio_client(settings),
        wake=wake,
    )
    dispatcher.start()
    scheduled_blasts.configure(
        config=scheduled_blasts.BlastConfig(
            rules=blast_rules(settings),
            team_number=settings.TWILIO_FROM_NUMBER or "",
            channel=settings.SLACK_CHANNEL_ID,
        )
    )
    configure_push(settings, db)
    scheduler = Scheduler(db=db)
    scheduler.start()
    start_home_refresher(settings, db, dispatcher)
    return dispatcher, scheduler


def start_home_refresher(settings: Settings, db: Database, dispatcher: Dispatcher) -> None:
    """Keep opened App Home tabs current, beside the dispatcher and stopping with it."""
    client = dispatcher.slack
    channel = settings.SLACK_CHANNEL_ID or ""
    roles = Roles(settings=settings, client=client, people=People(client, channel))
    tabs = HomeTabs(db=db, client=client, roles=roles, team_channel=channel)
    HomeRefresher(tabs, every=settings.HOME_REFRESH_SECONDS, stopping=dispatcher.stopping).start()


class ThreadWorkers:
    """The workers as threads of the web process."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.settings = settings
        self.db = db
        self.wake: Wake = threading.Event()
        self._running: tuple[Dispatcher, Scheduler] | None = None

    def start(self) -> None:
        self._running = run_workers(self.settings, self.db, self.wake)

    def stop(self) -> None:
        if self._running is not None:
            dispatcher, scheduler = self._running
            scheduler.stop()
            dispatcher.stop()
            self._running = None

    def alive(self) -> bool:
        return self._running is not None


def _worker_main(values: dict[str, Any], lifeline: Connection) -> None:
    """The child process: run the workers until the parent says stop, or dies.

    `lifeline` is the read end of a pipe whose only write end is the parent's: each
    byte is a wake-up, b"s" asks for a stop, and end-of-file means the parent is gone
    (the kernel closes a killed process's pipes), so a worker never outlives `serve`.
    SIGINT is ignored (Ctrl-C reaches the whole process group; the parent decides);
    SIGTERM stops the worker as the parent would.
    """
    stop = threading.Event()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    # The parent blocked these around the spawn so that none arrives mid-import.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    configure_logging()
    structlog.contextvars.bind_contextvars(process="workers")
    wake = threading.Event()
    why: list[str] = []
    watcher = threading.Thread(
        target=_watch_lifeline,
        args=(lifeline.fileno(), wake, stop, why),
        name="workers-lifeline",
        daemon=True,
    )
    watcher.start()
    settings = Settings(**values)
    db = Database(settings.DATABASE_URL)
    dispatcher, scheduler = run_workers(settings, db, wake)
    log.info("workers.started", pid=os.getpid())
    stop.wait()
    log.info("workers.stopping", reason=why[0] if why else "sigterm")
    scheduler.stop()
    # Work still in hand after this is left in flight and taken back at the next start.
    dispatcher.stop(timeout=CHILD_STOP_SECONDS / 2)
    db.dispose()
    log.info("workers.stopped")


def _watch_lifeline(fd: int, wake: threading.Event, stop: threading.Event, why: list[str]) -> None:
    while True:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data or STOP_BYTE in data:
            why.append("stop asked" if data else "parent gone")
            stop.set()
            wake.set()
            return
        wake.set()


class _PipeWake:
    """The parent's side of the wake-up: one byte down the lifeline."""

    def __init__(self) -> None:
        self.fd: int | None = None

    def set(self) -> None:
        if self.fd is None:
            return
        try:
            os.write(self.fd, WAKE_BYTE)
        except BlockingIOError:
            pass  # the pipe is full of wake-ups the worker has not read yet
        except OSError:
            pass  # the worker is gone; alive() says so to /healthz


class ProcessWorkers:
    """The workers in a child process of `serve`, tied to it by a pipe (no semaphores:
    a process killed while holding one would leave the other waiting for ever)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self.wake = _PipeWake()
        self._lifeline: Connection | None = None
        self._process: Any = None

    def start(self) -> None:
        reader, writer = self._context.Pipe(duplex=False)
        os.set_blocking(writer.fileno(), False)
        self._process = self._context.Process(
            target=_worker_main,
            args=(self.settings.model_dump(), reader),
            name="caretbot-workers",
            daemon=True,
        )
        # The child inherits the blocked mask: a Ctrl-C while it imports does not kill it.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
        try:
            self._process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        reader.close()
        self._lifeline = writer
        self.wake.fd = writer.fileno()

    def stop(self) -> None:
        if self._process is None:
            return
        assert self._lifeline is not None
        with contextlib.suppress(OSError):
            os.write(self._lifeline.fileno(), STOP_BYTE)
        self.wake.fd = None
        self._lifeline.close()
        self._process.join(CHILD_STOP_SECONDS)
        if self._process.is_alive():
            # Its claimed work stays in flight and is taken back at the next start.
            log.error("workers.did_not_stop", timeout=CHILD_STOP_SECONDS)
            self._process.kill()
            self._process.join(1)
        self._process = None
        self._lifeline = None

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()


def make_workers(settings: Settings, db: Database) -> Workers:
    """The workers `serve` runs, as the settings ask."""
    if settings.WORKERS_IN_PROCESS:
        return ThreadWorkers(settings, db)
    return ProcessWorkers(settings)
