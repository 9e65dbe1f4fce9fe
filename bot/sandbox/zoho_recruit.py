"""A stand-in for Zoho Recruit API v2 and Zoho's OAuth token endpoint, on loopback.

It follows ../shared/specs/zoho_recruit.md: `POST /oauth/v2/token` (refresh_token grant,
parameters in the query or a form body; failures are HTTP 200 with `{"error": ...}`;
too many refreshes answer `Access Denied`), `POST /recruit/v2/{Module}[/upsert]`
(at most 100 records, one item per record with its `code`, duplicates matched on the
`duplicate_check_fields`), `GET /recruit/v2/{Module}/search` (HTTP 204 with an empty
body when nothing matches), `Authorization: Zoho-oauthtoken ...` on every API call and
401 INVALID_TOKEN for an unknown or expired token.

Faults a test injects: `expire_tokens()`, `token_error("invalid_code")`,
`fail_next(429|500, times)`, `item_error(email, "MANDATORY_NOT_FOUND"|"DUPLICATE_DATA",
api_name)`, `slow_next(seconds)` (the records are stored first, as a server that
finishes its work after the client gave up). Run it on its own for benchmarks:

    python -m bot.sandbox.zoho_recruit --port 0
"""

from __future__ import annotations

import argparse
import itertools
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from bot.sandbox._http import FakeServer, Request, Response, wait_until

CLIENT_ID = "1000.CARETBOTTESTCLIENT"
CLIENT_SECRET = "c0ffee" * 7
REFRESH_TOKEN = "1000.refresh.caretbot"
MODULES = ("Candidates", "Contacts", "Clients", "Job_Openings")
MAX_RECORDS = 100
TOKEN_LIFETIME = 3600
# Zoho: more than 10 access tokens from one refresh token in 10 minutes is refused.
TOKENS_PER_WINDOW = 10
TOKEN_WINDOW_SECONDS = 600
# Field limits from the spec page; a longer value answers INVALID_DATA.
MAX_LENGTH = {
    "Candidates": {
        "First_Name": 40,
        "Last_Name": 80,
        "Email": 100,
        "Mobile": 30,
        "Phone": 30,
        "City": 30,
    },
    "Contacts": {"First_Name": 40, "Last_Name": 80, "Email": 100, "Mobile": 30},
}
MANDATORY = {"Candidates": ("Last_Name",), "Contacts": ("Last_Name", "Client_Name")}


@dataclass(frozen=True)
class ApiCall:
    """One request to the stand-in and its answer."""

    method: str
    path: str
    module: str | None
    body: Any
    params: dict[str, str]
    status: int
    at: float
    token: str | None


@dataclass
class _Fault:
    status: int
    remaining: int


@dataclass
class Stats:
    """Counters a benchmark reads: calls, records, and time spent answering."""

    calls: int = 0
    records: int = 0
    refreshes: int = 0
    busy_seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "records": self.records,
            "refreshes": self.refreshes,
            "busy_seconds": self.busy_seconds,
        }


@dataclass
class _Stored:
    id: str
    module: str
    fields: dict[str, Any]
    created: datetime
    modified: datetime
    writes: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)


def _zoho_time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


