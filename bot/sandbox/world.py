"""Everything `caretbot demo` runs beside caretbot: the Slack and Twilio stand-ins, the
people who use them (a candidate's phone, teammates in a channel), generated settings,
and the snapshot the demo page shows.

caretbot itself is not touched: it gets settings that point its Slack and Twilio
clients at the stand-ins, and the stand-ins reach it only through its public HTTP
routes (signed /slack/events and /twilio/sms, status callbacks to /twilio/status).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox import terminal
from bot.sandbox.signing import new_sid
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.slack_team import Delivery, SlackTeam
from bot.sandbox.twilio_api import FakeTwilio
from bot.sandbox.zoho_recruit import MODULES, FakeZohoRecruit
from bot.settings import Settings, load_settings

CHANNEL = "C0DEMORECRUIT"
TEAM_NUMBER = "+15125550100"  # 555-0100..0199 are reserved for fiction (NANPA)
SAMPLE_FILE = Path(__file__).with_name("sample_candidates.csv")
SAMPLE_LIST = "Demo sample"
TEAMMATES: dict[str, dict[str, Any]] = {
    "U0DEMODANA": {
        "real_name": "Dana Reyes",
        "tz": "America/Chicago",
        "profile": {"email": "dana@example.com", "display_name": "Dana"},
    },
    "U0DEMOSAM": {
        "real_name": "Sam Okafor",
        "tz": "America/New_York",
        "profile": {"email": "sam@example.com", "display_name": "Sam"},
    },
    "U0DEMOLEE": {
        "real_name": "Lee Müller",
        "tz": "Europe/Berlin",
        "profile": {"email": "lee@example.com", "display_name": "Lee"},
    },
}
MANAGER = "U0DEMODANA"
# What the page's failure switch can arm: (platform, Twilio error code or HTTP status).
FAILURES: dict[str, str] = {
    "twilio-30007": "the next text is accepted, then undelivered (30007, carrier filtering)",
    "twilio-21610": "the next text is refused: the number replied STOP (21610)",
    "slack-429": "Slack answers the next chat.postMessage with 429 and Retry-After: 2",
}


@dataclass
class Secrets:
    """Credentials generated for one demo: caretbot gets them as settings, the
    stand-ins accept and sign with them."""

    slack_bot_token: str = field(default_factory=lambda: "xoxb-demo-" + secrets.token_hex(12))
    slack_signing_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    twilio_account_sid: str = field(default_factory=lambda: "AC" + secrets.token_hex(16))
    twilio_auth_token: str = field(default_factory=lambda: secrets.token_hex(16))
    media_url_secret: str = field(default_factory=lambda: secrets.token_hex(32))
    zoho_client_id: str = field(default_factory=lambda: "1000." + secrets.token_hex(15).upper())
    zoho_client_secret: str = field(default_factory=lambda: secrets.token_hex(21))
    zoho_refresh_token: str = field(
        default_factory=lambda: "1000." + secrets.token_hex(16) + "." + secrets.token_hex(16)
    )


class Sandbox:
    """The Slack workspace, Twilio account and people of one demo, on loopback.

    `public_url` is where caretbot serves (http://127.0.0.1:PORT); `data_dir` holds
    its SQLite database. `start()` starts the stand-ins (free ports), `settings()` gives
    caretbot's settings, `stop()` stops them. Thread-safe.
    """

    def __init__(self, public_url: str, data_dir: Path) -> None:
        self.public_url = public_url.rstrip("/")
        self.data_dir = data_dir
        self.secrets = Secrets()
        self.slack = FakeSlack(self.secrets.slack_bot_token, users=dict(TEAMMATES))
        self.twilio = FakeTwilio(
            self.secrets.twilio_account_sid,
            self.secrets.twilio_auth_token,
            auto_status=["sent", "delivered"],
            auto_status_delay=0.4,
        )
        self.zoho = FakeZohoRecruit(
            client_id=self.secrets.zoho_client_id,
            client_secret=self.secrets.zoho_client_secret,
            refresh_token=self.secrets.zoho_refresh_token,
        )
        self.team = SlackTeam(
            self.slack,
            events_url=self.public_url + "/slack/events",
            signing_secret=self.secrets.slack_signing_secret,
            channel=CHANNEL,
        )
        self.notices: list[str] = []
        self.sample_numbers: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> Sandbox:
        self.slack.start()
        self.twilio.start()
        self.zoho.start()
        return self

    def stop(self) -> None:
        self.zoho.stop()
        self.twilio.stop()
        self.slack.stop()

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.data_dir / 'caretbot.db'}"

    def settings(self, **overrides: object) -> Settings:
        """caretbot's settings for this sandbox (SettingsError if an override is bad).
        Everything an environment or .env might hold for a real deployment is set
        here, so the demo never reaches a real account."""
        values = self.setting_values()
        values.update(overrides)
        return load_settings(**values)

    def environment(self) -> dict[str, str]:
        """The same settings as environment variables, for a `caretbot` command run
        beside the demo (None values left out)."""
        return {
            name: (",".join(sorted(value)) if isinstance(value, frozenset) else str(value))
            for name, value in self.setting_values().items()
            if value is not None
        }

    def setting_values(self) -> dict[str, object]:
        """The generated settings by name (see `settings`)."""
        values: dict[str, object] = {
            "DATABASE_URL": self.database_url,
            "SLACK_BOT_TOKEN": self.secrets.slack_bot_token,
            "SLACK_SIGNING_SECRET": self.secrets.slack_signing_secret,
            "SLACK_APP_TOKEN": None,
            "SLACK_API_URL": self.slack.api_url,
            "SLACK_CHANNEL_ID": CHANNEL,
            "SLACK_POSTS_PER_SECOND": 5.0,
            "SLACK_POST_BURST": 10,
            "TWILIO_ACCOUNT_SID": self.secrets.twilio_account_sid,
            "TWILIO_AUTH_TOKEN": self.secrets.twilio_auth_token,
            "TWILIO_FROM_NUMBER": TEAM_NUMBER,
            "TWILIO_MESSAGING_SERVICE_SID": None,
            "TWILIO_API_URL": self.twilio.url,
            "TWILIO_SEGMENTS_PER_SECOND": 10.0,
            "PUBLIC_URL": self.public_url,
            "MEDIA_URL_SECRET": self.secrets.media_url_secret,
            "MANAGERS": MANAGER,
            "MANAGER_GROUP": None,
            "WORKERS_IN_PROCESS": True,
            "RUN_WORKERS": True,
            # A blast in the demo goes out whatever the hour: one quiet minute at 03:00.
            "QUIET_HOURS": "03:00-03:01",
            "ZOHO_CLIENT_ID": self.secrets.zoho_client_id,
            "ZOHO_CLIENT_SECRET": self.secrets.zoho_client_secret,
            "ZOHO_REFRESH_TOKEN": self.secrets.zoho_refresh_token,
            "ZOHO_ACCOUNTS_URL": self.zoho.url,
            "ZOHO_RECRUIT_URL": self.zoho.url,
        }
        return values

    # ------------------------------------------------------------ the people

    def text_in(self, number: str, body: str, picture_url: str | None = None) -> Delivery:
        """The candidate at `number` texts the team (an SMS, or an MMS with one picture):
        Twilio's signed webhook to caretbot's /twilio/sms. ValueError for a number
        that is not E.164."""
        if not number.startswith("+") or not number[1:].isdigit() or len(number) < 8:
            raise ValueError(f"{number!r} is not a phone number in E.164 form (+15125550143)")
        media = [(picture_url, "image/png")] if picture_url else None
        result = self.twilio.send_inbound_sms(
            self.public_url + "/twilio/sms",
            number,
            body,
            TEAM_NUMBER,
            sid=new_sid("MM" if media else "SM"),
            media=media,
        )
        return Delivery(result.status, result.body)

    def arm_failure(self, kind: str) -> str:
        """Make the next send fail (a key of FAILURES); returns what will happen.
        KeyError for an unknown kind."""
        description = FAILURES[kind]
        if kind == "twilio-30007":
            self.twilio.fail_next(status=201, code=30007)
        elif kind == "twilio-21610":
            self.twilio.fail_next(status=400, code=21610)
        else:
            self.slack.fail_next("chat.postMessage", status=429, retry_after=2)
        self.notice(f"armed: {description}")
        return description

    def notice(self, text: str) -> None:
        """A line for the page's log (what the demo itself did)."""
        with self._lock:
            self.notices.append(text)
            del self.notices[:-20]

    # ------------------------------------------------------------ what the page shows

    def snapshot(self, home_user: str | None = None) -> dict[str, Any]:
        """The page's whole state as JSON-able data: the phones' conversations, the
        channel's threads, ephemeral answers, a teammate's App Home view."""
        phones: dict[str, list[dict[str, Any]]] = {}
        for message in self.twilio.messages():
            inbound = message["direction"] == "inbound"
            number = message["from"] if inbound else message["to"]
            phones.setdefault(number, []).append(
                {
                    "sid": message["sid"],
                    "inbound": inbound,
                    "body": message["body"],
                    "status": message["status"],
                    "error_code": message["error_code"],
                    "segments": message["num_segments"],
                    "media": [m.url for m in self.twilio.media(message["sid"])],
                }
            )
        history = self.slack.history(CHANNEL)
        threads: list[dict[str, Any]] = []
        by_ts: dict[str, dict[str, Any]] = {}
        for message in history:
            root = message.get("thread_ts")
            if root and root != message["ts"] and root in by_ts:
                by_ts[root]["replies"].append(message)
            else:
                entry = {"root": message, "replies": []}
                by_ts[message["ts"]] = entry
                threads.append(entry)
        ephemeral = [
            {
                "user": call.params.get("user"),
                "text": call.params.get("text", ""),
                "thread_ts": call.params.get("thread_ts"),
            }
            for call in self.slack.calls("chat.postEphemeral")
            if call.ok
        ] + [
            {"user": None, "text": r.get("text", ""), "thread_ts": None}
            for r in self.slack.responses()
        ]
        with self._lock:
            notices = list(self.notices)
        return {
            "team_number": TEAM_NUMBER,
            "channel": CHANNEL,
            "teammates": [
                {"id": uid, "name": person["real_name"], "manager": uid == MANAGER}
                for uid, person in TEAMMATES.items()
            ],
            "phones": phones,
            "sample_numbers": list(self.sample_numbers),
            "sample_names": sample_people() if self.sample_numbers else {},
            "threads": threads,
            "ephemeral": ephemeral[-10:],
            "home": self.slack.home(home_user) if home_user else None,
            "recruit": [
                {"module": module, **record}
                for module in MODULES
                for record in self.zoho.records(module)
            ],
            "failures": FAILURES,
            "presets": terminal.presets(),
            "notices": notices,
        }


def sample_phone_numbers(path: Path = SAMPLE_FILE) -> list[str]:
    """The sample file's mobile numbers in E.164 (+1 NXX 555 01xx), in file order."""
    return list(sample_people(path))


def sample_people(path: Path = SAMPLE_FILE) -> dict[str, str]:
    """The sample file's candidates: E.164 mobile number -> name, in file order."""
    import csv

    import phonenumbers

    with path.open(encoding="utf-8", newline="") as fh:
        return {
            phonenumbers.format_number(
                phonenumbers.parse(row["Mobile"], "US"), phonenumbers.PhoneNumberFormat.E164
            ): row["Name"]
            for row in csv.DictReader(fh)
        }
