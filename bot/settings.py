"""caretbot's settings: one class, read from the environment or a .env file.

Each CLI command asks only for what it uses: `Settings` holds everything with the
integration credentials optional, and `require_serve` checks, before `serve` starts,
that Slack and Twilio are configured, naming what is missing and where to get it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
DEFAULT_DATABASE_URL = f"sqlite:///{Path.cwd() / 'caretbot.db'}"

# Where a new user finds each secret; shown when a setting is missing or malformed.
WHERE_TO_GET = {
    "DATABASE_URL": "an SQLAlchemy URL: sqlite:///path/to/caretbot.db or "
    "postgresql+psycopg://user:password@host/dbname",
    "SLACK_BOT_TOKEN": "Slack app settings > OAuth & Permissions > Bot User OAuth Token "
    "(starts with xoxb-)",
    "SLACK_SIGNING_SECRET": "Slack app settings > Basic Information > App Credentials > "
    "Signing Secret",
    "SLACK_APP_TOKEN": "Slack app settings > Basic Information > App-Level Tokens, with "
    "the connections:write scope (starts with xapp-)",
    "SLACK_API_URL": "the base URL of the Slack Web API, ending in /api/ "
    "(default https://slack.com/api/)",
    "SLACK_CHANNEL_ID": "the channel's ID: open the channel in Slack > channel name > "
    "About > Channel ID (starts with C or G)",
    "TWILIO_ACCOUNT_SID": "Twilio Console > Account Info > Account SID (starts with AC)",
    "TWILIO_AUTH_TOKEN": "Twilio Console > Account Info > Auth Token",
    "TWILIO_FROM_NUMBER": "Twilio Console > Phone Numbers > Active Numbers, in E.164 "
    "(+15551234567)",
    "TWILIO_MESSAGING_SERVICE_SID": "Twilio Console > Messaging > Services (starts with MG)",
    "TWILIO_API_URL": "the base URL of the Twilio REST API (default https://api.twilio.com)",
    "MANAGERS": "Slack user ids, comma-separated: a person's profile > ... > Copy member ID",
    "ACTIVE_APPLY": "first (a candidate's first apply stays the active one) or latest",
    "PUBLIC_URL": "the https:// base URL at which Twilio and Slack reach this server, "
    "exactly as configured in their consoles (no trailing slash)",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and where to get it."""


def _prefixed(prefix: str, name: str):  # noqa: ANN202 - returns a validator
    def check(value: str | None) -> str | None:
        if value is not None and not value.startswith(prefix):
            raise ValueError(f"{name} must start with {prefix!r}")
        return value

    return AfterValidator(check)


def _url(value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return value


class Settings(BaseSettings):
    """Everything caretbot reads from its environment."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True
    )

    DATABASE_URL: str = DEFAULT_DATABASE_URL

    SLACK_BOT_TOKEN: Annotated[str | None, _prefixed("xoxb-", "SLACK_BOT_TOKEN")] = None
    SLACK_SIGNING_SECRET: str | None = None
    SLACK_APP_TOKEN: Annotated[str | None, _prefixed("xapp-", "SLACK_APP_TOKEN")] = None
    SLACK_API_URL: Annotated[str, AfterValidator(_url)] = "https://slack.com/api/"
    SLACK_CHANNEL_ID: str | None = None
    # Slack allows about one chat.postMessage a second per channel, with short bursts.
    SLACK_POSTS_PER_SECOND: float = Field(default=1.0, gt=0)
    SLACK_POST_BURST: int = Field(default=3, ge=1)

    TWILIO_ACCOUNT_SID: Annotated[str | None, _prefixed("AC", "TWILIO_ACCOUNT_SID")] = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: Annotated[
        str | None, _prefixed("MG", "TWILIO_MESSAGING_SERVICE_SID")
    ] = None
    TWILIO_API_URL: Annotated[str, AfterValidator(_url)] = "https://api.twilio.com"
    # A sender's rate in message segments per second: about 1 for a 10DLC long code,
    # 3 for toll-free, 100+ for a short code.
    TWILIO_SEGMENTS_PER_SECOND: float = Field(default=1.0, gt=0)

    PUBLIC_URL: Annotated[str | None, AfterValidator(_url)] = None

    # Twilio answers STOP/START/HELP itself by default; caretbot's own replies double them.
    SEND_OPT_OUT_REPLIES: bool = False
    HELP_REPLY: str = "Reply STOP to stop texts from us, START to resume. Msg&data rates may apply."

    # How long a Slack post or a text is retried through transient failures (5xx,
    # timeouts, refused connections, 429s) before it is given up with a note.
    RETRY_BUDGET_HOURS: float = Field(default=24.0, gt=0)

    # The desk (caret commands). Slack user ids allowed to ^unclaim what others hold.
    MANAGERS: Annotated[frozenset[str], NoDecode] = frozenset()
    # A teammate's reply claims an unclaimed conversation.
    AUTOCLAIM: bool = False
    # A text from the candidate cancels the conversation's pending scheduled sends.
    CANCEL_SCHEDULED_ON_REPLY: bool = True
    # How late a scheduled send may still go out after caretbot was down.
    SCHEDULED_GRACE_MINUTES: int = Field(default=15, ge=0)
    # Which of a candidate's applies filters and the recruit push read: the first one
    # (default) or the latest (each new import row or entry takes over).
    ACTIVE_APPLY: Literal["first", "latest"] = "first"
    RUN_WORKERS: bool = True
    # The outbox dispatcher and the scheduler run in a child process of `serve` unless
    # this asks for threads of the web process.
    WORKERS_IN_PROCESS: bool = False

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            backend = make_url(value).get_backend_name()
        except ArgumentError:
            raise ValueError(f"{value!r} is not a database URL") from None
        if backend not in ("sqlite", "postgresql"):
            raise ValueError(f"caretbot runs on SQLite or PostgreSQL, not {backend}")
        return value

    @field_validator("TWILIO_FROM_NUMBER")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as error:
            raise ValueError(f"must be a phone number in E.164 (+15551234567): {error}") from error
        if not phonenumbers.is_valid_number(number):
            raise ValueError("must be a valid phone number in E.164 (+15551234567)")
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("MANAGERS", mode="before")
    @classmethod
    def _user_ids(cls, value: object) -> object:
        if isinstance(value, str):
            ids = [part.strip() for part in value.split(",") if part.strip()]
            bad = [part for part in ids if not _SLACK_USER_ID.match(part)]
            if bad:
                raise ValueError(
                    f"must be Slack user ids separated by commas (U0123ABCD,U0456EFGH), not {bad}"
                )
            return frozenset(ids)
        return value

    @field_validator("PUBLIC_URL")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def socket_mode(self) -> bool:
        """Slack events come over Socket Mode instead of /slack/events."""
        return self.SLACK_APP_TOKEN is not None


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's report into one message per bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        raise SettingsError(_explain(error)) from None


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}. Where to get it: {WHERE_TO_GET.get(name, '')}")
    return "\n".join(lines)


def require_serve(settings: Settings) -> None:
    """Stop `serve` early, naming every setting it needs that is missing."""
    needed = [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_CHANNEL_ID",
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "PUBLIC_URL",
    ]
    missing = [name for name in needed if not getattr(settings, name)]
    if not settings.TWILIO_FROM_NUMBER and not settings.TWILIO_MESSAGING_SERVICE_SID:
        missing.append("TWILIO_FROM_NUMBER")
    if missing:
        raise SettingsError(
            "\n".join(
                f"{name} is not set. Where to get it: {WHERE_TO_GET[name]}" for name in missing
            )
        )
