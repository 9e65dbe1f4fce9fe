"""Imports from Slack: a CSV or XLSX uploaded to the channel with `^import List name`.

The message listener only recognises the message and remembers its event id, so a
retried event imports nothing twice and Slack hears 200 at once. The rest runs in a
thread of its own, one import at a time: the download (url_private_download with the
bot token, scope files:read), the import, and the answers in the upload's thread: one
progress message kept current with chat.update, the summary, and the rejected rows as a
CSV file (files_upload_v2). Anything wrong with the request, the file or its header is
said in that thread, and nothing is stored.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

import grammar
from bot.settings import Settings
from bot.slack.roles import Roles
from grammar.slack_text import escape, slack_to_plain
from storage import conversations, import_runs
from storage.db import Database
from storage.imports import (
    HeaderError,
    HeaderProblem,
    ImportOptions,
    ImportSummary,
    SheetError,
    import_file,
)
from storage.lists import ListError
from storage.models import utcnow

log = structlog.get_logger(__name__)

IMPORT_LINE = re.compile(r"^\s*\^\s*import\b", re.IGNORECASE)
# Slack's filetype for the files the importer reads (it tells CSV from XLSX by content;
# an old .xls gets its own answer from the reader).
SPREADSHEET_TYPES = frozenset({"csv", "tsv", "xlsx", "xls"})
SPREADSHEET_SUFFIXES = (".csv", ".tsv", ".xlsx", ".xls")
MAX_BYTES = 512 * 1024 * 1024
# A progress update at most this often: chat.update allows about 50 a minute.
PROGRESS_EVERY_SECONDS = 3.0
DOWNLOAD_TIMEOUT = (10, 60)  # connect, read (between chunks)
# Smaller batches than the CLI's: each is a write transaction that webhooks wait behind.
BATCH_ROWS = 5_000
SHOW_REJECTS = 10
SLACK_TRIES = 3
SLACK_ERRORS = (SlackApiError, OSError, requests.RequestException)

NO_FILE = (
    "There is no file on this message. Upload the CSV or XLSX file to the channel and "
    "write `^import List name` (or just `^import`) as the file's message."
)
IN_A_THREAD = (
    "`^import` works as a channel message with the file attached, not in a thread: "
    "upload the CSV or XLSX file to the channel with `^import List name` as its message."
)
ELSEWHERE = "`^import` works in <#{channel}>: upload the file there with `^import List name`."


class DownloadError(Exception):
    """The file could not be fetched from Slack; the message says why."""


@dataclass(frozen=True)
class ImportRequest:
    """An `^import` message with what it carries."""

    event_id: str
    channel: str
    ts: str
    user: str
    list_name: str | None
    files: tuple[Mapping[str, Any], ...]


class SlackImports:
    """Recognises `^import` messages and runs their imports in the background."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        client: WebClient,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
        progress_every: float = PROGRESS_EVERY_SECONDS,
        roles: Roles | None = None,
    ) -> None:
        self.settings = settings
        self.roles = roles  # managers only import, when any are configured
        self.db = db
        self.client = client
        self.http = http or requests.Session()
        self.clock = clock
        self.progress_every = progress_every
        # One import at a time: on SQLite two would queue behind each other's batches anyway.
        self._one_at_a_time = threading.Lock()

    @staticmethod
    def handles(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
        """A person's `^import` message, top-level or carrying files (a plain `^import`
        in a thread is the desk's: it answers there)."""
        if event.get("type") != "message" or event.get("bot_id"):
            return False
        if event.get("subtype") not in (None, "file_share"):
            return False
        user = event.get("user")
        if not user or user == bot_user_id or not IMPORT_LINE.match(event.get("text") or ""):
            return False
        thread_ts = event.get("thread_ts")
        return not thread_ts or thread_ts == event.get("ts") or bool(event.get("files"))

    def receive(self, *, event_id: str, event: Mapping[str, Any]) -> None:
        """Remember the event and hand it to a background thread; a retried event does
        nothing. Every Slack call happens there, after Slack has had its 200."""
        with self.db.write() as session:
            if not conversations.mark_event_processed(session=session, event_id=event_id):
                log.info("import.event_retried")
                return
        threading.Thread(
            target=self.answer,
            args=(event_id, dict(event)),
            name=f"slack-import-{event.get('ts')}",
            daemon=True,
        ).start()

    def answer(self, event_id: str, event: Mapping[str, Any]) -> None:
        """Import what the message carries, or say in its thread why not."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(event_id=event_id, upload=event.get("ts"))
        request = self.request_of(event_id, event)
        if request is not None:
            log.info("import.requested", files=len(request.files), list=request.list_name)
            self.run(request)

    def request_of(self, event_id: str, event: Mapping[str, Any]) -> ImportRequest | None:
        """The import the message asks for; None once the thread has been told why not."""
        channel, ts, user = event["channel"], event["ts"], event["user"]
        thread_ts = event.get("thread_ts")
        if thread_ts and thread_ts != ts:
            self.tell(channel, user, thread_ts, IN_A_THREAD)
            return None
        if channel != self.settings.SLACK_CHANNEL_ID:
            self.reply(channel, ts, ELSEWHERE.format(channel=self.settings.SLACK_CHANNEL_ID))
            return None
        if self.roles is not None and not self.roles.may_manage(user):
            self.tell(channel, user, ts, self.roles.refusal("import candidates"))
            log.info("import.refused", user=user)
            return None
        text = slack_to_plain(event.get("text") or "")
        try:
            command = grammar.parse_command(text, now=utcnow(), tz="UTC")
        except grammar.CommandError as error:
            self.reply(channel, ts, error.explain(slack=True))
            return None
        if not isinstance(command, grammar.Import):
            self.reply(channel, ts, "Only `^import` works as a channel message.")
            return None
        return ImportRequest(
            event_id=event_id,
            channel=channel,
            ts=ts,
            user=user,
            list_name=command.list_name,
            files=tuple(event.get("files") or ()),
        )

    def run(self, request: ImportRequest) -> None:
        """Check the file, download it, import it, and report in the upload's thread."""
        refusal = _refusal(request.files)
        if refusal is not None:
            self.reply(request.channel, request.ts, refusal)
            return
        file = dict(request.files[0])
        name = _safe_name(str(file.get("name") or "upload.csv"))
        progress = Progress(self, request, name)
        progress.start()
        try:
            with self._one_at_a_time, tempfile.TemporaryDirectory(prefix="caretbot-") as tmp:
                path = Path(tmp) / name
                self._download(file, path)
                progress.importing()
                summary = import_file(
                    path,
                    db=self.db,
                    options=ImportOptions(
                        list_name=request.list_name,
                        rejects_path=Path(tmp) / f"{path.stem}.rejects.csv",
                        batch_size=BATCH_ROWS,
                        active_policy=self.settings.ACTIVE_APPLY,
                    ),
                    progress=progress.read,
                )
                progress.finish(f"Imported *{name}*.")
                import_runs.record_summary(
                    self.db, summary, file_name=name, source="slack", user=request.user
                )
                self.reply(request.channel, request.ts, summary_text(name, summary))
                if summary.rejects_path is not None:
                    self._upload_rejects(request, summary)
        except DownloadError as error:
            progress.finish(f"*{name}* was not imported: {error}. Nothing was stored.")
        except HeaderError as error:
            progress.finish(header_text(name, error.problems))
        except (SheetError, ListError) as error:
            progress.finish(f"*{name}* was not imported: {error}. Nothing was stored.")
        except Exception:
            log.exception("import.crashed")
            progress.finish(
                f"The import of *{name}* stopped on an unexpected error. Batches written "
                "before it stay; importing the file again finishes the job without duplicates."
            )
        else:
            log.info(
                "import.done",
                rows=summary.rows,
                created=summary.created,
                updated=summary.updated,
                rejected=summary.rejected,
            )

    # --- the file ---------------------------------------------------------------------

    def _download(self, file: dict[str, Any], path: Path) -> None:
        """The file's bytes from url_private_download, with the bot token."""
        if file.get("file_access") == "check_file_info" or not file.get("url_private_download"):
            # Slack sometimes sends a stub (shared channels, large files): ask for the rest.
            try:
                file = {**file, **self.client.files_info(file=file["id"])["file"]}
            except SLACK_ERRORS as error:
                raise DownloadError(f"Slack did not describe the file ({_why(error)})") from error
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise DownloadError("Slack gave no address to download it from")
        headers = {"Authorization": f"Bearer {self.settings.SLACK_BOT_TOKEN}"}
        try:
            with self.http.get(url, headers=headers, stream=True, timeout=DOWNLOAD_TIMEOUT) as got:
                if got.status_code != 200:
                    raise DownloadError(f"Slack answered HTTP {got.status_code} to the download")
                if got.headers.get("Content-Type", "").startswith("text/html"):
                    # Without files:read, Slack answers with its sign-in page, not an error.
                    raise DownloadError(
                        "Slack sent a sign-in page instead of the file: the app needs the "
                        "files:read scope (reinstall it from app.yaml)"
                    )
                size = 0
                with path.open("wb") as out:
                    for chunk in got.iter_content(chunk_size=1 << 20):
                        size += len(chunk)
                        if size > MAX_BYTES:
                            raise DownloadError(_too_big())
                        out.write(chunk)
        except requests.RequestException as error:
            raise DownloadError(f"the download failed ({error.__class__.__name__})") from error

    def _upload_rejects(self, request: ImportRequest, summary: ImportSummary) -> None:
        assert summary.rejects_path is not None
        path = summary.rejects_path
        try:
            self._slack(
                lambda: self.client.files_upload_v2(
                    channel=request.channel,
                    thread_ts=request.ts,
                    file=str(path),
                    filename=path.name,
                    title=path.name,
                    initial_comment=(
                        f"All {summary.rejected} rejected rows, as they were in the file, "
                        "each with the reason in its last column."
                    ),
                )
            )
        except SLACK_ERRORS as error:
            log.warning("import.rejects_upload_failed", error=repr(error))
            self.reply(
                request.channel,
                request.ts,
                f"The rejects file could not be uploaded ({_why(error)}); the rejected rows "
                "are listed above.",
            )

    # --- Slack ------------------------------------------------------------------------

    def reply(self, channel: str, thread_ts: str, text: str) -> str | None:
        """Post in the thread; the new message's ts, or None when Slack failed."""
        try:
            posted = self._slack(
                lambda: self.client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, text=text, unfurl_links=False
                )
            )
        except SLACK_ERRORS as error:
            log.warning("import.reply_failed", error=repr(error))
            return None
        return str(posted["ts"])

    def edit(self, channel: str, ts: str, text: str, *, retry: bool) -> None:
        """Change a message caretbot posted; with `retry`, waiting out rate limits."""
        try:
            call = lambda: self.client.chat_update(channel=channel, ts=ts, text=text)  # noqa: E731
            self._slack(call) if retry else call()
        except SLACK_ERRORS as error:
            log.warning("import.progress_failed", error=repr(error))

    def tell(self, channel: str, user: str, thread_ts: str, text: str) -> None:
        """A message only `user` sees, in the thread."""
        try:
            self.client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread_ts, text=text
            )
        except SLACK_ERRORS as error:
            log.warning("import.ephemeral_failed", error=repr(error))

    def _slack(self, call: Callable[[], Any]) -> Any:
        """A Web API call, waiting out HTTP 429 (Retry-After) a few times."""
        for attempt in range(SLACK_TRIES):
            try:
                return call()
            except SlackApiError as error:
                if error.response.status_code != 429 or attempt == SLACK_TRIES - 1:
                    raise
                wait = float(error.response.headers.get("Retry-After", 1) or 1)
                time.sleep(min(wait, 30.0))
        raise AssertionError("unreachable")


