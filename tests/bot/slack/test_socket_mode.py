"""With SLACK_APP_TOKEN set, Slack's events come over Socket Mode instead of HTTP."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.server import Server, ServerConnection, serve

from bot.sandbox.signing import slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot

APP_TOKEN = "xapp-1-A0CARETBOT-1234-abcdef"


class SocketModeSlack:
    """Slack's side of Socket Mode: a WebSocket server that pushes event envelopes."""

    def __init__(self) -> None:
        self.connections: queue.Queue[ServerConnection] = queue.Queue()
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self.server: Server = serve(self._session, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{self.server.socket.getsockname()[1]}/link"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1}))
        self.connections.put(connection)
        for raw in connection:
            self.acks.put(json.loads(raw))

    def push(self, connection: ServerConnection, envelope_id: str, payload: dict) -> None:
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": "events_api",
                    "accepts_response_payload": False,
                    "retry_attempt": 0,
                    "retry_reason": "",
                    "payload": payload,
                }
            )
        )

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def socket_slack(slack: FakeSlack) -> Iterator[SocketModeSlack]:
    server = SocketModeSlack()
    opened: list[dict[str, Any]] = []

    def connections_open(params: dict[str, Any]) -> dict[str, Any]:
        opened.append(params)
        return {"ok": True, "url": server.url}

    slack.set_handler("apps.connections.open", connections_open)
    yield server
    server.close()


def test_a_teammate_reply_over_socket_mode_is_acknowledged_and_texted(
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
    socket_slack: SocketModeSlack,
) -> None:
    caretbot = make_caretbot(SLACK_APP_TOKEN=APP_TOKEN)
    bridge = Bridge(caretbot, slack, twilio)
    thread_ts = bridge.open_thread()
    connection = socket_slack.connections.get(timeout=10)

    envelope = slack_message_event(
        CHANNEL, TEAMMATE, "Yes! Can you talk at 3?", thread_ts=thread_ts
    )
    socket_slack.push(connection, "env-1", envelope)

    assert socket_slack.acks.get(timeout=10)["envelope_id"] == "env-1"
    sent = bridge.wait_for_texts(1)
    assert sent[0]["body"] == "Yes! Can you talk at 3?"
    assert sent[0]["to"] == CANDIDATE


def test_socket_mode_serves_no_events_endpoint(
    make_caretbot: Callable[..., Caretbot], socket_slack: SocketModeSlack
) -> None:
    caretbot = make_caretbot(SLACK_APP_TOKEN=APP_TOKEN)
    socket_slack.connections.get(timeout=10)
    assert caretbot.slack_post({"type": "url_verification", "challenge": "x"}).status_code == 404
