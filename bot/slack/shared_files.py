"""Files a teammate shares in a conversation thread: which go to the candidate as MMS
images, and which cannot and why (told to the teammate alone)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.file_proxy import MMS_IMAGE_TYPES, MMS_MAX_BYTES, MMS_MAX_MEDIA
from grammar.slack_text import escape

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SharedFiles:
    """`media`: the images to send ({file_id, name, content_type}); `not_sent`: one line
    per file that is not sent, saying why."""

    media: list[dict[str, str]] = field(default_factory=list)
    not_sent: list[str] = field(default_factory=list)


def sort_files(
    files: Sequence[Mapping[str, Any]], info: Callable[[str], Mapping[str, Any] | None]
) -> SharedFiles:
    """Split a file_share message's files into MMS images and the rest.

    A file Slack describes only by id (`file_access: check_file_info`) is looked up with
    `info` (files.info). Twilio sends JPEG, PNG and GIF as MMS, up to 5 MB and 10 a
    message (the MediaUrl parameter of Create a Message).
    """
    sorted_files = SharedFiles()
    for shared in files:
        file = dict(shared)
        if not file.get("mimetype") and file.get("id"):
            try:
                file = dict(info(str(file["id"])) or file)
            except (SlackApiError, OSError, requests.RequestException) as error:
                log.warning("slack.file_info_failed", file=file["id"], error=repr(error))
        name = escape(str(file.get("name") or file.get("title") or "a file"))
        kind = escape(
            str(file.get("pretty_type") or file.get("filetype") or file.get("mimetype") or "")
        )
        size = int(file.get("size") or 0)
        if file.get("mimetype") not in MMS_IMAGE_TYPES or not file.get("id"):
            sorted_files.not_sent.append(
                f"*{name}*{f' ({kind})' if kind else ''}: a text can carry only JPEG, PNG or "
                "GIF images. Share a link to it instead."
            )
        elif size > MMS_MAX_BYTES:
            sorted_files.not_sent.append(
                f"*{name}*: it is {size / 1024 / 1024:.1f} MB, and a text can carry images "
                "of up to 5 MB."
            )
        elif len(sorted_files.media) >= MMS_MAX_MEDIA:
            sorted_files.not_sent.append(f"*{name}*: a text can carry at most 10 images.")
        else:
            sorted_files.media.append(
                {
                    "file_id": str(file["id"]),
                    "name": str(file.get("name") or "image"),
                    "content_type": str(file["mimetype"]),
                }
            )
    return sorted_files


def tell_not_sent(client: WebClient, event: Mapping[str, Any], not_sent: list[str]) -> None:
    """Tell the teammate alone (chat.postEphemeral, in the thread) which files were not
    texted and why."""
    lines = "\n".join(f"• {line}" for line in not_sent)
    try:
        client.chat_postEphemeral(
            channel=event["channel"],
            user=event["user"],
            thread_ts=event["thread_ts"],
            text=f"Not texted to the candidate:\n{lines}",
        )
    except (SlackApiError, OSError, requests.RequestException) as error:
        log.warning("slack.ephemeral_failed", error=repr(error))
