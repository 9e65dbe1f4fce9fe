"""`^import` from Slack end to end: a spreadsheet uploaded to the channel with the command
as its message is downloaded with the bot token, imported in the background, and
reported in the upload's thread (one progress message, the summary, the rejects file);
a bad request, file or header gets an answer there and stores nothing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from slack_sdk import WebClient

from bot.sandbox.signing import slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.settings import load_settings
from bot.slack.imports import ImportRequest, Progress, SlackImports
from storage.lists_models import APPLIES, CANDIDATES, LIST_MEMBERS, LISTS
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot

HEADER = ["First Name", "Last Name", "Mobile", "Email", "Opt In", "City", "Source"]
ROWS = [
    ["Ana", "López", "(512) 555-0101", "ana@example.com", "yes", "Austin", "indeed"],
    ["Ben", "Ruiz", "512-555-0102", "ben@example.com", "no", "Dallas", "linkedin"],
    ["Cy", "Diaz", "555-0100", "cy@example.com", "yes", "Austin", "indeed"],
    ["Dee", "Park", "+1 512 555 0104", "dee@example", "yes", "Austin", "indeed"],
]


def csv_bytes(rows: list[list[str]] = ROWS, header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def xlsx_bytes(rows: list[list[str]] = ROWS, header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


class Uploads:
    """A teammate uploads files to the channel; what caretbot said back, and stored."""

    def __init__(self, caretbot: Caretbot, slack: FakeSlack) -> None:
        self.caretbot = caretbot
        self.slack = slack

    def upload(
        self,
        text: str,
        files: list[dict[str, Any]] | None,
        *,
        thread_ts: str | None = None,
        headers: dict[str, str] | None = None,
        envelope: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Slack's message event for the upload; returns the envelope it sent."""
        if envelope is None:
            envelope = slack_message_event(
                CHANNEL,
                TEAMMATE,
                text,
                thread_ts=thread_ts,
                files=files,
                subtype="file_share" if files else None,
            )
        response = self.caretbot.slack_post(envelope, extra_headers=headers)
        assert response.status_code == 200, response.text
        return envelope

    def thread(self, envelope: dict[str, Any]) -> list[str]:
        """caretbot's messages in the upload's thread, as they read now (after updates)."""
        ts = envelope["event"]["ts"]
        texts = []
        for post in self.slack.posts(CHANNEL, ts):
            message = self.slack.message(CHANNEL, post.ts)
            texts.append(message["text"] if message else post.text)
        return texts

    def wait_for(self, envelope: dict[str, Any], *fragments: str, timeout: float = 10) -> str:
        """The first message in the upload's thread containing every fragment."""
        return self.slack.wait_for(
            lambda: next(
                (t for t in self.thread(envelope) if all(f in t for f in fragments)), None
            ),
            timeout=timeout,
        )

    def count(self, table: sa.Table) -> int:
        with self.caretbot.db.read() as session:
            return int(session.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())

    def rejects_uploads(self) -> list[dict[str, Any]]:
        return [c.params for c in self.slack.calls("files.completeUploadExternal") if c.ok]


@pytest.fixture
def uploads(caretbot: Caretbot, slack: FakeSlack) -> Uploads:
    slack.add_user(TEAMMATE, real_name="Dana Reyes", tz="America/Chicago")
    return Uploads(caretbot, slack)


