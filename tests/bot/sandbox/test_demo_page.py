"""The demo's page API over real HTTP: caretbot (bot.server.create_app, as `serve`
runs it) with the page's routes, the stand-ins and their people, on loopback. Each
move goes through the stand-ins' signed requests; bad requests are refused with 400
and change nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.cli.demo import bind
from bot.sandbox.page import demo_app
from bot.sandbox.slack_team import SlackTeam
from bot.sandbox.world import CHANNEL, SAMPLE_LIST, TEAM_NUMBER, Sandbox
from storage.db import Database

CANDIDATE = "+15125550143"
SAM = "U0DEMOSAM"


class Demo:
    def __init__(self, sandbox: Sandbox, http: httpx.Client) -> None:
        self.sandbox = sandbox
        self.http = http

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(f"/demo/api/{path}", json=body)

    def state(self, home: str = "") -> dict[str, Any]:
        response = self.http.get("/demo/api/state", params={"home": home})
        assert response.status_code == 200
        return response.json()

    def until(self, predicate: Any, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate(self.state(SAM))
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"not reached in {timeout}s: {self.state(SAM)}")

    def open_thread(self, body: str = "Hi, is the warehouse job still open?") -> str:
        assert self.post("text", {"number": CANDIDATE, "body": body}).status_code == 200
        return self.until(
            lambda s: next(
                (
                    t["root"]["ts"]
                    for t in s["threads"]
                    if any(body in r["text"] for r in t["replies"])
                ),
                None,
            )
        )


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    sock = bind("127.0.0.1", 0)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sandbox = Sandbox(url, tmp_path).start()
    sandbox.twilio.auto_status_delay = 0.02
    settings = sandbox.settings()
    db = Database(settings.DATABASE_URL)
    db.upgrade()
    server = uvicorn.Server(
        uvicorn.Config(demo_app(sandbox, settings, db), log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    with httpx.Client(base_url=url, timeout=15) as http:
        yield Demo(sandbox, http)
    server.should_exit = True
    thread.join(timeout=10)
    sandbox.stop()
    db.dispose()


def test_the_page_and_its_files_are_served(demo: Demo) -> None:
    page = demo.http.get("/")
    assert page.status_code == 200 and "caretbot demo" in page.text
    assert "demo.js" in page.text
    assert demo.http.get("/demo/static/demo.js").status_code == 200
    picture = demo.http.get("/demo/picture.png")
    assert picture.headers["content-type"] == "image/png" and picture.content[:4] == b"\x89PNG"
    state = demo.state()
    assert state["team_number"] == TEAM_NUMBER and state["channel"] == CHANNEL
    assert demo.http.get("/healthz").json()["status"] == "ok"


def test_a_text_a_reply_delivered_and_a_claim(demo: Demo) -> None:
    body = "Bonjour ! Le poste de nuit est-il encore libre ? 🌙 — Zoë"
    thread_ts = demo.open_thread(body)
    reply = "Yes! Come in Thursday at 10 and ask for “Dana”."
    answer = demo.post("say", {"user": SAM, "text": reply, "thread_ts": thread_ts})
    assert answer.status_code == 200
    demo.until(
        lambda s: any(
            m["body"] == reply and m["status"] == "delivered" for m in s["phones"][CANDIDATE]
        )
    )
    demo.until(
        lambda s: any(
            r["text"] == reply and [x["name"] for x in r["reactions"]] == ["white_check_mark"]
            for t in s["threads"]
            for r in t["replies"]
        )
    )
    # The card's Claim button, clicked through the page: block_actions, signed.
    card = demo.state()["threads"][0]["root"]
    claim = next(
        {**e, "block_id": b["block_id"]}
        for b in card["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "desk.claim"
    )
    assert demo.post("click", {"user": SAM, "ts": thread_ts, "action": claim}).status_code == 200
    demo.until(lambda s: "<@U0DEMOSAM>" in str(s["threads"][0]["root"]["blocks"]))


def test_a_picture_arrives_as_an_image_in_the_thread(demo: Demo) -> None:
    response = demo.post("text", {"number": CANDIDATE, "body": "", "picture": True})
    assert response.status_code == 200
    demo.until(lambda s: "/demo/picture.png" in str(s["threads"]))


def test_armed_failures_show_as_notes_and_retries(demo: Demo) -> None:
    thread_ts = demo.open_thread()
    assert demo.post("fail", {"kind": "twilio-21610"}).status_code == 200
    demo.post("say", {"user": SAM, "text": "Still interested?", "thread_ts": thread_ts})
    demo.until(lambda s: "21610" in str(s["threads"][0]["replies"]))
    assert demo.post("fail", {"kind": "slack-429"}).status_code == 200
    demo.post("text", {"number": CANDIDATE, "body": "Sorry, wrong number earlier"})
    demo.until(lambda s: "Sorry, wrong number earlier" in str(s["threads"]))
    assert demo.sandbox.slack.ratelimited_count == 1


def test_the_sample_loads_once_into_its_list(demo: Demo) -> None:
    first = demo.post("sample", {})
    assert first.status_code == 200 and "created: 50" in first.json()["summary"]
    again = demo.post("sample", {}).json()["summary"]
    assert "created: 0" in again
    state = demo.state()
    assert len(state["sample_numbers"]) == 50
    assert all(n.startswith("+1") and n[5:9] == "5550" for n in state["sample_numbers"])
    assert any(SAMPLE_LIST in line for line in state["notices"])


def test_the_home_tab_is_published_for_the_teammate(demo: Demo) -> None:
    assert demo.post("home", {"user": SAM}).status_code == 200
    demo.until(lambda s: s["home"] and s["home"]["type"] == "home")


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        ("text", {"number": "5125550143", "body": "hi"}, "E.164"),
        ("text", {"number": CANDIDATE, "body": "   "}, "body is required"),
        ("text", {"number": CANDIDATE, "body": "x" * 1601}, "longer than 1600"),
        ("say", {"user": "U0NOBODY", "text": "hi"}, "unknown teammate"),
        ("say", {"user": SAM, "text": 5}, "must be a string"),
        (
            "click",
            {"user": SAM, "ts": "1.000001", "action": {"action_id": "desk.claim"}},
            "no message",
        ),
        ("click", {"user": SAM, "ts": "1.000001", "action": "claim"}, "action_id"),
        ("home-click", {"user": SAM, "action": {"action_id": "home.filter"}}, "no Home tab"),
        ("fail", {"kind": "twilio-99999"}, "unknown failure"),
    ],
)
def test_bad_requests_are_refused_and_change_nothing(
    demo: Demo, path: str, body: dict[str, Any], error: str
) -> None:
    before = demo.state()
    response = demo.post(path, body)
    assert response.status_code == 400 and error in response.json()["error"]
    after = demo.state()
    assert (after["phones"], after["threads"]) == (before["phones"], before["threads"])
    assert demo.sandbox.twilio.messages() == [] and demo.sandbox.slack.posts() == []


def test_a_body_that_is_not_a_json_object_is_refused(demo: Demo) -> None:
    response = demo.http.post("/demo/api/text", content=b"[1, 2]")
    assert response.status_code == 400
    assert demo.http.post("/demo/api/text", content=b"{nope").status_code == 400


def test_the_teams_requests_are_signed_with_the_apps_secret(demo: Demo) -> None:
    forger = SlackTeam(
        demo.sandbox.slack,
        events_url=demo.sandbox.team.events_url,
        signing_secret="0" * 32,
        channel=CHANNEL,
    )
    _ts, answer = forger.say(SAM, "^claim")
    assert answer.status == 401
    _ts, answer = demo.sandbox.team.say(SAM, "Morning, team")
    assert answer.status == 200


def test_the_terminal_runs_caretbot_commands_against_the_demo(demo: Demo) -> None:
    demo.post("sample", {})
    response = demo.post("run", {"command": 'caretbot lists show "Demo sample"'})
    assert response.status_code == 200
    answer = response.json()
    assert answer["exit_status"] == 0 and "50" in answer["output"], answer
    assert answer["argv"] == ["lists", "show", "Demo sample"]


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ("caretbot serve", "runs caretbot"),
        ("caretbot db upgrade", "runs caretbot"),
        ("rm -rf /", "runs caretbot"),
        ("caretbot", "type a caretbot command"),
        ('caretbot lists show "Demo', "cannot read the line"),
    ],
)
def test_the_terminal_refuses_other_commands(demo: Demo, line: str, error: str) -> None:
    response = demo.post("run", {"command": line})
    assert response.status_code == 400 and error in response.json()["error"]


def test_demo_on_a_port_in_use_says_so_and_starts_nothing(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from bot.cli import app

    with bind("127.0.0.1", 0) as taken:
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            app, ["demo", "--port", str(port), "--data", str(tmp_path / "demo")]
        )
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "demo").exists()
