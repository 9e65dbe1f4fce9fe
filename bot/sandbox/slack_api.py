"""A fake Slack Web API that slack_sdk's WebClient talks to over real HTTP.

Point the client at it with ``WebClient(token=..., base_url=fake.api_url)`` (= url +
"/api/"; slack_sdk adds a missing trailing slash, then joins base_url and the method name
with urljoin and always POSTs). Bodies arrive as JSON (chat.postMessage, because of
blocks), url-encoded forms (most methods) or multipart; the fake merges query, form, JSON
and multipart fields into one params dict per call.

It models what caretbot must cope with: per-channel rate limits on chat.postMessage
(HTTP 429 + Retry-After), forced failures, duplicate reactions, unknown channels and
users, and the three-call files_upload_v2 flow. Run it on its own for benchmarks:

    python -m bot.sandbox.slack_api --port 0 --rate 1 --burst 3 --token xoxb-bench
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox._http import FakeServer, Request, Response, wait_until
from bot.sandbox.slack_blocks import MESSAGE_BLOCKS, VIEW_BLOCKS, block_errors

Handler = Callable[[dict[str, Any]], dict[str, Any]]

DEFAULT_TOKEN = "xoxb-test-token"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "ACARETBOT"
TEAM_ID = "T0CARETBOT"
CHANNEL_ID_RE = re.compile(r"^[CDG][A-Z0-9]{2,}$")
MAX_TEXT = 40_000


class SlackError(Exception):
    """An API-level failure: HTTP 200 with {"ok": false, "error": code} unless `status`."""

    def __init__(
        self,
        error: str,
        status: int = 200,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = headers or {}
        self.extra = extra or {}


def _check_blocks(blocks: Any, limit: int) -> None:
    """Refuse blocks that break Block Kit's limits, with Slack's invalid_blocks answer."""
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            raise SlackError("invalid_blocks_format") from None
    errors = block_errors(blocks, limit=limit)
    if errors:
        raise SlackError(
            "invalid_blocks",
            extra={
                "errors": errors,
                "response_metadata": {"messages": [f"[ERROR] {e}" for e in errors]},
            },
        )


@dataclass(frozen=True)
class Call:
    """One request to the fake: which method, with what, and what it answered."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))


@dataclass(frozen=True)
class Post:
    """A message the bot posted successfully with chat.postMessage."""

    channel: str
    ts: str
    text: str
    thread_ts: str | None
    blocks: list[dict[str, Any]] | None
    params: dict[str, Any]
    at: float


@dataclass
class _Fault:
    status: int | None
    error: str
    retry_after: int | None
    remaining: int


@dataclass
class _Late:
    seconds: float
    reset: bool
    remaining: int


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class _Upload:
    file_id: str
    filename: str
    length: int
    data: bytes | None = None


@dataclass
class Stats:
    """Counters the benchmark reads from GET /_fake/stats."""

    posts: int = 0
    ratelimited: int = 0
    first_post_at: float | None = None
    last_post_at: float | None = None
    calls: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "posts": self.posts,
            "ratelimited": self.ratelimited,
            "first_post_at": self.first_post_at,
            "last_post_at": self.last_post_at,
            "calls": self.calls,
        }


def _default_users() -> dict[str, dict[str, Any]]:
    return {
        BOT_USER_ID: {"real_name": "caretbot", "is_bot": True, "tz": "UTC", "name": "caretbot"},
    }


