"""caretbot's settings: one class, read from the environment or a .env file.

Each CLI command asks only for what it uses: `Settings` holds everything with the
integration credentials optional, and `require_serve` checks, before `serve` starts,
that Slack and Twilio are configured, naming what is missing and where to get it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_SLACK_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# A user group's handle, as Slack allows it: lower-case letters, digits, - _ and .
_SLACK_HANDLE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,79}$")
# A public channel's ID starts with C, a private one's with G (older workspaces); then
# upper-case letters and digits (Slack API docs, "Conversations API").
_SLACK_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
# Twilio SIDs: two letters for the kind, then 32 hexadecimal digits (Twilio docs,
# "What is a SID?"): AC an account, MG a Messaging Service.
_TWILIO_SID_HEX = re.compile(r"^[0-9a-fA-F]{32}$")
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
    "SLACK_CHANNEL_ID": "the channel's ID, not its name: open the channel in Slack > "
    "channel name > About > Channel ID (C and upper-case letters and digits, e.g. C0123ABCDEF)",
    "SLACK_POSTS_PER_SECOND": "a number above 0, posts a second to one channel (default 1: "
    "Slack's limit is about one a second per channel)",
    "SLACK_POST_BURST": "a whole number from 1, posts allowed in a quick burst (default 3)",
    "TWILIO_ACCOUNT_SID": "Twilio Console > Account Info > Account SID (AC and 32 hexadecimal "
    "digits, e.g. AC0123456789abcdef0123456789abcdef)",
    "TWILIO_AUTH_TOKEN": "Twilio Console > Account Info > Auth Token",
    "TWILIO_FROM_NUMBER": "Twilio Console > Phone Numbers > Active Numbers, in E.164 "
    "(e.g. +15125550100)",
    "TWILIO_MESSAGING_SERVICE_SID": "Twilio Console > Messaging > Services > the service's "
    "SID (MG and 32 hexadecimal digits, e.g. MG0123456789abcdef0123456789abcdef)",
    "TWILIO_API_URL": "the base URL of the Twilio REST API (default https://api.twilio.com)",
    "TWILIO_SEGMENTS_PER_SECOND": "a number above 0, your sender's rate in segments a second "
    "(Twilio Console > the number's or service's throughput): about 1 for a 10DLC long code, "
    "3 for toll-free, 100 for a short code",
    "SEND_OPT_OUT_REPLIES": "true or false (default false: Twilio answers STOP, START and "
    "HELP itself)",
    "HELP_REPLY": "any text: what caretbot texts back for HELP when SEND_OPT_OUT_REPLIES is true",
    "OUTBOX_MAX_ATTEMPTS": "a whole number from 1 (default 8)",
    "AUTOCLAIM": "true or false (default false)",
    "CANCEL_SCHEDULED_ON_REPLY": "true or false (default true)",
    "SCHEDULED_GRACE_MINUTES": "a whole number of minutes from 0 (default 15)",
    "RUN_WORKERS": "true or false (default true; false serves only the web endpoints)",
    "WORKERS_IN_PROCESS": "true or false (default false: the workers run in a child process)",
    "MANAGERS": "Slack user ids, comma-separated: a person's profile > ... > Copy member ID",
    "MANAGER_GROUP": "a Slack user group's handle, without or with its @: Slack > People "
    "> User groups (e.g. recruiting-leads)",
    "ACTIVE_APPLY": "first (a candidate's first apply stays the active one) or latest",
    "MEDIA_URL_SECRET": "any random string of 32 or more characters, e.g. the output of "
    "python -c 'import secrets; print(secrets.token_hex(32))'",
    "READY_UNREACHABLE_SECONDS": "a whole number of seconds, e.g. 300: how long Slack or "
    "Twilio may fail before /readyz says caretbot is not ready",
    "READY_MAX_BACKLOG_AGE_SECONDS": "a whole number of seconds, e.g. 900: how old the oldest "
    "waiting outbox entry may be before /readyz says caretbot is not ready",
    "DEFAULT_TIMEZONE": "an IANA time zone name, Area/City (America/Chicago, Europe/Paris)",
    "QUIET_HOURS": "two 24-hour clock times, start-end, in the candidate's local time "
    "(21:00-08:00)",
    "PUBLIC_URL": "the https:// base URL at which Twilio and Slack reach this server, "
    "exactly as configured in their consoles (no trailing slash)",
    "ZOHO_CLIENT_ID": "Zoho API Console (api-console.zoho.com, in your data centre) > "
    "Self Client > Client Secret tab > Client ID (starts with 1000.)",
    "ZOHO_CLIENT_SECRET": "Zoho API Console > Self Client > Client Secret tab > Client Secret",
    "ZOHO_REFRESH_TOKEN": "Zoho API Console > Self Client > Generate Code with the scopes "
    "ZohoRecruit.modules.ALL,ZohoSearch.securesearch.READ, then exchange the code once: "
    "POST {accounts}/oauth/v2/token?grant_type=authorization_code&client_id=...&"
    "client_secret=...&code=... and copy refresh_token from the answer",
    "ZOHO_DATA_CENTRE": "where your Zoho account lives, from the address you sign in at: "
    "us (zoho.com), eu (zoho.eu), in (zoho.in), au (zoho.com.au), cn (zoho.com.cn), jp (zoho.jp)",
    "ZOHO_ACCOUNTS_URL": "optional: a base URL replacing the data centre's accounts server "
    "(https://accounts.zoho.eu); caretbot appends /oauth/v2/token",
    "ZOHO_RECRUIT_URL": "optional: a base URL replacing the data centre's Recruit server "
    "(https://recruit.zoho.eu); caretbot appends /recruit/v2/...",
    "PUSH_INTERVAL_MINUTES": "minutes between two runs of the push into Zoho Recruit (default 60)",
}


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it and where to get it."""