def test_a_csv_is_imported_with_progress_a_summary_and_the_rejects_file(
    uploads: Uploads, slack: FakeSlack
):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv", mimetype="text/csv")
    envelope = uploads.upload("^import Night nurses", [file])
    upload_ts = envelope["event"]["ts"]

    summary = uploads.wait_for(envelope, "import summary")
    assert "• 4 rows read (CSV, UTF-8, comma-separated)" in summary
    assert "• created: 2" in summary and "• rejected: 2" in summary
    assert "• added to list Night nurses: 2" in summary
    assert "row 4: column C (Mobile): phone 555-0100 has no area code" in summary
    progress = uploads.thread(envelope)[0]
    assert progress == "Imported *nurses.csv*."
    updates = [c.params["text"] for c in slack.calls("chat.update") if c.ok]
    assert updates[0] == 'Importing *nurses.csv* into the list "Night nurses"…'
    assert updates[-1] == "Imported *nurses.csv*."

    (upload,) = slack.wait_for(uploads.rejects_uploads)
    assert (upload["channel_id"], upload["thread_ts"]) == (CHANNEL, upload_ts)
    assert "2 rejected rows" in upload["initial_comment"]
    (rejects,) = [data for data in slack.uploads().values() if data]
    rejected = list(csv.reader(io.StringIO(rejects.decode("utf-8-sig"))))
    assert [row[2] for row in rejected[1:]] == ["555-0100", "'+1 512 555 0104"]  # formula-safe

    assert uploads.count(CANDIDATES) == 2
    assert uploads.count(APPLIES) == 2
    assert uploads.count(LIST_MEMBERS) == 2
    (download,) = slack.downloads()
    assert download == (file["id"], 200)


def test_an_xlsx_is_imported_too(uploads: Uploads, slack: FakeSlack):
    file = slack.add_file("nurses.xlsx", xlsx_bytes(), "xlsx")
    envelope = uploads.upload("^import", [file])

    summary = uploads.wait_for(envelope, "import summary")
    assert "• 4 rows read (" in summary and "• created: 2" in summary
    assert uploads.count(CANDIDATES) == 2


def test_header_problems_are_listed_with_column_number_and_letter_and_nothing_is_stored(
    uploads: Uploads, slack: FakeSlack
):
    header = ["First Name", "Last Name", "Mobile", "Mobile", "Opt In", "Shoe size"]
    rows = [["Ana", "López", "(512) 555-0101", "5125550109", "yes", "9"]]
    file = slack.add_file("bad.csv", csv_bytes(rows, header), "csv")
    envelope = uploads.upload("^import Night nurses", [file])

    answer = uploads.wait_for(envelope, "header has problems")
    assert "Nothing was stored." in answer
    lines = answer.splitlines()[1:]
    assert any(line.startswith("• column 4 (D) “Mobile”:") for line in lines), lines
    assert any(line.startswith("• column 6 (F) “Shoe size”:") for line in lines), lines
    assert any("email" in line for line in lines), lines
    assert uploads.count(CANDIDATES) == 0
    assert uploads.count(LISTS) == 0
    assert not uploads.rejects_uploads()


def test_a_file_that_is_not_a_spreadsheet_is_refused_without_a_download(
    uploads: Uploads, slack: FakeSlack
):
    file = slack.add_file("team.png", b"\x89PNG\r\n\x1a\n", "png", mimetype="image/png")
    envelope = uploads.upload("^import Night nurses", [file])

    answer = uploads.wait_for(envelope, "team.png")
    assert (
        answer == "*team.png* is a PNG file, not a spreadsheet: `^import` takes a CSV or XLSX file."
    )
    assert slack.downloads() == []
    assert uploads.count(LISTS) == 0


def test_an_import_without_a_file_says_how_to_attach_one(uploads: Uploads):
    envelope = uploads.upload("^import Night nurses", None)

    assert "There is no file on this message" in uploads.wait_for(envelope, "no file")


def test_a_bad_import_line_is_shown_with_its_caret(uploads: Uploads, slack: FakeSlack):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    envelope = uploads.upload("^import Night\nnurses", [file])

    answer = uploads.wait_for(envelope, "```")
    assert "^" in answer
    assert uploads.count(CANDIDATES) == 0


def test_a_retried_event_imports_once(uploads: Uploads, slack: FakeSlack):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    envelope = uploads.upload("^import Night nurses", [file])
    uploads.upload(
        "",
        None,
        envelope=envelope,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )

    uploads.wait_for(envelope, "import summary")
    slack.wait_for(uploads.rejects_uploads)
    assert len(slack.downloads()) == 1
    assert sum("import summary" in t for t in uploads.thread(envelope)) == 1
    assert uploads.count(CANDIDATES) == 2


