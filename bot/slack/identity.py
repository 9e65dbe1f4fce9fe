"""Who the bot is in Slack (its user id, bot id, team), known without asking Slack.

Bolt's single-workspace set-up asks Slack (auth.test) before the first event it
handles and, when Slack is down, answers every event 200 "please reinstall": Slack does
not retry a 200, and the teammates' replies are lost. caretbot gives Bolt the identity
itself (Bolt's `authorize` hook): the last good auth.test answer, kept in the database
(integration_state), or a live auth.test when none is kept yet. When neither is to be
had, the event is answered 503, which Slack retries
(https://api.slack.com/apis/events-api#retries).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import structlog
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.authorize import Authorize
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from storage import integrations
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

# auth.test at start-up must not hold the server up when Slack is slow.
CHECK_TIMEOUT_SECONDS = 5


class IdentityUnknown(Exception):
    """Slack cannot be asked who the bot is, and no earlier answer is kept."""


class SlackIdentity(Authorize):
    """Bolt's `authorize`: the bot's identity from memory, the database, or auth.test."""

    def __init__(self, *, db: Database, client: WebClient) -> None:
        self.db = db
        self.client = client
        self._result: AuthorizeResult | None = None
        self._lock = threading.Lock()

    def __call__(self, **_kwargs: Any) -> AuthorizeResult:
        if self._result is None:
            with self._lock:
                if self._result is None:
                    self._result = self._stored() or self._ask_slack()
        return self._result

    def check(self) -> bool:
        """Ask Slack now (at start-up, in the background) and keep a good answer; False
        when Slack could not be asked (the kept answer, if any, stays in use)."""
        try:
            self._result = self._ask_slack(timeout=CHECK_TIMEOUT_SECONDS)
        except IdentityUnknown:
            return False
        return True

    def _stored(self) -> AuthorizeResult | None:
        with self.db.read() as session:
            state = integrations.states(session=session)[integrations.SLACK]
        if not state.identity:
            return None
        return self._result_of(state.identity)

    def _ask_slack(self, timeout: float | None = None) -> AuthorizeResult:
        client = self.client
        if timeout is not None:
            client = WebClient(
                token=self.client.token,
                base_url=self.client.base_url,
                timeout=int(timeout),
                retry_handlers=[],
            )
        try:
            answer = client.auth_test()
        except (SlackApiError, OSError) as error:
            with self.db.write() as session:
                integrations.record_error(
                    session=session,
                    name=integrations.SLACK,
                    at=utcnow(),
                    error=f"auth.test: {_describe(error)}",
                )
            log.warning("slack.identity_unavailable", error=_describe(error))
            raise IdentityUnknown(_describe(error)) from error
        identity = {
            key: answer.get(key)
            for key in ("user_id", "bot_id", "team_id", "enterprise_id", "team", "url")
        }
        with self.db.write() as session:
            integrations.save_identity(session=session, name=integrations.SLACK, identity=identity)
            integrations.record_success(session=session, name=integrations.SLACK, at=utcnow())
        log.info("slack.identity", bot_user=identity["user_id"], team=identity["team_id"])
        return self._result_of(identity)

    def _result_of(self, identity: dict[str, Any]) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=identity.get("enterprise_id"),
            team_id=identity.get("team_id"),
            team=identity.get("team"),
            url=identity.get("url"),
            bot_user_id=identity.get("user_id"),
            bot_id=identity.get("bot_id"),
            bot_token=self.client.token,
        )


def _describe(error: Exception) -> str:
    if isinstance(error, SlackApiError):
        return f"slack {error.response.status_code} {error.response.get('error')}"
    return type(error).__name__


class _WithoutTokenWarning(logging.Filter):
    """Bolt warns that SLACK_BOT_TOKEN (it reads the environment too) goes unused when it
    is given a client: caretbot gives it a client on purpose, to set the identity."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


def bolt_logger() -> logging.Logger:
    """The logger caretbot's Bolt app logs through (into the standard chain)."""
    logger = logging.getLogger("slack_bolt.caretbot")
    if not any(isinstance(f, _WithoutTokenWarning) for f in logger.filters):
        logger.addFilter(_WithoutTokenWarning())
    return logger