def _prefixed(prefix: str, name: str):  # noqa: ANN202 - returns a validator
    def check(value: str | None) -> str | None:
        if value is not None and not value.startswith(prefix):
            raise ValueError(f"{name} must start with {prefix!r}")
        return value

    return AfterValidator(check)


def _sid(prefix: str):  # noqa: ANN202 - returns a validator
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(prefix):
            raise ValueError(f"must start with {prefix!r}")
        if not _TWILIO_SID_HEX.match(value[2:]):
            raise ValueError(
                f"{value!r} is not a SID: {prefix} and 32 hexadecimal digits (34 characters)"
            )
        return value

    return AfterValidator(check)


def _channel_id(value: str | None) -> str | None:
    if value is None:
        return None
    if value.startswith("#") or not _SLACK_CHANNEL_ID.match(value):
        raise ValueError(f"{value!r} is not a channel ID (a channel's name will not do)")
    return value


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
    SLACK_CHANNEL_ID: Annotated[str | None, AfterValidator(_channel_id)] = None
    # Slack allows about one chat.postMessage a second per channel, with short bursts.
    SLACK_POSTS_PER_SECOND: float = Field(default=1.0, gt=0)
    SLACK_POST_BURST: int = Field(default=3, ge=1)

    TWILIO_ACCOUNT_SID: Annotated[str | None, _sid("AC")] = None
    TWILIO_AUTH_TOKEN: str | None = None
    TWILIO_FROM_NUMBER: str | None = None
    TWILIO_MESSAGING_SERVICE_SID: Annotated[str | None, _sid("MG")] = None
    TWILIO_API_URL: Annotated[str, AfterValidator(_url)] = "https://api.twilio.com"
    # A sender's rate in message segments per second: about 1 for a 10DLC long code,
    # 3 for toll-free, 100+ for a short code.
    TWILIO_SEGMENTS_PER_SECOND: float = Field(default=1.0, gt=0)

    PUBLIC_URL: Annotated[str | None, AfterValidator(_url)] = None
    # Signs the short-lived URLs at which Twilio fetches images shared in Slack (MMS).
    MEDIA_URL_SECRET: str | None = Field(default=None, min_length=32)

    # Twilio answers STOP/START/HELP itself by default; caretbot's own replies double them.
    SEND_OPT_OUT_REPLIES: bool = False
    HELP_REPLY: str = "Reply STOP to stop texts from us, START to resume. Msg&data rates may apply."

    OUTBOX_MAX_ATTEMPTS: int = Field(default=8, ge=1)

    # The desk (caret commands). Slack user ids allowed to ^unclaim what others hold.
    MANAGERS: Annotated[frozenset[str], NoDecode] = frozenset()
    # A Slack user group whose members count as managers too (its handle).
    MANAGER_GROUP: str | None = None
    # A teammate's reply claims an unclaimed conversation.
    AUTOCLAIM: bool = False
    # A text from the candidate cancels the conversation's pending scheduled sends.
    CANCEL_SCHEDULED_ON_REPLY: bool = True
    # How late a scheduled send may still go out after caretbot was down.
    SCHEDULED_GRACE_MINUTES: int = Field(default=15, ge=0)
    # Which of a candidate's applies filters and the recruit push read: the first one
    # (default) or the latest (each new import row or entry takes over).
    ACTIVE_APPLY: Literal["first", "latest"] = "first"
    # How often opened App Home tabs are checked for changes (and republished if changed).
    HOME_REFRESH_SECONDS: float = Field(default=15.0, gt=0)
    # /readyz fails when a platform has been failing this long (seconds), or when the
    # oldest waiting outbox entry is older than READY_MAX_BACKLOG_AGE_SECONDS.
    READY_UNREACHABLE_SECONDS: int = Field(default=300, ge=1)
    READY_MAX_BACKLOG_AGE_SECONDS: int = Field(default=900, ge=1)
    RUN_WORKERS: bool = True
    # Blasts. The zone `--at` times are read in, and a candidate's when their phone
    # number and state say nothing better.
    DEFAULT_TIMEZONE: str = "America/Chicago"
    # The estimated price of one SMS segment, for the preview and the report.
    PRICE_PER_SEGMENT: float = Field(default=0.0083, ge=0)
    # Appended to the first text caretbot ever sends a candidate.
    OPT_OUT_LINE: str = "Reply STOP to opt out."
    # No blast text leaves inside these hours of the candidate's local time.
    QUIET_HOURS: str = "21:00-08:00"
    # Rewrite links in blast texts to PUBLIC_URL/l/CODE to count clicks.
    TRACK_LINKS: bool = True
    # A reply this many days after a blast text counts as replying to that blast.
    BLAST_REPLY_WINDOW_DAYS: int = Field(default=7, ge=1)
    # The outbox dispatcher and the scheduler run in a child process of `serve` unless
    # this asks for threads of the web process.
    WORKERS_IN_PROCESS: bool = False

    # The campaign-to-recruit push into Zoho Recruit (a self client's offline access).
    ZOHO_CLIENT_ID: str | None = None
    ZOHO_CLIENT_SECRET: str | None = None
    ZOHO_REFRESH_TOKEN: str | None = None
    ZOHO_DATA_CENTRE: Literal["us", "eu", "in", "au", "cn", "jp"] = "us"
    ZOHO_ACCOUNTS_URL: Annotated[str | None, AfterValidator(_url)] = None
    ZOHO_RECRUIT_URL: Annotated[str | None, AfterValidator(_url)] = None
    PUSH_INTERVAL_MINUTES: int = Field(default=60, ge=1)

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
        try:
            make_url(value).get_dialect().import_dbapi()
        except ImportError:
            # A driver the URL names that is not installed (postgresql+psycopg2://,
            # +asyncpg): caretbot installs psycopg (3) only.
            raise ValueError(
                f"the database driver of {make_url(value).drivername} is not installed; "
                "caretbot's PostgreSQL driver is psycopg (postgresql+psycopg://)"
            ) from None
        return value

    @field_validator("TWILIO_FROM_NUMBER")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            number = phonenumbers.parse(value, None)
        except phonenumbers.NumberParseException as error:
            raise ValueError(f"must be a phone number in E.164 (+15125550100): {error}") from error
        if not phonenumbers.is_valid_number(number):
            raise ValueError(f"{value!r} is not a valid phone number in E.164 (+15125550100)")
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

    @field_validator("MANAGER_GROUP")
    @classmethod
    def _handle(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        handle = value.strip().removeprefix("@")
        if not _SLACK_HANDLE.match(handle):
            raise ValueError(
                f"must be a Slack user group handle such as recruiting-leads, not {value!r}"
            )
        return handle

    @field_validator("DEFAULT_TIMEZONE")
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone name such as America/Chicago") from None
        return value

    @field_validator("QUIET_HOURS")
    def _quiet_hours(cls, value: str) -> str:
        from grammar.quiet_hours import parse_quiet_hours

        parse_quiet_hours(value)
        return value

    @field_validator("ZOHO_DATA_CENTRE", mode="before")
    @classmethod
    def _data_centre(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("PUBLIC_URL")
    @classmethod
    def _no_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @property
    def media_url_secret(self) -> bytes:
        """The key of the signed media URLs (bot.slack.file_proxy): MEDIA_URL_SECRET, or
        one derived from SLACK_SIGNING_SECRET, so every process of one caretbot agrees
        without another setting. Raises SettingsError when neither is set."""
        if self.MEDIA_URL_SECRET:
            return self.MEDIA_URL_SECRET.encode()
        if not self.SLACK_SIGNING_SECRET:
            raise SettingsError(
                "MEDIA_URL_SECRET is not set (nor SLACK_SIGNING_SECRET to derive it from). "
                f"Where to get it: {WHERE_TO_GET['MEDIA_URL_SECRET']}"
            )
        return hmac.new(
            self.SLACK_SIGNING_SECRET.encode(), b"caretbot media URLs", hashlib.sha256
        ).digest()

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
    except UnicodeDecodeError as error:
        raise SettingsError(
            f".env: not UTF-8 text ({error.reason} at byte {error.start}). Save the .env file "
            "in the working directory as UTF-8."
        ) from None


def _explain(error: ValidationError) -> str:
    lines = []
    for problem in error.errors():
        name = str(problem["loc"][0]) if problem["loc"] else "settings"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {message}. Where to get it: {where_to_get(name)}")
    return "\n".join(lines)


def where_to_get(name: str) -> str:
    """Where a setting comes from and what a good value looks like (never empty)."""
    if name in WHERE_TO_GET:
        return WHERE_TO_GET[name]
    field = Settings.model_fields.get(name)
    if field is None:
        return "see the settings table in README.md"
    kinds: dict[object, str] = {bool: "true or false", int: "a whole number", float: "a number"}
    kind = kinds.get(field.annotation, "see the settings table in README.md")
    return f"{kind} (default {field.default})" if field.default is not None else kind


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
                f"{name} is not set. Where to get it: {where_to_get(name)}" for name in missing
            )
        )


def require_push(settings: Settings) -> None:
    """Stop a push into Zoho Recruit early, naming every Zoho setting that is missing."""
    needed = ["ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"]
    missing = [name for name in needed if not getattr(settings, name)]
    if missing:
        raise SettingsError(
            "\n".join(
                f"{name} is not set (the push into Zoho Recruit needs it). "
                f"Where to get it: {WHERE_TO_GET[name]}"
                for name in missing
            )
        )
