"""The demo page and its JSON API, added to caretbot's Starlette app by `caretbot demo`
only (`caretbot serve` never has these routes).

GET  /                      the page (static/index.html), /demo/static/* its CSS and script
GET  /demo/api/state        Sandbox.snapshot(): polled by the page about once a second
POST /demo/api/text         {"number", "body", "picture": bool}: the candidate texts in
POST /demo/api/say          {"user", "text", "thread_ts"}: a teammate writes in the channel
POST /demo/api/click        {"user", "ts", "action"}: a teammate clicks a card's element
POST /demo/api/home         {"user"}: a teammate opens the App Home tab
POST /demo/api/home-click   {"user", "action"}: a click in the App Home tab
POST /demo/api/fail         {"kind"}: arm a failure of the next send (Sandbox.FAILURES)
POST /demo/api/sample       import the sample candidates into the list "Demo sample"
POST /demo/api/run          {"command": "caretbot lists"}: a caretbot command (terminal.py)
GET  /demo/picture.png      the picture a candidate sends as MMS

Answers are JSON; a bad request gets 400 {"error": "..."} and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.sandbox import terminal
from bot.sandbox.world import SAMPLE_FILE, SAMPLE_LIST, Sandbox, sample_phone_numbers
from bot.settings import Settings
from storage.db import Database

STATIC = Path(__file__).with_name("static")
log = structlog.get_logger(__name__)

Handler = Callable[[dict[str, Any]], dict[str, Any]]


class BadRequest(ValueError):
    """A request the page should not have sent: answered 400 with its message."""


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 4000) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if required and not value.strip():
        raise BadRequest(f"{name} is required")
    if len(value) > limit:
        raise BadRequest(f"{name} is longer than {limit} characters")
    return value


def demo_routes(sandbox: Sandbox, db: Database) -> list[BaseRoute]:
    """The page's routes for one sandbox and caretbot's database (the sample import)."""

    def user_of(body: dict[str, Any]) -> str:
        user = _text(body, "user")
        if user not in {t["id"] for t in sandbox.snapshot()["teammates"]}:
            raise BadRequest(f"unknown teammate {user}")
        return user

    def action_of(body: dict[str, Any]) -> dict[str, Any]:
        action = body.get("action")
        if not isinstance(action, dict) or not isinstance(action.get("action_id"), str):
            raise BadRequest("action must be a Block Kit element with an action_id")
        return action

    def text(body: dict[str, Any]) -> dict[str, Any]:
        picture = bool(body.get("picture"))
        message = _text(body, "body", required=not picture, limit=1600)
        try:
            answer = sandbox.text_in(
                _text(body, "number").strip(),
                message,
                sandbox.public_url + "/demo/picture.png" if picture else None,
            )
        except ValueError as error:
            raise BadRequest(str(error)) from None
        return {"status": answer.status}

    def say(body: dict[str, Any]) -> dict[str, Any]:
        thread_ts = body.get("thread_ts") or None
        if thread_ts is not None and not isinstance(thread_ts, str):
            raise BadRequest("thread_ts must be a string")
        ts, answer = sandbox.team.say(user_of(body), _text(body, "text"), thread_ts)
        return {"ts": ts, "status": answer.status}

    def click(body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = sandbox.team.click(user_of(body), _text(body, "ts"), action_of(body))
        except LookupError as error:
            raise BadRequest(str(error)) from None
        return {"status": answer.status}

    def home(body: dict[str, Any]) -> dict[str, Any]:
        return {"status": sandbox.team.open_home(user_of(body)).status}

    def home_click(body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = sandbox.team.click_home(user_of(body), action_of(body))
        except LookupError as error:
            raise BadRequest(str(error)) from None
        return {"status": answer.status}

    def fail(body: dict[str, Any]) -> dict[str, Any]:
        try:
            return {"armed": sandbox.arm_failure(_text(body, "kind"))}
        except KeyError:
            raise BadRequest(f"unknown failure {body.get('kind')!r}") from None

    def sample(_body: dict[str, Any]) -> dict[str, Any]:
        lines = load_sample(sandbox, db)
        return {"summary": lines}

    def run_command(body: dict[str, Any]) -> dict[str, Any]:
        try:
            argv = terminal.parse_line(_text(body, "command", limit=2000))
            done = terminal.run(argv, sandbox.environment())
        except (terminal.CommandRefused, TimeoutError) as error:
            raise BadRequest(str(error)) from None
        sandbox.notice(f"ran caretbot {argv[0]}: exit status {done.exit_status}")
        return {"argv": done.argv, "exit_status": done.exit_status, "output": done.output}

    def post(handler: Handler) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise BadRequest("the body must be a JSON object")
                answer = await run_in_threadpool(handler, body)
            except (BadRequest, json.JSONDecodeError) as error:
                return JSONResponse({"error": str(error)}, status_code=400)
            return JSONResponse(answer)

        return endpoint

    async def state(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        user = request.query_params.get("home") or None
        return JSONResponse(await run_in_threadpool(sandbox.snapshot, user))

    async def page(_request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8")

    async def picture(_request: Request) -> Response:
        return FileResponse(STATIC / "picture.png", media_type="image/png")

    return [
        Route("/", page, methods=["GET"]),
        Route("/demo/picture.png", picture, methods=["GET", "HEAD"]),
        Route("/demo/api/state", state, methods=["GET"]),
        Route("/demo/api/text", post(text), methods=["POST"]),
        Route("/demo/api/say", post(say), methods=["POST"]),
        Route("/demo/api/click", post(click), methods=["POST"]),
        Route("/demo/api/home", post(home), methods=["POST"]),
        Route("/demo/api/home-click", post(home_click), methods=["POST"]),
        Route("/demo/api/fail", post(fail), methods=["POST"]),
        Route("/demo/api/sample", post(sample), methods=["POST"]),
        Route("/demo/api/run", post(run_command), methods=["POST"]),
        Mount("/demo/static", app=StaticFiles(directory=STATIC), name="demo-static"),
    ]


def demo_app(sandbox: Sandbox, settings: Settings, db: Database) -> Starlette:
    """caretbot's own app (`bot.server.create_app`, as `serve` runs it) with the page's
    routes in front: `serve` has no `/`, and the page's paths never shadow caretbot's
    (/slack/events, /twilio/*, /healthz, the media route)."""
    from bot.server import create_app

    app = create_app(settings, db)
    app.router.routes[0:0] = demo_routes(sandbox, db)
    return app


def load_sample(sandbox: Sandbox, db: Database) -> list[str]:
    """Import the shipped sample candidates into the list SAMPLE_LIST (upserting by
    phone, so loading twice changes nothing); returns the import's summary lines."""
    from storage.imports import ImportOptions, import_file

    summary = import_file(
        SAMPLE_FILE,
        db=db,
        options=ImportOptions(
            list_name=SAMPLE_LIST, custom=True, opt_in_source="caretbot demo sample"
        ),
    )
    sandbox.sample_numbers = sample_phone_numbers()
    lines = summary.lines()
    sandbox.notice(f"sample loaded into the list “{SAMPLE_LIST}”: " + "; ".join(lines))
    log.info("demo.sample_loaded", rows=summary.rows, created=summary.created)
    return lines
