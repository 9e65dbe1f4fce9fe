"""The background workers of `serve`: the outbox dispatcher and the scheduler.

By default they run in a child process of `serve`, so their Slack and Twilio calls never
hold the web process's GIL while a webhook waits; the web process wakes them through a
shared event when it stores new work. WORKERS_IN_PROCESS=true runs them as threads of
the web process instead (one process to watch; the tests use it).
"""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any, Protocol

import structlog

from bot.delivery.clients import slack_client, twilio_client
from bot.delivery.dispatcher import Dispatcher
from bot.logs import configure_logging
from bot.recruit.jobs import configure_push
from bot.settings import Settings
from scheduler.runner import Scheduler
from storage.db import Database

log = structlog.get_logger(__name__)

STOP_TIMEOUT_SECONDS = 15


class Wake(Protocol):
    def set(self) -> None: ...
    def wait(self, timeout: float | None = None) -> bool: ...
    def clear(self) -> None: ...
    def is_set(self) -> bool: ...


class Workers(Protocol):
    wake: Wake

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
    configure_push(settings, db)
    scheduler = Scheduler(db=db)
    scheduler.start()
    return dispatcher, scheduler


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


def _worker_main(values: dict[str, Any], wake: Wake, stop: Any) -> None:
    """The child process: run the workers until the parent says stop."""
    configure_logging()
    settings = Settings(**values)
    db = Database(settings.DATABASE_URL)
    structlog.contextvars.bind_contextvars(process="workers")
    dispatcher, scheduler = run_workers(settings, db, wake)
    log.info("workers.started")
    stop.wait()
    scheduler.stop()
    dispatcher.stop()
    db.dispose()
    log.info("workers.stopped")


class ProcessWorkers:
    """The workers in a child process of `serve`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._context = multiprocessing.get_context("spawn")
        self.wake: Wake = self._context.Event()
        self._stop = self._context.Event()
        self._process: Any = None

    def start(self) -> None:
        self._process = self._context.Process(
            target=_worker_main,
            args=(self.settings.model_dump(), self.wake, self._stop),
            name="caretbot-workers",
            daemon=True,
        )
        self._process.start()

    def stop(self) -> None:
        if self._process is None:
            return
        self._stop.set()
        self.wake.set()
        self._process.join(STOP_TIMEOUT_SECONDS)
        if self._process.is_alive():
            log.error("workers.did_not_stop")
            self._process.terminate()
        self._process = None

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()


def make_workers(settings: Settings, db: Database) -> Workers:
    """The workers `serve` runs, as the settings ask."""
    if settings.WORKERS_IN_PROCESS:
        return ThreadWorkers(settings, db)
    return ProcessWorkers(settings)