class FakeZohoRecruit(FakeServer):
    """Zoho accounts + Recruit API v2 on 127.0.0.1; thread-safe; records every call."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        refresh_token: str = REFRESH_TOKEN,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_token = refresh_token
        self.record = record
        self._lock = threading.RLock()
        self._ids = itertools.count(846336000000600001)
        self._cut = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Forget records, tokens, calls and faults."""
        with self._lock:
            self._cut.set()  # a slow answer of the previous test ends now
            self._records: dict[str, dict[str, _Stored]] = {m: {} for m in MODULES}
            self._tokens: dict[str, float] = {}
            self._issued: deque[float] = deque()
            self._calls: list[ApiCall] = []
            self._faults: deque[_Fault] = deque()
            self._token_error: str | None = None
            self._item_errors: dict[str, tuple[str, str]] = {}
            self._slow: deque[float] = deque()
            self._slow_for: dict[str, float] = {}
            self._cut = threading.Event()
            self.stats = Stats()

    def stop(self) -> None:
        self._cut.set()  # a slow answer in progress ends now
        super().stop()

    # Faults.

    def expire_tokens(self) -> None:
        """Every access token issued so far is now expired (Recruit answers 401)."""
        with self._lock:
            self._tokens.clear()

    def token_error(self, error: str | None = "invalid_code") -> None:
        """The token endpoint answers HTTP 200 `{"error": error}` (None: normal again)."""
        with self._lock:
            self._token_error = error

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """The next `times` Recruit API calls answer `status` (429 or 5xx)."""
        with self._lock:
            self._faults.append(_Fault(status, times))

    def item_error(self, email: str, code: str, api_name: str = "Last_Name") -> None:
        """Records with this email fail with `code` (MANDATORY_NOT_FOUND, DUPLICATE_DATA,
        INVALID_DATA) naming `api_name`, until cleared with code=""."""
        with self._lock:
            if code:
                self._item_errors[email.lower()] = (code, api_name)
            else:
                self._item_errors.pop(email.lower(), None)

    def slow_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` upserts store their records, then wait `seconds` to answer."""
        with self._lock:
            self._slow.extend([seconds] * times)

    def slow_for(self, email: str, seconds: float) -> None:
        """An upsert carrying this email stores its records, then waits `seconds`."""
        with self._lock:
            self._slow_for[email.lower()] = seconds

    def clear_faults(self) -> None:
        """No more injected faults (records, tokens and calls stay)."""
        with self._lock:
            self._faults.clear()
            self._token_error = None
            self._item_errors.clear()
            self._slow.clear()
            self._slow_for.clear()

    def add_record(self, module: str, fields: dict[str, Any]) -> str:
        """A record already in Recruit (an upsert of its email is then an update)."""
        with self._lock:
            now = datetime.now(UTC) - timedelta(days=30)
            stored = _Stored(str(next(self._ids)), module, dict(fields), now, now)
            self._records[module][str(fields["Email"]).lower()] = stored
            return stored.id

    # Queries.

    def records(self, module: str = "Candidates") -> list[dict[str, Any]]:
        """The module's records as Recruit holds them (with `id` and `writes`)."""
        with self._lock:
            return [
                {"id": s.id, "writes": s.writes, **s.fields} for s in self._records[module].values()
            ]

    def calls(self, kind: str | None = None) -> list[ApiCall]:
        """Calls, oldest first; `kind`: "token", "upsert", "insert" or "search"."""
        with self._lock:
            calls = list(self._calls)
        if kind is None:
            return calls
        return [c for c in calls if _kind(c.path) == kind]

    def upserted_emails(self, module: str = "Candidates") -> list[str]:
        """Every Email sent in an upsert of the module, in order, repeats kept."""
        return [
            str(record.get("Email"))
            for call in self.calls("upsert")
            if call.module == module and call.status == 200
            for record in call.body["data"]
        ]

    def wait_for(self, predicate: Any, timeout: float = 5.0) -> Any:
        return wait_until(predicate, timeout, lambda: f"{len(self.calls())} calls so far")

    # HTTP.

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        try:
            if request.path == "/oauth/v2/token" and request.method == "POST":
                status, payload = self._token(request)
                response = Response.json(payload, status=status)
                module = None
            elif request.path == "/_fake/stats":
                return Response.json(self.stats.as_dict())
            elif request.path.startswith("/recruit/v2/"):
                module, response = self._api(request)
            else:
                return Response.json({"code": "INVALID_URL_PATTERN"}, status=404)
        finally:
            with self._lock:
                self.stats.busy_seconds += time.perf_counter() - started
        return response

    def _log(self, request: Request, module: str | None, status: int, token: str | None) -> None:
        self.stats.calls += 1
        if self.record:
            self._calls.append(
                ApiCall(
                    method=request.method,
                    path=request.path,
                    module=module,
                    body=request.json() if request.content_type == "application/json" else None,
                    params={k: v[-1] for k, v in request.query.items()},
                    status=status,
                    at=time.monotonic(),
                    token=token,
                )
            )

    def _token(self, request: Request) -> tuple[int, dict[str, Any]]:
        params = {k: v[-1] for k, v in request.query.items()}
        if request.content_type == "application/x-www-form-urlencoded" and request.body:
            form = parse_qs(request.body.decode("utf-8"), keep_blank_values=True)
            params.update({k: v[-1] for k, v in form.items()})
        with self._lock:
            self.stats.refreshes += 1
            self._log(request, None, 200, None)
            if self._token_error:
                return 200, {"error": self._token_error}
            if params.get("grant_type") != "refresh_token":
                return 200, {"error": "unsupported_grant_type"}
            if params.get("client_id") != self.client_id:
                return 200, {"error": "invalid_client"}
            if params.get("client_secret") != self.client_secret:
                return 200, {"error": "invalid_client_secret"}
            if params.get("refresh_token") != self.refresh_token:
                return 200, {"error": "invalid_code"}
            now = time.monotonic()
            while self._issued and self._issued[0] < now - TOKEN_WINDOW_SECONDS:
                self._issued.popleft()
            if len(self._issued) >= TOKENS_PER_WINDOW:
                return 200, {
                    "error": "Access Denied",
                    "error_description": "You have made too many requests continuously.",
                }
            self._issued.append(now)
            token = f"1000.{uuid.uuid4().hex}.{uuid.uuid4().hex[:8]}"
            self._tokens[token] = now + TOKEN_LIFETIME
            return 200, {
                "access_token": token,
                "expires_in": TOKEN_LIFETIME,
                "api_domain": "https://www.zohoapis.com",
                "token_type": "Bearer",
            }

    def _api(self, request: Request) -> tuple[str | None, Response]:
        parts = request.path.removeprefix("/recruit/v2/").strip("/").split("/")
        module = parts[0]
        header = request.headers.get("authorization", "")
        token = header.removeprefix("Zoho-oauthtoken ").strip() if header else None
        slow = 0.0
        with self._lock:
            expires = self._tokens.get(token or "")
            if (
                not header.startswith("Zoho-oauthtoken ")
                or expires is None
                or (expires < time.monotonic())
            ):
                status, payload = 401, _error("INVALID_TOKEN", "invalid oauth token")
            elif module not in MODULES:
                status, payload = (
                    400,
                    _error("INVALID_MODULE", "the module name given seems to be invalid"),
                )
            elif self._faults:
                fault = self._faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.popleft()
                status = fault.status
                payload = (
                    _error("TOO_MANY_REQUESTS", "too many requests")
                    if status == 429
                    else _error("INTERNAL_ERROR", "internal error")
                )
            elif request.method == "GET" and parts[1:] == ["search"]:
                status, payload = self._search(module, request)
            elif request.method == "POST" and parts[1:] in ([], ["upsert"]):
                status, payload = self._write(module, request, upsert=parts[1:] == ["upsert"])
                if status == 200 and self._slow:
                    slow = self._slow.popleft()
                if status == 200 and self._slow_for:
                    emails = {str(r.get("Email", "")).lower() for r in request.json()["data"]}
                    slow = max([slow, *(self._slow_for.pop(e, 0.0) for e in emails)])
            else:
                status, payload = 400, _error("INVALID_URL_PATTERN", "please check the url")
            self._log(request, module, status, token)
        if slow:
            self._cut.wait(slow)
        if status == 204:
            return module, Response(status=204)
        return module, Response.json(payload, status=status)

    def _search(self, module: str, request: Request) -> tuple[int, dict[str, Any]]:
        query = {k: v[-1] for k, v in request.query.items()}
        email = query.get("email")
        criteria = query.get("criteria", "")
        if criteria.startswith("(Email:equals:") and criteria.endswith(")"):
            email = criteria[len("(Email:equals:") : -1]
        if not email:
            return 400, _error("REQUIRED_PARAM_MISSING", "one of criteria, email, phone, word")
        stored = self._records[module].get(email.lower())
        if stored is None:
            return 204, {}
        record = {
            "id": stored.id,
            **stored.fields,
            "Created_Time": _zoho_time(stored.created),
            "Modified_Time": _zoho_time(stored.modified),
        }
        return 200, {
            "data": [record],
            "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False},
        }

    def _write(self, module: str, request: Request, *, upsert: bool) -> tuple[int, dict[str, Any]]:
        try:
            body = request.json()
        except ValueError:
            return 400, _error("INVALID_DATA", "body is not JSON")
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data:
            return 400, _error("INVALID_DATA", "data is missing")
        if len(data) > MAX_RECORDS:
            return 400, _error("LIMIT_EXCEEDED", f"at most {MAX_RECORDS} records a call")
        check = body.get("duplicate_check_fields") or ["Email"]
        items = []
        any_failed = False
        for record in data:
            item = self._write_one(module, record, check, upsert)
            any_failed = any_failed or item["status"] == "error"
            items.append(item)
        self.stats.records += len(data)
        status = 200 if upsert else (202 if any_failed else 201)
        return status, {"data": items}

    def _write_one(
        self, module: str, record: dict[str, Any], check: list[str], upsert: bool
    ) -> dict[str, Any]:
        email = str(record.get("Email") or "").lower()
        injected = self._item_errors.get(email)
        if injected is not None:
            code, api_name = injected
            details: dict[str, Any] = {"api_name": api_name}
            if code == "DUPLICATE_DATA":
                details["duplicate_record"] = {"id": str(next(self._ids))}
            return {"code": code, "status": "error", "message": code.lower(), "details": details}
        for name in MANDATORY.get(module, ()):
            if record.get(name) in (None, "", {}):
                return {
                    "code": "MANDATORY_NOT_FOUND",
                    "status": "error",
                    "message": "required field not found",
                    "details": {"api_name": name},
                }
        for name, limit in MAX_LENGTH.get(module, {}).items():
            value = record.get(name)
            if isinstance(value, str) and len(value) > limit:
                return {
                    "code": "INVALID_DATA",
                    "status": "error",
                    "message": "invalid data",
                    "details": {
                        "api_name": name,
                        "maximum_length": limit,
                        "json_path": f"$.data[0].{name}",
                    },
                }
        now = datetime.now(UTC)
        stored = None
        matched_on = None
        if upsert:
            for name in check:
                value = record.get(name)
                if value:
                    stored = (
                        next(
                            (
                                s
                                for s in self._records[module].values()
                                if str(s.fields.get(name, "")).lower() == str(value).lower()
                            ),
                            None,
                        )
                        if name != "Email"
                        else self._records[module].get(str(value).lower())
                    )
                    if stored is not None:
                        matched_on = name
                        break
        elif email and email in self._records[module]:
            return {
                "code": "DUPLICATE_DATA",
                "status": "error",
                "message": "duplicate data",
                "details": {
                    "api_name": "Email",
                    "duplicate_record": {"id": self._records[module][email].id},
                },
            }
        if stored is None:
            stored = _Stored(str(next(self._ids)), module, dict(record), now, now)
            self._records[module][email or stored.id] = stored
            action, message = "insert", "record added"
        else:
            # Upsert does not change Candidate_Status of an existing candidate.
            update = {k: v for k, v in record.items() if k != "Candidate_Status"}
            stored.fields.update(update)
            stored.modified = now
            stored.writes += 1
            action, message = "update", "record updated"
        who = {"name": "caretbot", "id": "846336000000000001"}
        item: dict[str, Any] = {
            "code": "SUCCESS",
            "status": "success",
            "message": message,
            "details": {
                "id": stored.id,
                "Created_Time": _zoho_time(stored.created),
                "Modified_Time": _zoho_time(stored.modified),
                "Created_By": who,
                "Modified_By": who,
            },
        }
        if upsert:
            item["action"] = action
            item["duplicate_field"] = matched_on
        return item


def _error(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "details": {}, "message": message, "status": "error"}


def _kind(path: str) -> str:
    if path == "/oauth/v2/token":
        return "token"
    if path.endswith("/upsert"):
        return "upsert"
    if path.endswith("/search"):
        return "search"
    return "insert"


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; prints the base URL on stdout first (port 0 picks one)."""
    parser = argparse.ArgumentParser(description="Zoho Recruit stand-in for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--record", action="store_true", help="keep every call in memory")
    args = parser.parse_args(argv)
    fake = FakeZohoRecruit(record=args.record, host=args.host, port=args.port)
    fake.start()
    print(fake.url, flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