class Progress:
    """One message in the upload's thread that says how the import is going, kept
    current with chat.update no more often than every `progress_every` seconds."""

    def __init__(self, imports: SlackImports, request: ImportRequest, name: str) -> None:
        self.imports = imports
        self.request = request
        self.name = name
        self.ts: str | None = None
        self.last = 0.0
        into = f' into the list "{request.list_name}"' if request.list_name else ""
        self.what = f"*{name}*{into}"

    def start(self) -> None:
        self.ts = self.imports.reply(
            self.request.channel, self.request.ts, f"Downloading {self.what}…"
        )
        self.last = self.imports.clock()

    def importing(self) -> None:
        self._say(f"Importing {self.what}…", force=True)

    def read(self, fraction: float) -> None:
        """The importer's callback after each chunk: the share of the file read."""
        if fraction < 1.0:
            self._say(f"Importing {self.what}: {int(fraction * 100)}% of the file read…")

    def finish(self, text: str) -> None:
        """The last word, on the progress message (or a new one if there is none)."""
        if self.ts is None:
            self.imports.reply(self.request.channel, self.request.ts, text)
        else:
            self.imports.edit(self.request.channel, self.ts, text, retry=True)

    def _say(self, text: str, *, force: bool = False) -> None:
        now = self.imports.clock()
        if self.ts is None or (not force and now - self.last < self.imports.progress_every):
            return
        self.last = now
        # A skipped update is harmless: the next one or the last word replaces it.
        self.imports.edit(self.request.channel, self.ts, text, retry=False)


