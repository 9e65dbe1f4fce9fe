"""The HTTP edge: one Starlette app serving Slack, Twilio and /healthz, with the outbox
dispatcher and the scheduler running beside it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import structlog
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import health
from bot.body_limits import BodyLimit
from bot.delivery.clients import slack_client
from bot.delivery.workers import Workers, make_workers
from bot.links import link_endpoint
from bot.settings import Settings
from bot.slack import file_proxy
from bot.slack.app import build_slack_app
from bot.slack.identity import SlackIdentity
from bot.sms.webhooks import TwilioWebhooks
from storage.db import Database

log = structlog.get_logger(__name__)

GIL_SWITCH_SECONDS = 0.0005


def create_app(settings: Settings, db: Database) -> Starlette:
    """The whole server; workers start with the app unless RUN_WORKERS is off."""
    slack = slack_client(settings)
    workers = make_workers(settings, db)
    identity = SlackIdentity(db=db, client=slack)
    bolt = build_slack_app(
        settings=settings, db=db, client=slack, wake=workers.wake.set, identity=identity
    )
    twilio = TwilioWebhooks(db=db, settings=settings, wake=workers.wake.set)

    async def slack_events(request: Request) -> Response:
        # Bolt reads the timestamp with int(): "yesterday" would be a 500, not a 401.
        timestamp = request.headers.get("x-slack-request-timestamp", "")
        if not (timestamp.isascii() and timestamp.isdigit()):
            log.warning("slack.bad_signature", problem="no numeric request timestamp")
            return JSONResponse({"error": "invalid request"}, status_code=401)
        body = await request.body()
        try:
            bolt_request = to_bolt_request(request, body)
        except ValueError as error:  # a body that is not the JSON or form it claims to be
            log.warning("slack.malformed_request", error=str(error))
            return Response("malformed request body", status_code=400)
        except (AttributeError, TypeError):  # JSON, but a list or a string: Bolt's .get fails
            log.warning("slack.malformed_request", error="the body is not a JSON object")
            return Response("malformed request body", status_code=400)
        response = await run_in_threadpool(bolt.dispatch, bolt_request)
        return to_starlette_response(response)

    # One thread for health checks: a load balancer's polls need no parallel queries,
    # and a pool of threads fighting over database connections is slower than one.
    health_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="healthz")

    async def healthz(_request: Request) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(health_thread, _health, settings, db, workers)

    async def readyz(_request: Request) -> Response:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(health_thread, _ready, settings, db, workers)

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        socket_mode: Any = None
        # The workers' threads share the GIL with the event loop; Python's default 5 ms
        # switch interval would leave a webhook waiting that long behind an outbox post.
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        if settings.RUN_WORKERS:
            workers.start()
        # Refresh the kept identity without holding start-up (Slack may be down).
        checking = threading.Thread(target=identity.check, name="slack-identity", daemon=True)
        checking.start()
        if settings.socket_mode:
            from slack_bolt.adapter.socket_mode import SocketModeHandler

            socket_mode = SocketModeHandler(bolt, settings.SLACK_APP_TOKEN, trace_enabled=False)
            socket_mode.connect()
        log.info("serve.started", socket_mode=settings.socket_mode, workers=settings.RUN_WORKERS)
        try:
            yield
        finally:
            if socket_mode is not None:
                socket_mode.close()
            workers.stop()
            checking.join(1)  # a check still waiting on Slack is let go (daemon thread)
            twilio.inbound.close()
            health_thread.shutdown(wait=False)
            log.info("serve.stopped")

    routes = [
        Route("/twilio/sms", twilio.sms, methods=["POST"]),
        Route("/twilio/status", twilio.status, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        # Images shared in Slack threads, for Twilio to fetch as MMS media (signed links).
        Route(
            file_proxy.ROUTE,
            file_proxy.file_route(
                file_proxy.SlackFiles(slack, settings.SLACK_BOT_TOKEN or ""),
                settings.media_url_secret,
            ),
            methods=["GET", "HEAD"],
        ),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/l/{code}", link_endpoint(db), methods=["GET"]),
    ]
    if not settings.socket_mode:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(BodyLimit)])
    app.state.workers = workers
    return app


def _health(settings: Settings, db: Database, workers: Workers) -> Response:
    running = workers.alive() if settings.RUN_WORKERS else None
    if running is False:
        log.error("health.workers_down")
    found = health.report(settings, db, running)
    return JSONResponse(found.body, status_code=200 if found.database_ok else 503)


def _ready(settings: Settings, db: Database, workers: Workers) -> Response:
    found = health.report(settings, db, workers.alive() if settings.RUN_WORKERS else None)
    if found.not_ready:
        return JSONResponse({"ready": False, "reasons": found.not_ready}, status_code=503)
    return JSONResponse({"ready": True, "reasons": []})
