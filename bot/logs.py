"""structlog set-up: console on a terminal, JSON otherwise, one chain for stdlib loggers.

Phone numbers and message bodies never reach a log line: `mask_private` rewrites
them in every event, ours and those of uvicorn, Bolt, APScheduler and SQLAlchemy, and
in tracebacks; what libraries print of a request's body or a statement's parameters is
redacted (`redact_library_payloads`, `redact_tracebacks`), and the engine never puts
parameters in its exceptions (storage.db, hide_parameters).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

# Keys whose values are message text; they are replaced by their length.
BODY_KEYS = frozenset({"body", "text", "Body", "message_body"})
# Keys whose values are phone numbers; they keep only their last two digits.
PHONE_KEYS = frozenset({"phone", "to", "from_", "from", "To", "From", "number", "sender"})
# E.164 (+15125550100) and North American formats ((512) 555-0100, 512.555.0100).
_PHONE_IN_TEXT = re.compile(r"\+\d{8,15}|\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b")


def mask_phone(value: str) -> str:
    """+15551234567 -> +*********67: enough to tell two numbers apart, not to dial one."""
    digits = [c for c in value if c.isdigit()]
    if len(digits) < 4:
        return "*" * len(value)
    return ("+" if value.startswith("+") else "") + "*" * (len(digits) - 2) + "".join(digits[-2:])


def _mask_text(value: str) -> str:
    return _PHONE_IN_TEXT.sub(lambda m: mask_phone(m.group(0)), value)


def mask_private(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: hide phone numbers and message bodies."""
    for key, value in list(event.items()):
        if value is None or key == "timestamp":
            continue
        if key in BODY_KEYS:
            event[key] = f"<{len(str(value))} chars>"
        elif key in PHONE_KEYS:
            event[key] = mask_phone(str(value))
        elif isinstance(value, str):
            event[key] = _mask_text(value)
    return event


# What libraries put in their messages that is not theirs to log: Bolt writes a request's
# whole body when its signature fails ("body: {...}") and the body of an unhandled
# request as a dict; SQLAlchemy a statement's parameters; PostgreSQL the failing row.
_LIBRARY_PAYLOADS = [
    (re.compile(r"((?:[Rr]equest )?body|payload)(:|=)\s*.*"), r"\1\2 <redacted>"),
    (re.compile(r"\{.*\}"), "{<redacted>}"),
]
_TRACEBACK_PAYLOADS = [
    (re.compile(r"\[parameters: .*?\]$", re.MULTILINE), "[parameters: <redacted>]"),
    (re.compile(r"Failing row contains \(.*\)"), "Failing row contains (<redacted>)"),
    (re.compile(r"(Key \(.*?\)=)\(.*?\)"), r"\1(<redacted>)"),
    (re.compile(r"(body: ).*"), r"\1<redacted>"),
]


def _redact(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def redact_library_payloads(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor for the standard library's records (Bolt, slack_sdk, uvicorn,
    SQLAlchemy): a request body, payload or dict in a message becomes <redacted>."""
    message = event.get("event")
    if isinstance(message, str):
        event["event"] = _redact(message, _LIBRARY_PAYLOADS)
    return event


def redact_tracebacks(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor, after format_exc_info: a traceback's exception messages keep
    no SQL parameters, failing rows, key values or bodies."""
    exception = event.get("exception")
    if isinstance(exception, str):
        event["exception"] = _redact(exception, _TRACEBACK_PAYLOADS)
    return event


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Route structlog and the standard library through one processor chain.

    caretbot's own events go straight to stderr (structlog's native logger: a webhook's
    log line costs microseconds, not the stdlib's tens); the standard library's records
    (uvicorn, Bolt, APScheduler, SQLAlchemy) pass through the same processors.
    Tracebacks are rendered to text first and then masked like any other value, so an
    exception's message cannot carry a number or a text past the masking.
    """
    if json is None:
        json = not sys.stderr.isatty()
    head: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    tail: list[Any] = [structlog.processors.format_exc_info, redact_tracebacks, mask_private]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=sys.stderr.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    handler = logging.StreamHandler(sys.stderr)
    structlog.configure(
        processors=[*head, *tail, renderer],
        logger_factory=structlog.WriteLoggerFactory(file=_HandlerStream(handler)),  # type: ignore[arg-type]
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *head,
            structlog.stdlib.add_logger_name,
            structlog.stdlib.ExtraAdder(),
            redact_library_payloads,
            *tail,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            renderer,
        ],
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "slack_bolt", "apscheduler"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Access logs would print every webhook; errors still come through uvicorn.error.
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
    for name in ("sqlalchemy", "alembic", "apscheduler", "httpx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # twilio-python logs request bodies (phone numbers, texts) at INFO.
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


class _HandlerStream:
    """Writes wherever the stdlib handler writes, so both kinds of line share a stream."""

    def __init__(self, handler: logging.StreamHandler[Any]) -> None:
        self.handler = handler

    def write(self, text: str) -> int:
        return self.handler.stream.write(text)

    def flush(self) -> None:
        self.handler.stream.flush()
