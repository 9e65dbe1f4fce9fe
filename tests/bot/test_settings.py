"""`caretbot serve` with a missing or malformed setting stops at once with one message
that names the setting (and where to get it), instead of a traceback or a half-started
server. Runs the installed console script with a clean environment."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import bot.cli.main
from bot.settings import Settings, SettingsError, load_settings, where_to_get
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, SIGNING_SECRET, free_socket

SETTING_NAMES = [
    "DATABASE_URL",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_CHANNEL_ID",
    "SLACK_POSTS_PER_SECOND",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM_NUMBER",
    "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_URL",
    "PUBLIC_URL",
    "RUN_WORKERS",
]


def good_settings(tmp: Path) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite:///{tmp / 'caretbot.db'}",
        "SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdef",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CHANNEL_ID": "C0CARETBOT",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": "+15125550100",
        "PUBLIC_URL": "https://caretbot.example.com",
        # Nothing is listening there: serve must not need Slack or Twilio to start.
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "TWILIO_API_URL": "http://127.0.0.1:9",
    }


# (setting, value or None to leave it out, what the message should also say)
CASES: dict[str, tuple[str, str | None, str]] = {
    "SLACK_BOT_TOKEN missing": ("SLACK_BOT_TOKEN", None, "OAuth & Permissions"),
    "SLACK_SIGNING_SECRET missing": ("SLACK_SIGNING_SECRET", None, "Signing Secret"),
    "SLACK_CHANNEL_ID missing": ("SLACK_CHANNEL_ID", None, "Channel ID"),
    "TWILIO_ACCOUNT_SID missing": ("TWILIO_ACCOUNT_SID", None, "Console"),
    "TWILIO_AUTH_TOKEN missing": ("TWILIO_AUTH_TOKEN", None, "Auth Token"),
    "PUBLIC_URL missing": ("PUBLIC_URL", None, "https://"),
    "TWILIO_FROM_NUMBER missing": ("TWILIO_FROM_NUMBER", None, "E.164"),
    "SLACK_BOT_TOKEN a user token": ("SLACK_BOT_TOKEN", "xoxp-1234-5678", "xoxb-"),
    "SLACK_APP_TOKEN not an app token": ("SLACK_APP_TOKEN", "xoxb-oops", "xapp-"),
    "TWILIO_ACCOUNT_SID an API key": ("TWILIO_ACCOUNT_SID", "SK" + "1" * 32, "AC"),
    "TWILIO_FROM_NUMBER not a number": ("TWILIO_FROM_NUMBER", "our main line", "E.164"),
    "PUBLIC_URL without a scheme": ("PUBLIC_URL", "caretbot.example.com", "http"),
    "SLACK_API_URL without a scheme": ("SLACK_API_URL", "slack.com/api", "http"),
    "SLACK_POSTS_PER_SECOND not a number": ("SLACK_POSTS_PER_SECOND", "fast", "SLACK_POSTS"),
    "DATABASE_URL not a URL": ("DATABASE_URL", "caretbot.db", "sqlite:///"),
    # Accepted before issue 7, wrong all the same: refused with what a good one looks like.
    "SLACK_CHANNEL_ID a channel name": ("SLACK_CHANNEL_ID", "#general", "C0123ABCDEF"),
    "SLACK_CHANNEL_ID lower case": ("SLACK_CHANNEL_ID", "general", "Channel ID"),
    "TWILIO_ACCOUNT_SID too short": (
        "TWILIO_ACCOUNT_SID",
        "AC123",
        "AC0123456789abcdef0123456789abcdef",
    ),
    "TWILIO_MESSAGING_SERVICE_SID malformed": (
        "TWILIO_MESSAGING_SERVICE_SID",
        "MGbad",
        "MG0123456789abcdef0123456789abcdef",
    ),
    "RUN_WORKERS not a boolean": ("RUN_WORKERS", "maybe", "true or false"),
    "TWILIO_FROM_NUMBER the old README example": (
        "TWILIO_FROM_NUMBER",
        "+15551234567",
        "+15125550100",
    ),
}
# Run through the installed script in their own processes (each costs a second of
# imports); the others run the same CLI in-process.
SUBPROCESS_CASES = ["SLACK_BOT_TOKEN missing", "DATABASE_URL not a URL"]
# A missing sender may be filled by either setting; the message may offer both.
ALTERNATIVES = {"TWILIO_FROM_NUMBER": {"TWILIO_MESSAGING_SERVICE_SID"}}


def clean_env(home: Path) -> dict[str, str]:
    """No settings inherited from the machine running the tests."""
    return {
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
    }


def free_port() -> int:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    return port


def caretbot_script() -> str:
    found = shutil.which("caretbot", path=str(Path(sys.executable).parent))
    assert found, "the `caretbot` console script is not installed in this environment"
    return found


@dataclass
class Run:
    returncode: int | None
    stderr: str
    stdout: str


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case's `caretbot serve`, started together (each takes a second to import)."""
    script = caretbot_script()
    processes = {}
    for case in SUBPROCESS_CASES:
        name, value, _hint = CASES[case]
        workdir = tmp_path_factory.mktemp("serve")
        env = clean_env(workdir) | good_settings(workdir)
        if value is None:
            env.pop(name)
        else:
            env[name] = value
        port = free_port()
        processes[case] = subprocess.Popen(
            [script, "serve", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for case, process in processes.items():
        try:
            stdout, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()  # it started serving instead of stopping
            stdout, stderr = process.communicate()
            results[case] = Run(None, stderr, stdout)
            continue
        results[case] = Run(process.returncode, stderr, stdout)
    return results


def assert_one_message_naming(name: str, hint: str, stderr: str) -> None:
    assert "Traceback" not in stderr, stderr
    assert name in stderr
    assert hint in stderr
    others = [
        n
        for n in SETTING_NAMES
        if n != name and n not in ALTERNATIVES.get(name, set()) and n in stderr
    ]
    assert not others, f"the message names other settings too: {others}\n{stderr}"
    assert len(stderr.strip().splitlines()) <= 3, stderr


@pytest.mark.parametrize("case", SUBPROCESS_CASES)
def test_bad_setting_stops_the_caretbot_script_with_one_message_naming_it(
    runs: dict[str, Run], case: str
):
    name, _value, hint = CASES[case]
    run = runs[case]

    assert run.returncode not in (None, 0), f"serve did not stop: {run.stderr[-500:]}"
    assert_one_message_naming(name, hint, run.stderr)


class WentPastTheSettings(Exception):
    """serve got as far as setting up logging: the bad setting was not caught."""


@pytest.mark.parametrize("case", [c for c in CASES if c != "DATABASE_URL not a URL"])
def test_bad_setting_stops_serve_with_one_message_naming_it(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """The same CLI in-process, for every case (quicker than a process each)."""
    name, value, hint = CASES[case]
    monkeypatch.chdir(tmp_path)  # no .env file
    for setting in Settings.model_fields:
        monkeypatch.delenv(setting, raising=False)
    env = good_settings(tmp_path)
    if value is None:
        env.pop(name)
    else:
        env[name] = value

    def went_past(**_kwargs: object) -> None:
        raise WentPastTheSettings

    monkeypatch.setattr(bot.cli.main, "configure_logging", went_past)

    result = CliRunner().invoke(bot.cli.main.app, ["serve"], env=env)

    assert not isinstance(result.exception, WentPastTheSettings), "serve did not stop"
    assert result.exit_code == 2
    assert_one_message_naming(name, hint, result.stderr)


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[subprocess.Popen, str]]:
    port = free_port()
    process = subprocess.Popen(
        [caretbot_script(), "serve", "--port", str(port)],
        cwd=tmp_path,
        env=clean_env(tmp_path) | good_settings(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process, f"http://127.0.0.1:{port}"
    process.terminate()
    try:
        process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def test_serve_starts_with_every_setting_given(serving: tuple[subprocess.Popen, str]):
    """The control for the cases above: the same environment, complete, serves."""
    process, url = serving
    for _ in range(200):
        if process.poll() is not None:
            pytest.fail(f"serve exited with {process.returncode}: {process.stderr.read()}")
        try:
            response = httpx.get(url + "/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    else:
        pytest.fail("serve did not answer /healthz within 10 s")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_every_setting_says_where_to_get_it_or_what_it_takes():
    empty = [name for name in Settings.model_fields if not where_to_get(name).strip()]
    assert not empty


# A malformed value of each setting that takes a number or true/false.
MALFORMED = {
    name: "maybe"
    for name, field in Settings.model_fields.items()
    if field.annotation in (bool, int, float)
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_a_malformed_value_is_refused_with_a_non_empty_hint(name: str):
    with pytest.raises(SettingsError) as refused:
        load_settings(**{name: MALFORMED[name]})

    (line,) = str(refused.value).splitlines()
    assert line.startswith(f"{name}: ")
    hint = line.split("Where to get it:", 1)[1].strip()
    assert hint, line
