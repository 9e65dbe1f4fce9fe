"""The Zoho Recruit API v2 client: OAuth refresh tokens, upsert, search, retries.

It follows ../shared/specs/zoho_recruit.md:

- An access token comes from `POST {accounts}/oauth/v2/token` with the refresh token.
  Zoho throttles refreshes (about 5 a minute, 10 tokens a refresh token in 10 minutes),
  so a token is reused until a minute before it expires, and kept in a `TokenStore`
  (the database) so that `serve` and `caretbot push run` share it. The token endpoint
  answers failures with HTTP 200 and `{"error": ...}`: read the body, not the status.
- 401 `INVALID_TOKEN`: refresh once and retry the call once.
- 429 and 5xx: retried with exponential backoff; after the last try the records are
  left for the next run (`RecruitUnavailable`).
- A call that timed out after the request went out may have been done by Recruit:
  `RecruitOutcomeUnknown`, which the run answers by looking the records up next time.
- Upsert: at most 100 records, `duplicate_check_fields: ["Email"]`, `trigger: []` (no
  workflow, approval or blueprint runs); every item's `code` is read.

The Recruit host comes from the data centre (or ZOHO_RECRUIT_URL), never from the token
answer's `api_domain` (www.zohoapis.com does not serve Recruit).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import requests
import structlog

from scheduler.recruit_port import (
    MAX_RECORDS_PER_CALL,
    MODULES,
    FoundRecord,
    ItemResult,
    RecruitAuthError,
    RecruitOutcomeUnknown,
    RecruitRejected,
    RecruitUnavailable,
)

log = structlog.get_logger(__name__)

# (accounts, recruit) base URLs per data centre, from Zoho's multi-DC pages.
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "us": ("https://accounts.zoho.com", "https://recruit.zoho.com"),
    "eu": ("https://accounts.zoho.eu", "https://recruit.zoho.eu"),
    "in": ("https://accounts.zoho.in", "https://recruit.zoho.in"),
    "au": ("https://accounts.zoho.com.au", "https://recruit.zoho.com.au"),
    "cn": ("https://accounts.zoho.com.cn", "https://recruit.zoho.com.cn"),
    "jp": ("https://accounts.zoho.jp", "https://recruit.zoho.jp"),
}
TOKEN_PATH = "/oauth/v2/token"
API_PATH = "/recruit/v2"
# A token is refreshed this long before Zoho says it expires (clock skew, a slow call).
EXPIRY_MARGIN = timedelta(seconds=60)
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_ATTEMPTS = 5
MAX_BACKOFF_SECONDS = 60.0

# The token endpoint's error values, and the setting each points at.
_TOKEN_ERRORS = {
    "invalid_client": (
        "ZOHO_CLIENT_ID / ZOHO_CLIENT_SECRET",
        "Zoho does not know this client in this data centre: check ZOHO_CLIENT_ID and "
        "ZOHO_CLIENT_SECRET, and that ZOHO_DATA_CENTRE is where the client was created",
    ),
    "invalid_client_secret": (
        "ZOHO_CLIENT_SECRET",
        "the client secret is wrong: copy it again into ZOHO_CLIENT_SECRET",
    ),
    "invalid_code": (
        "ZOHO_REFRESH_TOKEN",
        "the refresh token is not valid (revoked, mistyped, or from another client or "
        "data centre): generate a new one and put it into ZOHO_REFRESH_TOKEN",
    ),
    "invalid_grant": (
        "ZOHO_REFRESH_TOKEN",
        "the refresh token was refused: generate a new one and put it into ZOHO_REFRESH_TOKEN",
    ),
    "access denied": (
        "ZOHO_REFRESH_TOKEN",
        "Zoho refused to issue more access tokens for now (too many refreshes): wait a few "
        "minutes; if it persists, check that nothing else uses ZOHO_REFRESH_TOKEN",
    ),
}


class TokenStore(Protocol):
    """Where access tokens are kept between calls and processes."""

    def load(self, key: str) -> tuple[str, datetime] | None:
        """The stored (access token, expiry in UTC) for `key`, if any."""
        ...

    def save(self, key: str, token: str, expires_at: datetime) -> None:
        """Keep a new access token until `expires_at` (UTC)."""
        ...


class MemoryTokens:
    """A TokenStore in memory (one process; tests and benchmarks)."""

    def __init__(self) -> None:
        self._tokens: dict[str, tuple[str, datetime]] = {}

    def load(self, key: str) -> tuple[str, datetime] | None:
        return self._tokens.get(key)

    def save(self, key: str, token: str, expires_at: datetime) -> None:
        self._tokens[key] = (token, expires_at)


@dataclass(frozen=True)
class Credentials:
    """A self client's offline access: what the token endpoint needs."""

    client_id: str
    client_secret: str
    refresh_token: str


