"""`caretbot serve` in its default mode (workers in a child process), run as an operator
runs it, stopped as an operator stops it: real processes, real signals, against the
Slack and Twilio fakes on loopback.

- kill -9 of `serve` alone ends its worker (a worker without a parent would post beside
  the next server's worker, and texts would be posted twice);
- Ctrl-C (SIGINT to the process group), SIGTERM to `serve`, SIGTERM to the group: all
  processes end within 10 s, a Slack post in flight is kept for the next start, and
  nothing prints a traceback or multiprocessing's "leaked semaphore" warning.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from bot.sandbox.signing import inbound_sms_params, twilio_signature
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage.db import Database
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, SIGNING_SECRET, TEAM_NUMBER
from tests.bot.test_settings import caretbot_script, clean_env, free_port

CANDIDATE = "+15125550143"
STOP_WITHIN_SECONDS = 10


class Serve:
    """One `caretbot serve` process group, its log in a file."""

    def __init__(self, workdir: Path, slack: FakeSlack, twilio: FakeTwilio) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"serve-{self.port}.log"
        self.env = clean_env(workdir) | {
            "DATABASE_URL": f"sqlite:///{workdir / 'caretbot.db'}",
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL_ID": CHANNEL,
            "SLACK_API_URL": slack.api_url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_FROM_NUMBER": TEAM_NUMBER,
            "TWILIO_API_URL": twilio.url,
            "PUBLIC_URL": self.url,
            # A post left in flight by a stop is taken up again once its lease lapses.
            "OUTBOX_LEASE_SECONDS": "3",
        }
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [caretbot_script(), "serve", "--port", str(self.port)],
            cwd=workdir,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a shell job has
        )
        self.worker_pid = self._wait_for_worker()

    def output(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def events(self) -> list[dict[str, Any]]:
        found = []
        for line in self.output().splitlines():
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return found

    def _wait_for_worker(self) -> int:
        deadline = time.monotonic() + 60  # imports are slow on a loaded machine
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"serve exited with {self.process.returncode}:\n{self.output()}")
            started = [e for e in self.events() if e.get("event") == "workers.started"]
            if started:
                return int(started[0]["pid"])
            time.sleep(0.1)
        pytest.fail(f"the workers did not start:\n{self.output()}")

    def text_in(self, body: str) -> httpx.Response:
        params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, body, account_sid=ACCOUNT_SID)
        signature = twilio_signature(AUTH_TOKEN, self.url + "/twilio/sms", params)
        return httpx.post(
            self.url + "/twilio/sms",
            data=params,
            headers={"X-Twilio-Signature": signature},
            timeout=10,
        )

    def group_alive(self) -> list[int]:
        """Pids still running (not zombies) in serve's process group."""
        alive = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            state, pgid = fields[0], int(fields[2])
            if pgid == self.process.pid and state != "Z":
                alive.append(int(entry.name))
        return alive

    def close(self) -> None:
        for pid in self.group_alive():
            os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(5)
        self.log.close()


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate: Any, timeout: float) -> float:
    """Seconds it took for `predicate()` to hold; fails after `timeout`."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(f"not within {timeout} s")
        time.sleep(0.05)
    return time.monotonic() - start


@pytest.fixture
def serves(tmp_path: Path, slack: FakeSlack, twilio: FakeTwilio) -> Iterator[Any]:
    started: list[Serve] = []

    def start() -> Serve:
        serve = Serve(tmp_path, slack, twilio)
        started.append(serve)
        return serve

    yield start
    for serve in started:
        serve.close()


@pytest.fixture
def slow_slack(slack: FakeSlack) -> Iterator[tuple[threading.Event, threading.Event]]:
    """chat.postMessage hangs until released: a post is in flight for as long as a test
    needs. Yields (entered, release)."""
    entered, release = threading.Event(), threading.Event()

    def hang(params: dict[str, Any]) -> dict[str, Any]:
        entered.set()
        release.wait(30)
        return FakeSlack._chat_post_message(slack, params)  # noqa: SLF001

    slack.set_handler("chat.postMessage", hang)
    yield entered, release
    release.set()


def test_kill_9_of_serve_alone_ends_its_worker(serves: Any) -> None:
    serve = serves()
    assert running(serve.worker_pid)

    os.kill(serve.process.pid, signal.SIGKILL)

    took = wait_until(lambda: not running(serve.worker_pid), STOP_WITHIN_SECONDS)
    assert took < STOP_WITHIN_SECONDS
    stopping = [e for e in serve.events() if e.get("event") == "workers.stopping"]
    assert stopping and stopping[0]["reason"] == "parent gone"


def _outbox_states(database_url: str) -> list[str]:
    db = Database(database_url)
    try:
        with db.read() as session:
            return list(session.execute(sa.text("SELECT state FROM outbox ORDER BY id")).scalars())
    finally:
        db.dispose()


STOPS = {
    "Ctrl-C (SIGINT to the process group)": lambda pid: os.killpg(pid, signal.SIGINT),
    "SIGTERM to serve": lambda pid: os.kill(pid, signal.SIGTERM),
    "SIGTERM to the process group": lambda pid: os.killpg(pid, signal.SIGTERM),
}


@pytest.mark.parametrize("how", list(STOPS))
def test_every_way_an_operator_stops_serve_ends_it_and_keeps_the_work_in_flight(
    how: str, serves: Any, slow_slack: tuple[threading.Event, threading.Event], slack: FakeSlack
) -> None:
    entered, release = slow_slack
    serve = serves()
    assert serve.text_in("Hi, is the night shift still open? Ünïcode ✓").status_code == 200
    assert entered.wait(20), "the worker never called chat.postMessage"

    STOPS[how](serve.process.pid)

    took = wait_until(lambda: not serve.group_alive(), STOP_WITHIN_SECONDS)
    assert took < STOP_WITHIN_SECONDS
    output = serve.output()
    assert "leaked semaphore" not in output, output
    assert "Traceback" not in output, output
    assert serve.process.wait(1) is not None
    # The post never finished: the entry waits for the next start, neither lost nor given up.
    assert _outbox_states(serve.env["DATABASE_URL"]) in (["in_flight"], ["pending"])

    if how.startswith("Ctrl-C"):  # one restart shows it is done then (each costs seconds)
        release.set()
        slack.set_handler("chat.postMessage", lambda p: FakeSlack._chat_post_message(slack, p))  # noqa: SLF001
        serves()
        slack.wait_for(
            lambda: any("night shift" in p.text for p in slack.posts(CHANNEL)), timeout=20
        )
        wait_until(lambda: _outbox_states(serve.env["DATABASE_URL"]) == ["done"], 20)