def _refusal(files: tuple[Mapping[str, Any], ...]) -> str | None:
    """Why the message's files cannot be imported; None when they can."""
    if not files:
        return NO_FILE
    if len(files) > 1:
        return f"`^import` takes one file; this message has {len(files)}. Upload them one by one."
    file = files[0]
    name = str(file.get("name") or "the file")
    if file.get("file_access") == "check_file_info":
        return None  # Slack sent a stub: the download asks files.info for the rest
    filetype = str(file.get("filetype") or "").lower()
    if filetype not in SPREADSHEET_TYPES and not name.lower().endswith(SPREADSHEET_SUFFIXES):
        kind = file.get("pretty_type") or filetype or "file"
        return f"*{name}* is a {kind} file, not a spreadsheet: `^import` takes a CSV or XLSX file."
    if int(file.get("size") or 0) > MAX_BYTES:
        return f"*{name}* was not imported: {_too_big()}."
    return None


def _too_big() -> str:
    return (
        f"it is over {MAX_BYTES // (1024 * 1024)} MB; import a file that big with "
        "`caretbot import` on the server"
    )


def _safe_name(name: str) -> str:
    """The file's own name (it becomes the opt-in source), safe to put on disk."""
    cleaned = re.sub(r"[^\w.\- ]", "_", Path(name.replace("\\", "/")).name).strip(". ")
    return cleaned[:120] or "upload.csv"


