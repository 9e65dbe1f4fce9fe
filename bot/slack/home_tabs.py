"""Publishing App Home tabs: when a person opens the tab, when they change its filter,
and whenever what it shows has changed.

`app_home_opened` remembers the person (storage/homes.py) and publishes their tab
(views.publish, scope: none beyond the bot token). The filter select republishes it.
Kept current by `HomeRefresher`, which runs beside the outbox dispatcher: every
HOME_REFRESH_SECONDS it reads the board once, builds every opened tab, and publishes
only those whose content changed since the last publish (a digest is stored with each
tab), at most PUBLISH_PER_PASS a pass, the stalest first. So a change to a conversation
republishes the tabs it shows in, whichever process made it, and a burst of changes
costs each tab one publish a pass, not one an event.

Links to threads are built from the workspace's URL (auth.test, asked once) as Slack
writes permalinks (https://WORKSPACE.slack.com/archives/CHANNEL/pTS), or asked of
chat.getPermalink when auth.test cannot answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog
from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.desk.people import SlackUnavailable
from bot.desk.runner import SLACK_ERRORS
from bot.slack.home import FILTER_ACTION, HomeData, build_home, digest
from bot.slack.roles import Roles
from storage import board, homes
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

PUBLISH_PER_PASS = 50  # views.publish is Tier 4: 100+ a minute


class Permalinks:
    """Links to Slack messages, built from the workspace URL; cached."""

    def __init__(self, client: WebClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._base: str | None = None
        self._asked: dict[tuple[str, str], str] = {}

    def __call__(self, channel: str, ts: str) -> str:
        base = self._workspace()
        if base:
            return f"{base}archives/{channel}/p{ts.replace('.', '')}"
        with self._lock:
            found = self._asked.get((channel, ts))
        if found is None:
            try:
                found = str(
                    self.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
                )
            except SLACK_ERRORS as error:
                log.warning("home.permalink_failed", error=repr(error))
                return f"https://slack.com/app_redirect?channel={channel}"
            with self._lock:
                self._asked[(channel, ts)] = found
        return found

    def _workspace(self) -> str | None:
        with self._lock:
            if self._base is not None:
                return self._base or None
        try:
            url = str(self.client.auth_test().get("url") or "")
        except SLACK_ERRORS as error:
            log.warning("home.workspace_unknown", error=repr(error))
            url = ""
        url = url if url.endswith("/") or not url else url + "/"
        with self._lock:
            self._base = url
        return url or None


class HomeTabs:
    """Builds and publishes people's Home tabs."""

    def __init__(
        self,
        *,
        db: Database,
        client: WebClient,
        roles: Roles,
        team_channel: str,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.client = client
        self.roles = roles
        self.team_channel = team_channel
        self.clock = clock
        self.link = Permalinks(client)

    def register(self, app: App) -> None:
        """app_home_opened, and the filter select (acked at once, published lazily)."""
        app.event("app_home_opened")(self.on_home_opened)
        app.action(FILTER_ACTION)(ack=_ack, lazy=[self.on_filter])

    def on_home_opened(self, event: dict[str, Any]) -> None:
        """The person opened caretbot's Home tab (or its Messages tab: nothing to do)."""
        if event.get("tab") != "home":
            return
        self.open(event["user"])

    def on_filter(self, body: dict[str, Any]) -> None:
        """The person chose what the tab shows."""
        action = body["actions"][0]
        choice = (action.get("selected_option") or {}).get("value") or "all"
        self.open(body["user"]["id"], filter=choice)

    def open(self, user: str, *, filter: str | None = None) -> bool:
        """Remember the person's tab (and filter) and publish it now."""
        structlog.contextvars.bind_contextvars(user=user)
        try:
            with self.db.write() as session:
                home = homes.open_home(session=session, user_id=user, filter=filter)
        except ValueError as error:  # a filter value this version does not know
            log.warning("home.bad_filter", error=str(error))
            return False
        return self.publish(home, force=True)

    def refresh(self) -> int:
        """One pass: publish every opened tab whose content changed; how many were."""
        with self.db.read() as session:
            opened = homes.all_homes(session=session)
            if not opened:
                return 0
            rows = board.open_conversations(session=session)
            sends = board.pending_sends_by(session=session, users=[h.user_id for h in opened])
        now = self.clock()
        opened.sort(key=lambda h: (h.published_at is not None, h.published_at or now))
        published = 0
        for home in opened:
            if published >= PUBLISH_PER_PASS:
                break
            if self.publish(home, rows=rows, sends=sends):
                published += 1
        if published:
            log.info("home.refreshed", published=published, homes=len(opened))
        return published

    def publish(
        self,
        home: homes.Home,
        *,
        rows: list[board.BoardRow] | None = None,
        sends: list[board.PendingSend] | None = None,
        force: bool = False,
    ) -> bool:
        """Publish the tab if its content changed (always with `force`); True if sent."""
        try:
            role = self.roles.role(home.user_id)
        except SlackUnavailable as error:
            log.warning("home.role_unknown", user=home.user_id, error=str(error))
            return False
        if rows is None or sends is None:
            with self.db.read() as session:
                rows = board.open_conversations(session=session)
                sends = board.pending_sends_by(session=session, users=[home.user_id])
        now = self.clock()
        view = build_home(
            HomeData(
                user=home.user_id,
                role=role,
                filter=home.filter,
                now=now,
                rows=rows,
                sends=sends,
                link=self.link,
                team_channel=self.team_channel,
            )
        )
        shown = digest(view)
        if not force and shown == home.digest:
            return False
        try:
            self.client.views_publish(user_id=home.user_id, view=view)
        except SLACK_ERRORS as error:
            log.warning("home.publish_failed", user=home.user_id, error=repr(error))
            return False
        with self.db.write() as session:
            homes.mark_published(session=session, user_id=home.user_id, digest=shown, now=now)
        return True


class HomeRefresher:
    """Runs `HomeTabs.refresh` every `every` seconds on a thread until `stopping` is set."""

    def __init__(self, tabs: HomeTabs, *, every: float, stopping: threading.Event) -> None:
        self.tabs = tabs
        self.every = every
        self.stopping = stopping
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="home-refresher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(self.every):
            try:
                self.tabs.refresh()
            except Exception:  # the loop must outlive a database or Slack hiccup
                log.exception("home.refresh_crashed")


def _ack(ack: Ack) -> None:
    ack()
