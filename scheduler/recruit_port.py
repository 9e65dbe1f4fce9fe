"""What the push needs from Zoho Recruit, as the scheduler sees it: a port, no HTTP.

The scheduler never imports bot/ (DESIGN.md), so the push run talks to Recruit through
this protocol; bot/recruit/client.py implements it over HTTP and raises these errors.
The contract behind them is ../shared/specs/zoho_recruit.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

# Module API names, case-sensitive in Recruit's paths.
CANDIDATES = "Candidates"
CONTACTS = "Contacts"
MODULES = (CANDIDATES, CONTACTS)
# At most 100 records an insert or upsert call (more: HTTP 400 LIMIT_EXCEEDED).
MAX_RECORDS_PER_CALL = 100


@dataclass(frozen=True)
class ItemResult:
    """One item of an upsert answer, in the order the records were sent.

    `code` is Zoho's: SUCCESS, or MANDATORY_NOT_FOUND, DUPLICATE_DATA, INVALID_DATA...
    `action` is "insert" or "update" on success; `field` is the error's `details.api_name`.
    """

    code: str
    action: str | None = None
    record_id: str | None = None
    field: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.code == "SUCCESS"


@dataclass(frozen=True)
class FoundRecord:
    """A record a search found: its id and when Recruit created it (UTC)."""

    record_id: str
    created_time: datetime | None


class RecruitError(Exception):
    """A call to Recruit that did not succeed as a whole."""


class RecruitAuthError(RecruitError):
    """OAuth failed (the token endpoint's error body, a token refused twice, a scope
    mismatch). The message names the setting to fix; the run stops."""


class RecruitRejected(RecruitError):
    """The request itself was refused (400 INVALID_MODULE, LIMIT_EXCEEDED, 403
    NO_PERMISSION): retrying cannot help; the run stops."""


class RecruitUnavailable(RecruitError):
    """429 or 5xx still after the retries: Recruit did not take the records; the run
    leaves them for the next one."""


class RecruitOutcomeUnknown(RecruitError):
    """The call timed out or the connection dropped after the request went out: Recruit
    may have taken the records. The run leaves them pending; the next run looks them up."""


class Recruit(Protocol):
    """The two calls the push makes."""

    def upsert(self, module: str, records: list[dict[str, Any]]) -> list[ItemResult]:
        """Upsert up to 100 records by Email, running no workflow (`trigger: []`)."""
        ...

    def find_by_email(self, module: str, email: str) -> FoundRecord | None:
        """The module's record with that email, or None."""
        ...