class FakeSlack(FakeServer):
    """Fake Slack Web API on 127.0.0.1; thread-safe; records every call."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        users: dict[str, dict[str, Any]] | None = None,
        channels: set[str] | None = None,
        rate_per_second: float | None = None,
        burst: int = 1,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        record: bool = True,
        strict_messages: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`users`: id -> {tz, real_name, profile: {email}, is_bot, deleted}.
        `channels`: the only channel ids that exist (default: any C*/D*/G* id).
        `rate_per_second`/`burst`: chat.postMessage token bucket per channel (None: off).
        `record=False` keeps counters only (long benchmarks).
        `strict_messages`: reactions/permalinks need a message the fake has seen.
        """
        super().__init__(host, port)
        self.token = token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.record = record
        self.strict_messages = strict_messages
        self._lock = threading.RLock()
        self._initial_users = {**_default_users(), **(users or {})}
        self._initial_channels = set(channels) if channels is not None else None
        self._handlers: dict[str, Handler] = {}
        self.reset()

    # ------------------------------------------------------------------ setup

    @property
    def api_url(self) -> str:
        """What to give WebClient(base_url=...) / SLACK_API_URL: ends in /api/."""
        return self.url + "/api/"

    def reset(self) -> None:
        """Forget calls, messages, reactions, faults and buckets (config stays)."""
        with self._lock:
            self._calls: list[Call] = []
            self._posts: list[Post] = []
            self._messages: dict[tuple[str, str], dict[str, Any]] = {}
            self._reactions: set[tuple[str, str, str, str]] = set()
            self._faults: dict[str, deque[_Fault]] = {}
            self._late: dict[str, deque[_Late]] = {}
            self._buckets: dict[str, _Bucket] = {}
            self._uploads: dict[str, _Upload] = {}
            self._files: dict[str, tuple[dict[str, Any], bytes]] = {}
            self._downloads: list[tuple[str, int]] = []
            self._users = {uid: dict(u) for uid, u in self._initial_users.items()}
            self._channels = (
                set(self._initial_channels) if self._initial_channels is not None else None
            )
            self._last_ts = 0.0
            self._seq = 0
            self._views: dict[str, dict[str, Any]] = {}
            self._responses: list[dict[str, Any]] = []
            self._usergroups: dict[str, dict[str, Any]] = {}
            self.stats = Stats()

    def add_user(self, user_id: str, **fields: Any) -> None:
        """Make users.info / lookupByEmail know `user_id` (fields as in `users`)."""
        with self._lock:
            self._users[user_id] = fields

    def add_channel(self, channel_id: str) -> None:
        with self._lock:
            if self._channels is None:
                self._channels = set()
            self._channels.add(channel_id)

    def add_message(
        self, channel: str, ts: str, text: str = "", user: str = "U0TEAMMATE", **extra: Any
    ) -> None:
        """Seed a message the fake did not post (a teammate's), e.g. to react to it."""
        with self._lock:
            self._messages[(channel, ts)] = {
                "type": "message",
                "user": user,
                "text": text,
                "ts": ts,
                **extra,
            }

    def add_file(
        self,
        name: str,
        content: bytes,
        filetype: str,
        *,
        user: str = "U0TEAMMATE",
        mimetype: str = "application/octet-stream",
    ) -> dict[str, Any]:
        """A file a person uploaded: its Slack file object (as in a file_share message
        event and files.info), whose url_private(_download) serves `content` to the bot
        token only (403 otherwise)."""
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        base = f"{self.url}/files-pri/{self.team_id}-{file_id}"
        now = int(time.time())
        info = {
            "id": file_id,
            "created": now,
            "timestamp": now,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": filetype,
            "pretty_type": filetype.upper(),
            "user": user,
            "editable": False,
            "size": len(content),
            "mode": "hosted",
            "is_external": False,
            "external_type": "",
            "is_public": False,
            "public_url_shared": False,
            "display_as_bot": False,
            "username": "",
            "url_private": f"{base}/{name}",
            "url_private_download": f"{base}/download/{name}",
            "permalink": f"https://caretbot-test.slack.com/files/{user}/{file_id}/{name}",
        }
        with self._lock:
            self._files[file_id] = (info, content)
        return dict(info)

    def downloads(self) -> list[tuple[str, int]]:
        """(file id, HTTP status) of every request for a file's bytes, oldest first."""
        with self._lock:
            return list(self._downloads)

    def set_handler(self, method: str, handler: Handler) -> None:
        """Serve `method` with `handler(params) -> response dict` (raise SlackError to fail)."""
        with self._lock:
            self._handlers[method] = handler

    def fail_next(
        self,
        method: str,
        status: int | None = None,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Force the next `times` calls of `method` ("*" for any) to fail.

        status None: HTTP 200 {"ok": false, "error": error}. status 429 defaults the
        error to "ratelimited" and Retry-After to 1. Other statuses send the JSON error
        body with that HTTP status.
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        default = "ratelimited" if status == 429 else "internal_error" if status else "fatal_error"
        with self._lock:
            self._faults.setdefault(method, deque()).append(
                _Fault(status, error or default, retry_after, times)
            )

    def slow_next(self, method: str, seconds: float, times: int = 1) -> None:
        """Do the next `times` calls of `method`, then answer `seconds` late (a client
        with a shorter timeout never learns that the call was done)."""
        with self._lock:
            self._late.setdefault(method, deque()).append(_Late(seconds, False, times))

    def reset_next(self, method: str, times: int = 1) -> None:
        """Do the next `times` calls of `method`, then reset the connection unanswered."""
        with self._lock:
            self._late.setdefault(method, deque()).append(_Late(0.0, True, times))

    def _take_late(self, method: str) -> _Late | None:
        with self._lock:
            queue = self._late.get(method)
            if not queue:
                return None
            late = queue[0]
            late.remaining -= 1
            if late.remaining <= 0:
                queue.popleft()
            return late

    def clear_faults(self) -> None:
        """Forget every fault `fail_next` queued: Slack is back."""
        with self._lock:
            self._faults = {}

    # --------------------------------------------------------------- queries

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def posts(self, channel: str | None = None, thread_ts: str | None = None) -> list[Post]:
        """Successful chat.postMessage calls, oldest first, optionally filtered."""
        with self._lock:
            return [
                p
                for p in self._posts
                if (channel is None or p.channel == channel)
                and (thread_ts is None or p.thread_ts == thread_ts)
            ]

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current state of a message (after chat.update), if the fake knows it."""
        with self._lock:
            found = self._messages.get((channel, ts))
            return dict(found) if found is not None else None

    def history(self, channel: str) -> list[dict[str, Any]]:
        """Every message the workspace knows in `channel` (posted, seeded or updated),
        oldest first, in and out of threads, each with `reactions` as
        conversations.history gives them: [{name, users, count}]."""
        with self._lock:
            found = [dict(m) for (ch, _ts), m in self._messages.items() if ch == channel]
            reactions: dict[tuple[str, str], list[str]] = {}
            for ch, ts, name, user in sorted(self._reactions):
                if ch == channel:
                    reactions.setdefault((ts, name), []).append(user)
        for message in found:
            message["reactions"] = [
                {"name": name, "users": users, "count": len(users)}
                for (ts, name), users in reactions.items()
                if ts == message["ts"]
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def reactions(self, channel: str | None = None, ts: str | None = None) -> list[str]:
        """Reaction names currently on messages, filtered by channel and/or ts."""
        with self._lock:
            return sorted(
                name
                for (ch, t, name, _user) in self._reactions
                if (channel is None or ch == channel) and (ts is None or t == ts)
            )

    def uploads(self) -> dict[str, bytes | None]:
        """file_id -> bytes received at the upload URL (None until uploaded)."""
        with self._lock:
            return {fid: up.data for fid, up in self._uploads.items()}

    @property
    def ratelimited_count(self) -> int:
        with self._lock:
            return self.stats.ratelimited

    def wait_for(self, predicate_or_count: Callable[[], Any] | int, timeout: float = 5.0) -> Any:
        """Wait for a zero-argument predicate to be truthy (returns its value), or,
        given an int, until that many posts exist (returns the posts)."""
        if isinstance(predicate_or_count, int):
            count = predicate_or_count

            def predicate() -> Any:
                posts = self.posts()
                return posts if len(posts) >= count else None
        else:
            predicate = predicate_or_count

        def describe() -> str:
            recent = [
                f"{c.method}->{c.status}/{c.response.get('error', 'ok')}" for c in self.calls()
            ]
            return f"{len(self.posts())} posts; last calls: {recent[-10:]}"

        return wait_until(predicate, timeout, describe)

    # --------------------------------------------------------------- serving

    def handle(self, request: Request) -> Response:
        if request.path == "/_fake/stats":
            with self._lock:
                return Response.json(self.stats.as_dict())
        if request.path == "/_fake/reset" and request.method == "POST":
            self.reset()
            return Response.json({"ok": True})
        if request.path == "/_fake/outage" and request.method == "POST":
            # {"status": 503} fails every call with that status until {"status": null}.
            status = (request.json() or {}).get("status")
            with self._lock:
                self._faults.pop("*", None)
                if status:
                    self._faults["*"] = deque(
                        [_Fault(int(status), "service_unavailable", None, 1 << 62)]
                    )
            return Response.json({"ok": True})
        if request.path == "/_fake/posts":
            with self._lock:
                posts = [
                    {"channel": p.channel, "ts": p.ts, "thread_ts": p.thread_ts, "text": p.text}
                    for p in self._posts
                ]
            return Response.json({"posts": posts})
        if request.path.startswith("/upload/"):
            return self._receive_upload(request)
        if request.path.startswith("/files-pri/"):
            return self._serve_file(request)
        if request.path.startswith("/commands/") and request.method == "POST":
            return self._response_url(request)
        if not request.path.startswith("/api/"):
            return Response.json({"ok": False, "error": "unknown_method"}, status=404)
        method = request.path.removeprefix("/api/")
        params = self._params(request)
        status, payload, headers = self._answer(method, params, request)
        with self._lock:
            self.stats.calls += 1
            if self.record:
                self._calls.append(
                    Call(method, params, request.headers, time.time(), status, payload)
                )
        late = self._take_late(method)
        if late is not None and late.reset:
            return Response(drop=True)
        if late is not None:
            time.sleep(late.seconds)
        return Response.json(payload, status=status, headers=headers)

    def _params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in request.query.items()}
        if request.content_type == "application/json":
            body = request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.content_type == "application/x-www-form-urlencoded":
            params.update({k: v[-1] for k, v in request.form().items()})
        elif request.content_type == "multipart/form-data":
            params.update(request.multipart_fields())
        return params

    def _answer(
        self, method: str, params: dict[str, Any], request: Request
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        try:
            self._take_fault(method)
            self._check_token(params, request, method)
            if method in self._handlers:
                result = self._handlers[method](params)
            else:
                impl = _METHODS.get(method)
                if impl is None:
                    raise SlackError("unknown_method")
                result = impl(self, params)
            return 200, {"ok": True, **result}, {}
        except SlackError as err:
            return err.status, {"ok": False, "error": err.error, **err.extra}, err.headers

    def _take_fault(self, method: str) -> None:
        with self._lock:
            for key in (method, "*"):
                queue = self._faults.get(key)
                if not queue:
                    continue
                fault = queue[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    queue.popleft()
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(fault.retry_after)
                if fault.status == 429:
                    self.stats.ratelimited += 1
                raise SlackError(fault.error, fault.status or 200, headers)

    def _check_token(self, params: dict[str, Any], request: Request, method: str = "") -> None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else None
        token = token or params.get("token")
        if not token:
            raise SlackError("not_authed")
        # Socket Mode's apps.connections.open takes the app-level token (xapp-).
        if method == "apps.connections.open" and token.startswith("xapp-"):
            return
        if token != self.token:
            raise SlackError("invalid_auth")

    def _next_ts(self) -> str:
        """Unique, increasing message timestamps in Slack's "seconds.micros" form."""
        with self._lock:
            now = max(time.time(), self._last_ts + 0.000001)
            self._last_ts = now
            return f"{now:.6f}"

    def _check_channel(self, channel: Any) -> str:
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        with self._lock:
            if channel.startswith(("U", "W")) and channel in self._users:
                return self._dm_for(channel)
            if self._channels is not None:
                if channel not in self._channels:
                    raise SlackError("channel_not_found")
            elif not CHANNEL_ID_RE.match(channel):
                raise SlackError("channel_not_found")
        return channel

    def _dm_for(self, user_id: str) -> str:
        dm = "D" + user_id[1:]
        if self._channels is not None:
            self._channels.add(dm)
        return dm

    def _rate_limit(self, channel: str) -> None:
        if not self.rate_per_second:
            return
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(channel)
            if bucket is None:
                bucket = self._buckets[channel] = _Bucket(float(self.burst), now)
            bucket.tokens = min(
                float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_second
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return
            wait = (1.0 - bucket.tokens) / self.rate_per_second
            self.stats.ratelimited += 1
        raise SlackError("ratelimited", 429, {"Retry-After": str(max(1, math.ceil(wait)))})

    def _known_message(self, channel: str, ts: Any) -> dict[str, Any] | None:
        if not isinstance(ts, str) or not ts:
            raise SlackError("no_item_specified" if ts is None else "message_not_found")
        with self._lock:
            found = self._messages.get((channel, ts))
        if found is None and self.strict_messages:
            raise SlackError("message_not_found")
        return found

    def _user(self, user_id: Any) -> dict[str, Any]:
        with self._lock:
            raw = self._users.get(user_id) if isinstance(user_id, str) else None
        if raw is None:
            raise SlackError("user_not_found")
        return _user_object(user_id, raw, self.team_id)

    # ---------------------------------------------------------------- methods

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "https://caretbot-test.slack.com/",
            "team": "caretbot test",
            "user": "caretbot",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _bot_message(self, text: str, ts: str, params: dict[str, Any]) -> dict[str, Any]:
        blocks = params.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        message: dict[str, Any] = {
            "user": self.bot_user_id,
            "type": "message",
            "ts": ts,
            "bot_id": self.bot_id,
            "app_id": APP_ID,
            "text": text,
            "team": self.team_id,
            "blocks": blocks if blocks is not None else _rich_text_blocks(text),
        }
        if params.get("thread_ts"):
            message["thread_ts"] = str(params["thread_ts"])
            message["parent_user_id"] = self.bot_user_id
        metadata = params.get("metadata")
        if isinstance(metadata, str) and metadata:
            metadata = json.loads(metadata)
        if metadata:
            if not isinstance(metadata, dict) or not metadata.get("event_type"):
                raise SlackError("invalid_metadata_format")
            message["metadata"] = {
                "event_type": metadata["event_type"],
                "event_payload": metadata.get("event_payload") or {},
            }
        return message

    def _chat_post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        text = params.get("text") or ""
        if not text and not params.get("blocks") and not params.get("attachments"):
            raise SlackError("no_text")
        if len(text) > MAX_TEXT:
            raise SlackError("msg_too_long")
        if params.get("blocks") is not None:
            _check_blocks(params["blocks"], MESSAGE_BLOCKS)
        self._rate_limit(channel)
        ts = self._next_ts()
        message = self._bot_message(text, ts, params)
        now = time.time()
        with self._lock:
            self._messages[(channel, ts)] = message
            self.stats.posts += 1
            self.stats.by_channel[channel] = self.stats.by_channel.get(channel, 0) + 1
            if self.stats.first_post_at is None:
                self.stats.first_post_at = now
            self.stats.last_post_at = now
            if self.record:
                self._posts.append(
                    Post(
                        channel=channel,
                        ts=ts,
                        text=text,
                        thread_ts=message.get("thread_ts"),
                        blocks=message["blocks"] if params.get("blocks") else None,
                        params=params,
                        at=now,
                    )
                )
        return {"channel": channel, "ts": ts, "message": message}

    def _chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        ts = params.get("ts")
        if params.get("blocks") is not None:
            _check_blocks(params["blocks"], MESSAGE_BLOCKS)
        with self._lock:
            found = self._messages.get((channel, ts)) if isinstance(ts, str) else None
            if found is None:
                raise SlackError("message_not_found")
            if found.get("user") != self.bot_user_id:
                raise SlackError("cant_update_message")
            text = params.get("text", found.get("text", ""))
            found["text"] = text
            if params.get("blocks") is not None:
                blocks = params["blocks"]
                found["blocks"] = json.loads(blocks) if isinstance(blocks, str) else blocks
            found["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
            message = dict(found)
        return {"channel": channel, "ts": ts, "text": text, "message": message}

    def _chat_post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        self._check_channel(params.get("channel"))
        self._user(params.get("user"))
        if not params.get("text") and not params.get("blocks"):
            raise SlackError("no_text")
        return {"message_ts": self._next_ts()}

    def _chat_get_permalink(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        ts = params.get("message_ts")
        found = self._known_message(channel, ts)
        link = f"https://caretbot-test.slack.com/archives/{channel}/p{str(ts).replace('.', '')}"
        if found and found.get("thread_ts") and found["thread_ts"] != ts:
            link += f"?thread_ts={found['thread_ts']}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _reactions_add(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        ts = params.get("timestamp")
        name = params.get("name")
        if not name:
            raise SlackError("invalid_name")
        self._known_message(channel, ts)
        key = (channel, str(ts), str(name).strip(":"), self.bot_user_id)
        with self._lock:
            if key in self._reactions:
                raise SlackError("already_reacted")
            self._reactions.add(key)
        return {}

    def _reactions_remove(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        key = (
            channel,
            str(params.get("timestamp")),
            str(params.get("name", "")).strip(":"),
            self.bot_user_id,
        )
        with self._lock:
            if key not in self._reactions:
                raise SlackError("no_reaction")
            self._reactions.discard(key)
        return {}

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"user": self._user(params.get("user"))}

    def _users_lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        email = str(params.get("email", "")).lower()
        with self._lock:
            users = list(self._users.items())
        for uid, raw in users:
            found = _user_object(uid, raw, self.team_id)
            if found["profile"].get("email", "").lower() == email and email:
                return {"user": found}
        raise SlackError("users_not_found")

    def _users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        """users.list: every user, `limit` a page, Slack's cursor in response_metadata."""
        with self._lock:
            users = [_user_object(uid, raw, self.team_id) for uid, raw in self._users.items()]
        limit = int(params.get("limit") or 0) or len(users) or 1
        start = int(params.get("cursor") or 0)
        following = start + limit if start + limit < len(users) else None
        return {
            "members": users[start : start + limit],
            "response_metadata": {"next_cursor": str(following) if following else ""},
        }

    def _conversations_members(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every user the workspace knows that is not deleted, the bot included: the
        stand-in's channels have the whole workspace in them. One page (no cursor)."""
        self._check_channel(params.get("channel"))
        with self._lock:
            members = [uid for uid, user in self._users.items() if not user.get("deleted")]
        return {"members": members, "response_metadata": {"next_cursor": ""}}

    def _conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("users") or ""
        ids = [u.strip() for u in (raw if isinstance(raw, list) else str(raw).split(",")) if u]
        if not ids:
            if params.get("channel"):
                return {"channel": {"id": self._check_channel(params["channel"])}}
            raise SlackError("users_list_not_supplied")
        for uid in ids:
            self._user(uid)
        with self._lock:
            if len(ids) == 1:
                channel_id = self._dm_for(ids[0])
            else:
                channel_id = (
                    "G" + uuid.uuid5(uuid.NAMESPACE_URL, ",".join(sorted(ids))).hex[:10].upper()
                )
                if self._channels is not None:
                    self._channels.add(channel_id)
        return {"no_op": False, "already_open": False, "channel": {"id": channel_id}}

    def _read_messages(
        self, params: dict[str, Any], selected: list[dict[str, Any]], newest_first: bool
    ) -> dict[str, Any]:
        """One page of messages as conversations.history/replies answer: oldest/latest
        bounds (exclusive unless inclusive=true), limit (default 100 here, at most 999),
        an opaque cursor, and `metadata` only with include_all_metadata=true."""
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 0) or float("inf")
        inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
        within = [
            m
            for m in selected
            if (oldest <= float(m["ts"]) <= latest)
            and (inclusive or (float(m["ts"]) != oldest and float(m["ts"]) != latest))
        ]
        within.sort(key=lambda m: float(m["ts"]), reverse=newest_first)
        try:
            limit = min(999, max(1, int(params.get("limit") or 100)))
            start = int(str(params.get("cursor") or "").removeprefix("next:") or 0)
        except ValueError:
            raise SlackError("invalid_cursor") from None
        page = within[start : start + limit]
        with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")
        messages = []
        for found in page:
            message = dict(found)
            if not with_metadata:
                message.pop("metadata", None)
            messages.append(message)
        more = start + limit < len(within)
        return {
            "messages": messages,
            "has_more": more,
            "response_metadata": {"next_cursor": f"next:{start + limit}" if more else ""},
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        ts = params.get("ts")
        with self._lock:
            parent = self._messages.get((channel, ts)) if isinstance(ts, str) else None
            if parent is None:
                raise SlackError("thread_not_found")
            thread = [
                m
                for (ch, _), m in self._messages.items()
                if ch == channel and m.get("thread_ts") == ts and m["ts"] != ts
            ]
        answer = self._read_messages(params, thread, newest_first=False)
        # The parent always comes first, whatever the bounds (as Slack answers).
        parent_copy = dict(parent)
        if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
            parent_copy.pop("metadata", None)
        if not params.get("cursor"):
            answer["messages"].insert(0, parent_copy)
        return answer

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._check_channel(params.get("channel"))
        with self._lock:
            top = [
                m
                for (ch, _), m in self._messages.items()
                if ch == channel and m.get("thread_ts") in (None, m["ts"])
            ]
        return self._read_messages(params, top, newest_first=True)

    def _files_get_upload_url_external(self, params: dict[str, Any]) -> dict[str, Any]:
        filename = params.get("filename")
        length = params.get("length")
        if not filename or length in (None, ""):
            raise SlackError("invalid_arguments")
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        with self._lock:
            self._uploads[file_id] = _Upload(file_id, str(filename), int(length))
        return {"upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _receive_upload(self, request: Request) -> Response:
        file_id = request.path.rsplit("/", 1)[-1]
        with self._lock:
            upload = self._uploads.get(file_id)
            if upload is None or request.method != "POST":
                return Response.text("Not Found", status=404)
            upload.data = request.body
        return Response.text(f"OK - {len(request.body)}")

    def _serve_file(self, request: Request) -> Response:
        """A file's bytes at url_private(_download): only with the bot token."""
        file_id = request.path.split("/")[2].rsplit("-", 1)[-1]
        with self._lock:
            found = self._files.get(file_id)
        auth = request.headers.get("authorization", "")
        if found is None or request.method != "GET":
            status = 404
        elif auth != f"Bearer {self.token}":
            status = 403
        else:
            status = 200
        with self._lock:
            self._downloads.append((file_id, status))
        if status != 200:
            return Response.text("Not Found" if status == 404 else "Forbidden", status=status)
        assert found is not None
        info, content = found
        return Response(status=200, body=content, headers={"Content-Type": str(info["mimetype"])})

    def _files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            found = self._files.get(str(params.get("file")))
        if found is None:
            raise SlackError("file_not_found")
        return {"file": dict(found[0])}

    def _files_complete_upload_external(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("files")
        items = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(items, list) or not items:
            raise SlackError("invalid_arguments")
        channel = params.get("channel_id")
        if channel:
            channel = self._check_channel(channel)
        files = []
        with self._lock:
            for item in items:
                upload = self._uploads.get(str(item.get("id")))
                if upload is None:
                    raise SlackError("file_not_found")
                if upload.data is None:
                    raise SlackError("upload_not_complete")
                files.append(
                    {
                        "id": upload.file_id,
                        "name": upload.filename,
                        "title": item.get("title") or upload.filename,
                        "size": len(upload.data),
                        "user": self.bot_user_id,
                        "channels": [channel] if channel else [],
                    }
                )
        return {"files": files}

    def _files_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        raise SlackError("method_deprecated")

    # ------------------------------------------------- views, user groups, response_url

    def add_usergroup(self, handle: str, users: list[str], *, group_id: str | None = None) -> str:
        """A user group (`@handle`) with its members; returns its id (S...)."""
        group_id = group_id or "S" + uuid.uuid5(uuid.NAMESPACE_DNS, handle).hex[:9].upper()
        with self._lock:
            self._usergroups[group_id] = {"handle": handle, "users": list(users)}
        return group_id

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for a user (views.publish), or None."""
        with self._lock:
            view = self._views.get(f"home:{user_id}")
        return dict(view) if view is not None else None

    def responses(self) -> list[dict[str, Any]]:
        """What was POSTed to response_urls (slash commands, block actions), oldest first."""
        with self._lock:
            return list(self._responses)

    def response_url(self, label: str = "") -> str:
        """A response_url as Slack puts in a slash command or action payload, served here."""
        return f"{self.url}/commands/{self.team_id}/{uuid.uuid4().int % 10**13}/{label or uuid.uuid4().hex[:24]}"

    def _response_url(self, request: Request) -> Response:
        body = request.json() if request.content_type == "application/json" else {}
        if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
            return Response.text("no_text", status=400)
        if body.get("blocks") is not None:
            errors = block_errors(body["blocks"], limit=MESSAGE_BLOCKS)
            if errors:
                return Response.text("invalid_blocks", status=400)
        with self._lock:
            self._responses.append({"path": request.path, **body})
        return Response.text("ok")

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("view")
        view = json.loads(raw) if isinstance(raw, str) else raw
        if not isinstance(view, dict) or view.get("type") not in ("home", "modal"):
            raise SlackError("invalid_arguments")
        if view["type"] == "modal" and not view.get("title"):
            raise SlackError("invalid_arguments")
        _check_blocks(view.get("blocks"), VIEW_BLOCKS)
        if len(str(view.get("private_metadata", ""))) > 3000:
            raise SlackError("invalid_arguments")
        return {
            **view,
            "id": "V" + uuid.uuid4().hex[:10].upper(),
            "team_id": self.team_id,
            "app_id": APP_ID,
            "bot_id": self.bot_id,
            "hash": uuid.uuid4().hex[:20],
        }

    def _views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user_id")
        self._user(user)
        view = self._view(params)
        if view["type"] != "home":
            raise SlackError("invalid_arguments")
        with self._lock:
            self._views[f"home:{user}"] = view
        return {"view": view}

    def _views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            raise SlackError("invalid_trigger_id")
        view = self._view(params)
        with self._lock:
            self._views[view["id"]] = view
        return {"view": view}

    def _usergroups_list(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            groups = [
                {
                    "id": gid,
                    "team_id": self.team_id,
                    "handle": g["handle"],
                    "name": g["handle"],
                    "date_delete": 0,
                    "user_count": len(g["users"]),
                }
                for gid, g in self._usergroups.items()
            ]
        return {"usergroups": groups}

    def _usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            group = self._usergroups.get(str(params.get("usergroup")))
        if group is None:
            raise SlackError("no_such_subteam")
        return {"users": list(group["users"])}


def _user_object(user_id: str, raw: dict[str, Any], team_id: str) -> dict[str, Any]:
    """A users.info `user` with Slack's shape, filled in from the configured fields."""
    tz = raw.get("tz", "America/New_York")
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    real_name = raw.get("real_name", user_id)
    profile = {
        "real_name": real_name,
        "display_name": raw.get("display_name", real_name.split(" ")[0]),
        **({"email": raw["email"]} if "email" in raw else {}),
        **raw.get("profile", {}),
    }
    return {
        "id": user_id,
        "team_id": team_id,
        "name": raw.get("name", real_name.lower().replace(" ", ".")),
        "deleted": bool(raw.get("deleted", False)),
        "real_name": real_name,
        "tz": tz,
        "tz_label": tz,
        "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
        "profile": profile,
        "is_admin": bool(raw.get("is_admin", False)),
        "is_bot": bool(raw.get("is_bot", False)),
        "is_app_user": False,
        "updated": 1763900000,
    }


def _rich_text_blocks(text: str) -> list[dict[str, Any]]:
    """Slack turns plain `text` into one rich_text block; mimic that shape."""
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [
                {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
            ],
        }
    ]


_METHODS: dict[str, Callable[[FakeSlack, dict[str, Any]], dict[str, Any]]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._chat_post_message,
    "chat.update": FakeSlack._chat_update,
    "chat.postEphemeral": FakeSlack._chat_post_ephemeral,
    "chat.getPermalink": FakeSlack._chat_get_permalink,
    "reactions.add": FakeSlack._reactions_add,
    "reactions.remove": FakeSlack._reactions_remove,
    "users.info": FakeSlack._users_info,
    "users.lookupByEmail": FakeSlack._users_lookup_by_email,
    "users.list": FakeSlack._users_list,
    "conversations.open": FakeSlack._conversations_open,
    "conversations.replies": FakeSlack._conversations_replies,
    "conversations.history": FakeSlack._conversations_history,
    "conversations.members": FakeSlack._conversations_members,
    "files.getUploadURLExternal": FakeSlack._files_get_upload_url_external,
    "files.completeUploadExternal": FakeSlack._files_complete_upload_external,
    "files.upload": FakeSlack._files_upload,
    "files.info": FakeSlack._files_info,
    "views.publish": FakeSlack._views_publish,
    "views.open": FakeSlack._views_open,
    "usergroups.list": FakeSlack._usergroups_list,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
}


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; prints the base URL on stdout first (port 0 picks one)."""
    parser = argparse.ArgumentParser(description="Fake Slack Web API for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None, help="posts/s per channel")
    parser.add_argument("--burst", type=int, default=1)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument("--record", action="store_true", help="keep every call in memory")
    args = parser.parse_args(argv)
    fake = FakeSlack(
        args.token,
        rate_per_second=args.rate,
        burst=args.burst,
        record=args.record,
        host=args.host,
        port=args.port,
    )
    fake.start()
    print(fake.url, flush=True)
    sys.stdout.flush()
    fake.serve_forever()


if __name__ == "__main__":
    main()
