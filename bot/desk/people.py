"""Who is who in Slack, for the desk: a person's time zone and name, the team, e-mails.

The team is the members of the conversations channel, minus bots and deactivated
accounts. Answers are cached for a while (people rarely change time zone or channel) so a
command costs no Slack call most of the time; Bolt runs listeners in a thread pool, hence
the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = structlog.get_logger(__name__)

USER_TTL_SECONDS = 3600.0
TEAM_TTL_SECONDS = 300.0
FALLBACK_TZ = "UTC"


class SlackUnavailable(Exception):
    """Slack could not answer a lookup; the message says what could not be checked."""


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    tz: str
    is_bot: bool
    deleted: bool
    handle: str = ""  # the username (users.info `name`)
    display_name: str = ""  # the profile's display name, "" when the person set none


class People:
    """Slack lookups with a cache; `channel` is the team's channel."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.channel = channel
        self.clock = clock
        self._lock = threading.Lock()
        self._people: dict[str, tuple[float, Person | None]] = {}
        self._team: tuple[float, frozenset[str]] | None = None
        self._workspace: tuple[float, list[Person]] | None = None

    def person(self, user_id: str) -> Person | None:
        """users.info; None when Slack knows no such user."""
        now = self.clock()
        with self._lock:
            cached = self._people.get(user_id)
        if cached is not None and now - cached[0] < USER_TTL_SECONDS:
            return cached[1]
        try:
            user = self.client.users_info(user=user_id)["user"]
        except SlackApiError as error:
            if error.response.get("error") == "user_not_found":
                found = None
            else:
                raise SlackUnavailable(
                    f"Slack did not say who {user_id} is: {_said(error)}"
                ) from error
        except (OSError, requests.RequestException) as error:
            raise SlackUnavailable(f"Slack did not answer: {error}") from error
        else:
            found = _person(user)
        with self._lock:
            self._people[user_id] = (now, found)
        return found

    def tz(self, user_id: str) -> str:
        """The person's Slack time zone (IANA name); UTC when it cannot be read."""
        try:
            person = self.person(user_id)
        except SlackUnavailable as error:
            log.warning("desk.tz_unknown", user=user_id, error=str(error))
            return FALLBACK_TZ
        return person.tz if person is not None else FALLBACK_TZ

    def name_in_text(self, user_id: str) -> str | None:
        """How a mention of the person reads in a text to a candidate: their Slack
        display name, else their real name; None when Slack cannot say (the caller then
        keeps the mention's own label)."""
        try:
            person = self.person(user_id)
        except SlackUnavailable as error:
            log.warning("desk.name_unknown", user=user_id, error=str(error))
            return None
        if person is None:
            return None
        return person.display_name or person.name

    def team(self) -> frozenset[str]:
        """Member ids of the team's channel (bots included; `not_on_team` drops them)."""
        now = self.clock()
        with self._lock:
            cached = self._team
        if cached is not None and now - cached[0] < TEAM_TTL_SECONDS:
            return cached[1]
        members: list[str] = []
        cursor = None
        try:
            while True:
                page = self.client.conversations_members(
                    channel=self.channel, cursor=cursor, limit=1000
                )
                members += page.get("members", [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as error:
            raise SlackUnavailable(
                f"could not read the team (<#{self.channel}>): {_said(error)}"
            ) from error
        except (OSError, requests.RequestException) as error:
            raise SlackUnavailable(
                f"could not read the team: Slack did not answer ({error})"
            ) from error
        team = frozenset(members)
        with self._lock:
            self._team = (now, team)
        return team

    def not_on_team(self, user_ids: Iterable[str]) -> list[str]:
        """Those of `user_ids` who are not people in the team's channel."""
        team = self.team()
        outside = []
        for user_id in user_ids:
            person = self.person(user_id) if user_id in team else None
            if person is None or person.is_bot or person.deleted:
                outside.append(user_id)
        return outside

    def by_name(self, name: str) -> list[Person]:
        """The people (not bots, not deactivated) a typed name means, for ``^assign @dana``.

        `name` (with or without its @) is compared with each person's username, display
        name and full name, ignoring case, spaces, dots, dashes and underscores; when
        nobody has it whole, the people whose first name it is. Empty when nobody;
        several when the name is ambiguous. Reads users.list (users:read), cached for
        TEAM_TTL_SECONDS. Raises SlackUnavailable when Slack cannot answer.
        """
        key = _name_key(name)
        people = [p for p in self._everyone() if not p.is_bot and not p.deleted]
        whole = [p for p in people if key in {_name_key(n) for n in _names(p)}]
        if whole or not key:
            return whole
        return [p for p in people if key in {_name_key(n.split()[0]) for n in _names(p) if n}]

    def _everyone(self) -> list[Person]:
        now = self.clock()
        with self._lock:
            cached = self._workspace
        if cached is not None and now - cached[0] < TEAM_TTL_SECONDS:
            return cached[1]
        everyone: list[Person] = []
        cursor = None
        try:
            while True:
                page = self.client.users_list(cursor=cursor, limit=200)
                members: list[dict] = page.get("members", [])
                everyone += [_person(user) for user in members]
                cursor = (page.get("response_metadata") or {}).get("next_cursor")
                if not cursor:
                    break
        except SlackApiError as error:
            raise SlackUnavailable(
                f"could not read who is in this Slack: {_said(error)}"
            ) from error
        except (OSError, requests.RequestException) as error:
            raise SlackUnavailable(f"Slack did not answer: {error}") from error
        with self._lock:
            self._workspace = (now, everyone)
            for person in everyone:
                self._people[person.id] = (now, person)
        return everyone

    def by_email(self, email: str) -> Person | None:
        """users.lookupByEmail; None when nobody in the workspace has that address."""
        try:
            user = self.client.users_lookupByEmail(email=email)["user"]
        except SlackApiError as error:
            if error.response.get("error") == "users_not_found":
                return None
            raise SlackUnavailable(f"Slack could not look up {email}: {_said(error)}") from error
        except (OSError, requests.RequestException) as error:
            raise SlackUnavailable(f"Slack did not answer: {error}") from error
        person = _person(user)
        with self._lock:
            self._people[person.id] = (self.clock(), person)
        return person


def _person(user: dict) -> Person:
    tz = user.get("tz") or FALLBACK_TZ
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        tz = FALLBACK_TZ
    profile = user.get("profile") or {}
    return Person(
        id=user["id"],
        name=user.get("real_name") or profile.get("real_name") or user.get("name") or user["id"],
        tz=tz,
        is_bot=bool(user.get("is_bot")),
        deleted=bool(user.get("deleted")),
        handle=user.get("name") or "",
        display_name=(profile.get("display_name") or "").strip(),
    )


def _names(person: Person) -> list[str]:
    return [n for n in (person.handle, person.display_name, person.name) if n]


def _name_key(name: str) -> str:
    """``@Dana.Reyes``, ``dana reyes`` and ``dana_reyes`` -> ``danareyes``."""
    return "".join(ch for ch in name.removeprefix("@").casefold() if ch not in " .-_'")


def _said(error: SlackApiError) -> str:
    data = error.response.data if isinstance(error.response.data, dict) else {}
    return str(data.get("error") or error.response.status_code)
