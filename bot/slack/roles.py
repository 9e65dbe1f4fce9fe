"""Who may do what from Slack: managers, members of the team, guests of a conversation.

- Managers: the Slack user ids in `MANAGERS`, and the members of the user group
  `MANAGER_GROUP` (usergroups.list finds its id by handle, usergroups.users.list its
  members; scope usergroups:read). They import (and, once built, send blasts and run the
  push), and may `^unclaim` what someone else holds.
- Members: the people in the team's channel (bot/desk/people.py). They reply in
  conversation threads and run thread commands, buttons and `/caretbot`.
- Guests: people outside the team `^invite`d into one conversation: they see and reply
  in that conversation only.

The group's members are cached for five minutes (usergroups.users.list is Tier 2, about
20 calls a minute); when Slack cannot be asked, the last answer stands, and before any
answer only `MANAGERS` count. A refusal names who may do the thing, and is shown to the
person alone by the caller.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Literal

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.desk.people import People
from bot.settings import Settings

log = structlog.get_logger(__name__)

GROUP_TTL_SECONDS = 300.0
Role = Literal["manager", "member", "guest", "outsider"]


class Roles:
    """Answers "is this person a manager / on the team?"; thread-safe, cached."""

    def __init__(
        self,
        *,
        settings: Settings,
        client: WebClient,
        people: People,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = client
        self.people = people
        self.clock = clock
        self._lock = threading.Lock()
        self._group: tuple[float, frozenset[str]] | None = None

    @property
    def configured(self) -> bool:
        """Whether anyone is named a manager (MANAGERS or MANAGER_GROUP)."""
        return bool(self.settings.MANAGERS or self.settings.MANAGER_GROUP)

    def managers(self) -> frozenset[str]:
        """MANAGERS together with MANAGER_GROUP's members (cached)."""
        return frozenset(self.settings.MANAGERS) | self._group_members()

    def is_manager(self, user: str) -> bool:
        return user in self.settings.MANAGERS or user in self._group_members()

    def may_manage(self, user: str) -> bool:
        """May import (and later blast and push): a manager, or, while no manager is
        configured at all, anyone (who can post in the team's channel)."""
        return not self.configured or self.is_manager(user)

    def role(self, user: str, *, guests: list[str] | None = None) -> Role:
        """The person's role; `guests` are the conversation's invited guests.

        Raises SlackUnavailable when the team cannot be read.
        """
        if self.is_manager(user):
            return "manager"
        if user in self.people.team():
            return "member"
        if guests and user in guests:
            return "guest"
        return "outsider"

    def who_manages(self) -> str:
        """The managers, as a refusal names them: "<@U1>, <@U2> or members of @leads"."""
        names = [f"<@{user}>" for user in sorted(self.settings.MANAGERS)]
        if self.settings.MANAGER_GROUP:
            names.append(f"members of @{self.settings.MANAGER_GROUP}")
        if not names:
            return "the team's members"
        return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"

    def refusal(self, action: str) -> str:
        """ "Only managers may import: <@U1> or members of @leads." """
        return f"Only managers may {action}: {self.who_manages()}."

    def member_refusal(self, action: str) -> str:
        """What a guest or an outsider hears when they try a team member's action."""
        return (
            f"Only members of the team (the people in <#{self.people.channel}>) may {action}. "
            "A guest of a conversation can reply in its thread."
        )

    def _group_members(self) -> frozenset[str]:
        handle = self.settings.MANAGER_GROUP
        if not handle:
            return frozenset()
        now = self.clock()
        with self._lock:
            cached = self._group
        if cached is not None and now - cached[0] < GROUP_TTL_SECONDS:
            return cached[1]
        try:
            members = self._read_group(handle)
        except (SlackApiError, OSError, requests.RequestException) as error:
            log.warning("roles.group_unreadable", group=handle, error=repr(error))
            return cached[1] if cached is not None else frozenset()
        with self._lock:
            self._group = (now, members)
        return members

    def _read_group(self, handle: str) -> frozenset[str]:
        groups = self.client.usergroups_list()["usergroups"]
        found = [g for g in groups if g.get("handle") == handle and not g.get("date_delete")]
        if not found:
            log.warning("roles.group_not_found", group=handle)
            return frozenset()
        users = self.client.usergroups_users_list(usergroup=found[0]["id"])["users"]
        return frozenset(users)
