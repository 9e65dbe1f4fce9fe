"""How fast the Slack surface answers: ``python bench/slack_surface.py [--rounds 50]``.

Serves caretbot on SQLite between the Slack and Twilio fakes (as the tests do), with
200 open conversations (half of them waiting), and times over real, signed HTTP:
the ack of `/caretbot help` (answered in the ack), the ack of `/caretbot waiting` and
the arrival of its answer at the response_url, a Claim click's ack and the card's
chat.update, and views.publish after app_home_opened. `/healthz` on the same server is
the baseline. Slack's limit for every ack is 3 seconds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from bot.sandbox.twilio_api import FakeTwilio  # noqa: E402
from storage import conversations, messages  # noqa: E402
from storage.conversations import InboundText  # noqa: E402
from tests.bot.conftest import Bridge  # noqa: E402
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, TEAM_NUMBER, Caretbot  # noqa: E402
from tests.bot.slack.conftest import Surface  # noqa: E402


def ms(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=50)
    rounds = parser.parse_args().rounds
    tmp = Path(tempfile.mkdtemp(prefix="caretbot-bench-"))
    with FakeSlack("xoxb-test-token") as slack:
        twilio = FakeTwilio(ACCOUNT_SID, AUTH_TOKEN)
        twilio.start()
        slack.add_user("U0DANA", real_name="Dana Reyes", tz="America/Chicago")
        slack.set_handler(
            "conversations.members",
            lambda params: {"members": ["U0DANA", "UBOT"], "response_metadata": {}},
        )
        bot = Caretbot(
            database_url=f"sqlite:///{tmp / 'bench.db'}",
            slack_api_url=slack.api_url,
            twilio_api_url=twilio.url,
            HOME_REFRESH_SECONDS=3600,
        ).start()
        with bot.db.write() as session:
            stored = conversations.record_inbound_batch(
                session=session,
                texts=[
                    InboundText(f"SM{n:032d}", f"+1512555{n:04d}", TEAM_NUMBER, "Hi", [])
                    for n in range(1000, 1200)
                ],
                channel=CHANNEL,
            )
            for inbound in stored:
                assert inbound is not None
                messages.set_thread(
                    session=session,
                    conversation_id=inbound.conversation_id,
                    thread_ts=f"1764000000.{inbound.conversation_id:06d}",
                )
        surface = Surface(Bridge(bot, slack, twilio))
        health, help_ack, waiting_ack, waiting_answer, home = [], [], [], [], []
        for _ in range(rounds):
            started = time.monotonic()
            bot.http.get("/healthz")
            health.append(time.monotonic() - started)
            help_ack.append(surface.slash("help")[1])
            started = time.monotonic()
            _, seconds, url = surface.slash("waiting")
            waiting_ack.append(seconds)
            surface.answer(url, timeout=30)
            waiting_answer.append(time.monotonic() - started)
            before = len(surface.publishes("U0DANA"))
            started = time.monotonic()
            surface.open_home()
            slack.wait_for(lambda b=before: len(surface.publishes("U0DANA")) > b, timeout=30)
            home.append(time.monotonic() - started)
        claim_ack, card = [], []
        for _ in range(min(rounds, 20)):
            thread = surface.bridge.open_thread()
            updates = len(slack.calls("chat.update"))
            started = time.monotonic()
            response, _ = surface.click(thread, "desk.claim")
            claim_ack.append(time.monotonic() - started)
            slack.wait_for(lambda u=updates: len(slack.calls("chat.update")) > u, timeout=30)
            card.append(time.monotonic() - started)
            surface.bridge.teammate_says("^unclaim", thread)
        bot.stop()
        twilio.stop()
    print(f"caretbot Slack surface, SQLite, 200 open conversations, {rounds} rounds")
    print(f"  /healthz (baseline)                 {ms(health)}")
    print(f"  /caretbot help: ack with answer      {ms(help_ack)}")
    print(f"  /caretbot waiting: ack               {ms(waiting_ack)}")
    print(f"  /caretbot waiting: answer at URL     {ms(waiting_answer)}")
    print(f"  app_home_opened -> views.publish     {ms(home)}")
    print(f"  Claim click: ack                     {ms(claim_ack)}")
    print(f"  Claim click -> card chat.update      {ms(card)}")


if __name__ == "__main__":
    main()