def _why(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error", "error"))
    return error.__class__.__name__


def summary_text(name: str, summary: ImportSummary) -> str:
    """The summary the CLI prints, and the first rejected rows."""
    lines = [f"*{name}*: import summary", *(f"• {line}" for line in summary.lines())]
    if summary.rejects:
        lines.append("")
        lines.append("Rejected rows:")
        # A rejected row's reason quotes its cells: text from the file, escaped for mrkdwn.
        lines += [f"• {escape(str(reject))}" for reject in summary.rejects[:SHOW_REJECTS]]
        if summary.rejected > SHOW_REJECTS:
            lines.append(f"… and {summary.rejected - SHOW_REJECTS} more, in the rejects file.")
    return "\n".join(lines)


def header_text(name: str, problems: tuple[HeaderProblem, ...]) -> str:
    """A header's problems, each with its column's number and letter."""
    lines = [f"*{name}* was not imported: its header has problems. Nothing was stored."]
    for problem in problems:
        if problem.column:
            heading = f" “{escape(problem.header.strip())}”" if problem.header.strip() else ""
            lines.append(
                f"• column {problem.column} ({problem.letter}){heading}: {escape(problem.reason)}"
            )
        else:
            lines.append(f"• {escape(problem.reason)}")
    return "\n".join(lines)