def test_the_download_needs_the_bot_token(uploads: Uploads, slack: FakeSlack):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    url = file["url_private_download"]

    assert httpx.get(url).status_code == 403
    assert httpx.get(url, headers={"Authorization": "Bearer xoxb-other"}).status_code == 403
    assert httpx.get(url, headers={"Authorization": "Bearer xoxb-test-token"}).content == (
        csv_bytes()
    )

    envelope = uploads.upload("^import", [file])
    uploads.wait_for(envelope, "import summary")
    assert slack.downloads()[-1] == (file["id"], 200)


def test_a_failed_download_is_said_and_stores_nothing(uploads: Uploads, slack: FakeSlack):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    file["url_private_download"] = file["url_private_download"].replace(file["id"], "FGONE")
    envelope = uploads.upload("^import Night nurses", [file])

    answer = uploads.wait_for(envelope, "was not imported")
    assert answer == (
        "*nurses.csv* was not imported: Slack answered HTTP 404 to the download. "
        "Nothing was stored."
    )
    assert uploads.count(CANDIDATES) == 0
    assert uploads.count(LISTS) == 0


def test_import_with_a_file_in_a_thread_answers_that_it_works_in_the_channel(
    uploads: Uploads, slack: FakeSlack
):
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    uploads.upload("^import Night nurses", [file], thread_ts="1763900000.000100")

    told = slack.wait_for(lambda: [c for c in slack.calls("chat.postEphemeral") if c.ok])
    assert "works as a channel message with the file attached" in told[0].params["text"]
    assert told[0].params["user"] == TEAMMATE
    assert slack.downloads() == []


def test_active_apply_latest_makes_the_imported_apply_active_over_the_texted_one(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: Any
):
    caretbot = make_caretbot(ACTIVE_APPLY="latest")
    bridge = Bridge(caretbot, slack, twilio)
    uploads = Uploads(caretbot, slack)
    bridge.open_thread()  # CANDIDATE's first text: an sms apply, active
    rows = [["Ana", "López", CANDIDATE, "ana@example.com", "yes", "Austin", "indeed"]]
    file = slack.add_file("nurses.csv", csv_bytes(rows), "csv")
    envelope = uploads.upload("^import", [file])
    uploads.wait_for(envelope, "import summary")

    with caretbot.db.read() as session:
        found = session.execute(
            sa.select(APPLIES.c.origin, APPLIES.c.is_active).order_by(APPLIES.c.id)
        ).all()
    assert [tuple(row) for row in found] == [("sms", False), ("import", True)]


def test_slack_rate_limits_are_waited_out(uploads: Uploads, slack: FakeSlack):
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    file = slack.add_file("nurses.csv", csv_bytes(), "csv")
    envelope = uploads.upload("^import", [file])

    assert uploads.wait_for(envelope, "import summary")
    assert uploads.thread(envelope)[0] == "Imported *nurses.csv*."


def test_progress_is_one_message_updated_no_more_often_than_asked(slack: FakeSlack):
    now = [0.0]
    imports = SlackImports(
        settings=load_settings(SLACK_BOT_TOKEN="xoxb-test-token", SLACK_CHANNEL_ID=CHANNEL),
        db=None,  # type: ignore[arg-type]  # progress never touches the database
        client=WebClient(token="xoxb-test-token", base_url=slack.api_url),
        clock=lambda: now[0],
        progress_every=3,
    )
    request = ImportRequest("Ev1", CHANNEL, "1763900000.000100", TEAMMATE, None, ())
    progress = Progress(imports, request, "n.csv")
    progress.start()
    progress.importing()
    for at, fraction in [(1, 0.1), (2, 0.2), (3.5, 0.3), (4, 0.4), (7, 0.5), (7.5, 1.0)]:
        now[0] = at
        progress.read(fraction)
    progress.finish("Imported *n.csv*.")

    (post,) = slack.posts(CHANNEL)
    assert (post.thread_ts, post.text) == ("1763900000.000100", "Downloading *n.csv*…")
    assert [c.params["text"] for c in slack.calls("chat.update")] == [
        "Importing *n.csv*…",
        "Importing *n.csv*: 30% of the file read…",
        "Importing *n.csv*: 50% of the file read…",
        "Imported *n.csv*.",
    ]
