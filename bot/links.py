"""GET /l/CODE: a tracked link in a blast text. Records the click, then 302 to the URL."""

from __future__ import annotations

import re

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from storage import blasts
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

_CODE = re.compile(r"^[A-Za-z0-9_-]{4,32}$")


def link_endpoint(db: Database):  # noqa: ANN201 - a Starlette endpoint
    """The endpoint for `/l/{code}`: 302 to the original URL, 404 for an unknown code."""

    def click(code: str) -> str | None:
        with db.write() as session:
            return blasts.record_click(session=session, code=code, now=utcnow())

    async def endpoint(request: Request) -> Response:
        code = request.path_params["code"]
        url = await run_in_threadpool(click, code) if _CODE.match(code) else None
        if url is None:
            log.info("link.unknown")
            return PlainTextResponse("This link is not known.", status_code=404)
        log.info("link.clicked", code=code)
        return RedirectResponse(url, status_code=302)

    return endpoint