def base_urls(
    data_centre: str, accounts_url: str | None = None, recruit_url: str | None = None
) -> tuple[str, str]:
    """(accounts, recruit) base URLs: the data centre's, unless overridden."""
    accounts, recruit = DATA_CENTRES[data_centre.lower()]
    return (accounts_url or accounts).rstrip("/"), (recruit_url or recruit).rstrip("/")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RecruitClient:
    """Zoho Recruit API v2 over HTTP; implements scheduler.recruit_port.Recruit.

    `attempts`: tries for a call answered 429 or 5xx (or a search that timed out);
    `backoff`: the first wait in seconds, doubled each time (with jitter), up to a minute.
    Errors: RecruitAuthError, RecruitRejected, RecruitUnavailable, RecruitOutcomeUnknown.
    """

    def __init__(
        self,
        *,
        credentials: Credentials,
        accounts_url: str,
        recruit_url: str,
        tokens: TokenStore,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.credentials = credentials
        self.accounts_url = accounts_url.rstrip("/")
        self.recruit_url = recruit_url.rstrip("/")
        self.tokens = tokens
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.clock = clock
        self.http = requests.Session()
        self.http.trust_env = False  # a proxy from the environment must not see tokens
        self._key = f"{self.accounts_url}|{credentials.client_id}"
        self.calls = 0  # API calls made (credits spent), for reports and benchmarks

    def close(self) -> None:
        """Close the HTTP connections."""
        self.http.close()

    # OAuth.

    def access_token(self, *, refused: str | None = None) -> str:
        """A live access token: the stored one, or a new one if it is missing, expiring,
        or is `refused` (Recruit just answered INVALID_TOKEN for it)."""
        stored = self.tokens.load(self._key)
        if stored is not None:
            token, expires_at = stored
            if token != refused and expires_at - EXPIRY_MARGIN > self.clock():
                return token
        return self._refresh()

    def _refresh(self) -> str:
        credentials = self.credentials
        data = {
            "grant_type": "refresh_token",
            "refresh_token": credentials.refresh_token,
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
        }
        url = self.accounts_url + TOKEN_PATH
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.post(url, data=data, timeout=self.timeout)
            except requests.RequestException as error:
                if attempt >= self.attempts:
                    raise RecruitUnavailable(
                        f"the Zoho accounts server at {self.accounts_url} did not answer: "
                        f"{type(error).__name__} (check ZOHO_DATA_CENTRE or ZOHO_ACCOUNTS_URL)"
                    ) from None
                self._wait(attempt, "token", None)
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if attempt >= self.attempts:
                    raise RecruitUnavailable(
                        f"the Zoho accounts server answered HTTP {response.status_code}"
                    )
                self._wait(attempt, "token", response.status_code)
                continue
            break
        body = _json(response)
        refusal = body.get("error") if isinstance(body, dict) else "not JSON"
        if refusal or response.status_code != 200 or not body.get("access_token"):
            raise RecruitAuthError(_explain_token_error(str(refusal or response.status_code)))
        token = str(body["access_token"])
        expires_at = self.clock() + timedelta(seconds=int(body.get("expires_in") or 3600))
        self.tokens.save(self._key, token, expires_at)
        log.info("recruit.token_refreshed", expires_at=expires_at.isoformat())
        return token

    # The API.

    def upsert(self, module: str, records: list[dict[str, Any]]) -> list[ItemResult]:
        """Upsert up to 100 records by Email; one ItemResult per record, in order."""
        _check_module(module)
        if not records:
            return []
        if len(records) > MAX_RECORDS_PER_CALL:
            raise ValueError(f"at most {MAX_RECORDS_PER_CALL} records a call, not {len(records)}")
        body = {"data": records, "duplicate_check_fields": ["Email"], "trigger": []}
        response = self._call("POST", f"/{module}/upsert", json_body=body, idempotent=False)
        payload = _json(response)
        items = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(items, list) or len(items) != len(records):
            # Recruit answered success but the items cannot be matched to the records:
            # it may have taken them, so they are looked up rather than sent again.
            raise RecruitOutcomeUnknown(
                f"Recruit's upsert answer has {len(items) if isinstance(items, list) else 'no'} "
                f"items for {len(records)} records"
            )
        results = [_item(item) for item in items]
        log.info(
            "recruit.upsert",
            module=module,
            records=len(records),
            failed=sum(1 for result in results if not result.ok),
        )
        return results

    def find_by_email(self, module: str, email: str) -> FoundRecord | None:
        """The module's record with that email (search; HTTP 204 means none)."""
        _check_module(module)
        response = self._call("GET", f"/{module}/search", params={"email": email}, idempotent=True)
        if response.status_code == 204 or not response.content:
            return None
        payload = _json(response)
        data = payload.get("data") if isinstance(payload, dict) else None
        if not data:
            return None
        record = data[0]
        return FoundRecord(
            record_id=str(record.get("id")), created_time=_when(record.get("Created_Time"))
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        idempotent: bool,
    ) -> requests.Response:
        url = self.recruit_url + API_PATH + path
        token = self.access_token()
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            try:
                response = self.http.request(
                    method,
                    url,
                    json=json_body,
                    params=params,
                    headers={"Authorization": f"Zoho-oauthtoken {token}"},
                    timeout=self.timeout,
                )
            except requests.ConnectionError as error:
                # Refused before anything was sent: safe to try again. A timeout or a
                # dropped connection after sending is not, for an upsert.
                sent = not isinstance(error, requests.ConnectTimeout) and _was_sent(error)
                if sent and not idempotent:
                    raise RecruitOutcomeUnknown(
                        f"Recruit did not answer {method} {path}: {type(error).__name__}"
                    ) from None
                if attempt >= self.attempts:
                    raise RecruitUnavailable(
                        f"Recruit at {self.recruit_url} did not answer: {type(error).__name__}"
                    ) from None
                self._wait(attempt, path, None)
                continue
            except requests.Timeout:
                if not idempotent:
                    raise RecruitOutcomeUnknown(
                        f"Recruit did not answer {method} {path} within {self.timeout:g} s"
                    ) from None
                if attempt >= self.attempts:
                    raise RecruitUnavailable(f"Recruit timed out on {method} {path}") from None
                self._wait(attempt, path, None)
                continue
            status = response.status_code
            if status == 401:
                code = _code(response)
                if code == "INVALID_TOKEN" and not refreshed:
                    refreshed = True
                    log.info("recruit.token_refused", path=path)
                    token = self.access_token(refused=token)
                    continue
                if code == "OAUTH_SCOPE_MISMATCH":
                    raise RecruitAuthError(
                        "Recruit says the token lacks the scope for this call "
                        "(OAUTH_SCOPE_MISMATCH): generate ZOHO_REFRESH_TOKEN again with the "
                        "scopes ZohoRecruit.modules.ALL,ZohoSearch.securesearch.READ"
                    )
                raise RecruitAuthError(
                    f"Recruit refused a freshly refreshed access token ({code}): check "
                    "ZOHO_REFRESH_TOKEN and that ZOHO_DATA_CENTRE is your account's"
                )
            if status == 429 or status >= 500:
                if attempt >= self.attempts:
                    raise RecruitUnavailable(
                        f"Recruit answered HTTP {status} ({_code(response)}) {attempt} times"
                    )
                self._wait(attempt, path, status)
                continue
            if status >= 400:
                code = _code(response)
                message = _message(response)
                raise RecruitRejected(f"Recruit refused {method} {path}: {code} {message}".strip())
            return response

    def _wait(self, attempt: int, what: str, status: int | None) -> None:
        delay = min(MAX_BACKOFF_SECONDS, self.backoff * 2 ** (attempt - 1))
        delay *= random.uniform(0.8, 1.2)
        log.info("recruit.retry", call=what, status=status, attempt=attempt, delay=round(delay, 3))
        self.sleep(delay)


def _check_module(module: str) -> None:
    if module not in MODULES:
        raise ValueError(f"the push writes to {' or '.join(MODULES)}, not {module!r}")


def _was_sent(error: requests.ConnectionError) -> bool:
    """Whether the request may have reached the server before the connection failed."""
    text = repr(error)
    return not any(
        sign in text
        for sign in ("NewConnectionError", "Connection refused", "Name or service not known")
    )


def _json(response: requests.Response) -> Any:
    try:
        return response.json() if response.content else {}
    except ValueError:
        return {}


def _code(response: requests.Response) -> str:
    body = _json(response)
    return str(body.get("code") or response.status_code) if isinstance(body, dict) else ""


def _message(response: requests.Response) -> str:
    body = _json(response)
    return str(body.get("message") or "") if isinstance(body, dict) else ""


def _item(item: Any) -> ItemResult:
    if not isinstance(item, dict):
        return ItemResult(code="UNREADABLE", message=repr(item)[:200])
    details = item.get("details") or {}
    if not isinstance(details, dict):
        details = {}
    code = str(item.get("code") or "UNREADABLE")
    return ItemResult(
        code=code,
        action=item.get("action"),
        record_id=str(details["id"]) if code == "SUCCESS" and details.get("id") else None,
        field=details.get("api_name"),
        message=str(item.get("message") or ""),
    )


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _explain_token_error(error: str) -> str:
    setting, advice = _TOKEN_ERRORS.get(
        error.lower(),
        ("ZOHO_REFRESH_TOKEN", "check ZOHO_CLIENT_ID, ZOHO_CLIENT_SECRET and ZOHO_REFRESH_TOKEN"),
    )
    return f"Zoho's token endpoint answered {error!r}: {advice}. Setting to fix: {setting}."


def client_for(settings: Any, tokens: TokenStore) -> RecruitClient:
    """The client the settings describe (bot.settings.Settings); SettingsError naming
    any Zoho setting that is missing."""
    from bot.settings import require_push

    require_push(settings)
    accounts_url, recruit_url = base_urls(
        settings.ZOHO_DATA_CENTRE, settings.ZOHO_ACCOUNTS_URL, settings.ZOHO_RECRUIT_URL
    )
    return RecruitClient(
        credentials=Credentials(
            client_id=settings.ZOHO_CLIENT_ID,
            client_secret=settings.ZOHO_CLIENT_SECRET,
            refresh_token=settings.ZOHO_REFRESH_TOKEN,
        ),
        accounts_url=accounts_url,
        recruit_url=recruit_url,
        tokens=tokens,
    )
