"""The Zoho Recruit client against the stand-in: OAuth, upsert, search, faults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.recruit.client import (
    DATA_CENTRES,
    Credentials,
    MemoryTokens,
    RecruitClient,
    base_urls,
)
from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZohoRecruit
from scheduler.recruit_port import (
    RecruitAuthError,
    RecruitOutcomeUnknown,
    RecruitUnavailable,
)

CREDENTIALS = Credentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN)


@pytest.fixture(scope="module")
def _zoho_server() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


@pytest.fixture
def zoho(_zoho_server: FakeZohoRecruit) -> FakeZohoRecruit:
    _zoho_server.reset()
    return _zoho_server


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_client(
    zoho: FakeZohoRecruit,
    tokens: MemoryTokens | None = None,
    credentials: Credentials = CREDENTIALS,
    **options: object,
) -> RecruitClient:
    return RecruitClient(
        credentials=credentials,
        accounts_url=zoho.url,
        recruit_url=zoho.url,
        tokens=tokens or MemoryTokens(),
        **options,  # type: ignore[arg-type]
    )


def person(n: int, **fields: object) -> dict[str, object]:
    return {
        "First_Name": "Zoë",
        "Last_Name": f"Núñez-{n}",
        "Email": f"zoe.{n}@example.com",
        "Mobile": f"+1512555{n:04d}",
        **fields,
    }


def test_data_centres_pick_accounts_and_recruit_hosts_unless_overridden() -> None:
    assert base_urls("eu") == ("https://accounts.zoho.eu", "https://recruit.zoho.eu")
    assert base_urls("AU")[1] == "https://recruit.zoho.com.au"
    assert set(DATA_CENTRES) == {"us", "eu", "in", "au", "cn", "jp"}
    assert base_urls("us", "http://127.0.0.1:9/", "http://127.0.0.1:8") == (
        "http://127.0.0.1:9",
        "http://127.0.0.1:8",
    )


def test_upsert_sends_email_duplicate_check_no_triggers_and_reads_each_item(
    zoho: FakeZohoRecruit,
) -> None:
    existing = zoho.add_record("Candidates", person(2))
    client = make_client(zoho)
    results = client.upsert("Candidates", [person(1), person(2, City="São Paulo")])
    assert [(r.code, r.action) for r in results] == [("SUCCESS", "insert"), ("SUCCESS", "update")]
    assert results[1].record_id == existing
    assert results[0].record_id and results[0].record_id != existing
    (call,) = zoho.calls("upsert")
    assert call.path == "/recruit/v2/Candidates/upsert"
    assert call.body["duplicate_check_fields"] == ["Email"]
    assert call.body["trigger"] == []
    assert call.body["data"][0]["Last_Name"] == "Núñez-1"


def test_item_errors_carry_their_code_and_field(zoho: FakeZohoRecruit) -> None:
    zoho.item_error("zoe.2@example.com", "DUPLICATE_DATA", "Mobile")
    client = make_client(zoho)
    results = client.upsert(
        "Contacts",
        [
            person(1, Client_Name={"name": "Acme Health"}),
            person(2, Client_Name={"name": "Acme"}),
            person(3),
        ],
    )
    assert [(r.code, r.field) for r in results] == [
        ("SUCCESS", None),
        ("DUPLICATE_DATA", "Mobile"),
        ("MANDATORY_NOT_FOUND", "Client_Name"),
    ]
    assert results[2].record_id is None


def test_an_access_token_is_reused_until_it_expires(zoho: FakeZohoRecruit) -> None:
    tokens = MemoryTokens()
    now = [datetime(2026, 12, 3, 18, 0, tzinfo=UTC)]
    client = make_client(zoho, tokens, clock=lambda: now[0])
    for n in range(3):
        client.upsert("Candidates", [person(n)])
    # Another process sharing the store uses the same token.
    make_client(zoho, tokens, clock=lambda: now[0]).upsert("Candidates", [person(9)])
    assert len(zoho.calls("token")) == 1
    now[0] += timedelta(minutes=59, seconds=30)  # within the one-minute margin
    client.upsert("Candidates", [person(10)])
    assert len(zoho.calls("token")) == 2
    token_call = zoho.calls("token")[0]
    assert token_call.method == "POST"


def test_an_expired_token_is_refreshed_once_and_the_call_retried_once(
    zoho: FakeZohoRecruit,
) -> None:
    client = make_client(zoho)
    client.upsert("Candidates", [person(1)])
    zoho.expire_tokens()
    (result,) = client.upsert("Candidates", [person(2)])
    assert result.ok
    statuses = [c.status for c in zoho.calls() if c.module]
    assert statuses == [200, 401, 200]
    assert len(zoho.calls("token")) == 2
    assert zoho.upserted_emails() == ["zoe.1@example.com", "zoe.2@example.com"]


def test_a_token_refused_after_a_refresh_stops_with_the_setting_named(
    zoho: FakeZohoRecruit,
) -> None:
    tokens = MemoryTokens()
    client = make_client(zoho, tokens)
    client.upsert("Candidates", [person(1)])

    class Forgetful(MemoryTokens):
        def save(self, key: str, token: str, expires_at: datetime) -> None:
            zoho.expire_tokens()  # every new token is refused at once
            super().save(key, token, expires_at)

    zoho.expire_tokens()
    with pytest.raises(RecruitAuthError, match="ZOHO_REFRESH_TOKEN"):
        make_client(zoho, Forgetful()).upsert("Candidates", [person(2)])
    assert len([c for c in zoho.calls() if c.status == 401]) == 2  # one retry, no loop


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        ("invalid_code", "ZOHO_REFRESH_TOKEN"),
        ("invalid_client", "ZOHO_CLIENT_ID"),
        ("Access Denied", "too many refreshes"),
    ],
)
def test_an_error_body_from_the_token_endpoint_names_the_setting(
    zoho: FakeZohoRecruit, error: str, setting: str
) -> None:
    zoho.token_error(error)
    with pytest.raises(RecruitAuthError) as raised:
        make_client(zoho).upsert("Candidates", [person(1)])
    assert setting in str(raised.value)
    assert zoho.calls("upsert") == []


def test_wrong_credentials_are_told_apart(zoho: FakeZohoRecruit) -> None:
    wrong_secret = Credentials(CLIENT_ID, "nope", REFRESH_TOKEN)
    with pytest.raises(RecruitAuthError, match="ZOHO_CLIENT_SECRET"):
        make_client(zoho, credentials=wrong_secret).upsert("Candidates", [person(1)])
    wrong_token = Credentials(CLIENT_ID, CLIENT_SECRET, "1000.revoked")
    with pytest.raises(RecruitAuthError, match="ZOHO_REFRESH_TOKEN"):
        make_client(zoho, credentials=wrong_token).upsert("Candidates", [person(1)])


def test_429_and_5xx_are_retried_with_growing_backoff(zoho: FakeZohoRecruit) -> None:
    sleeps = Sleeps()
    zoho.fail_next(429, times=2)
    zoho.fail_next(500, times=1)
    (result,) = make_client(zoho, sleep=sleeps, backoff=1.0).upsert("Candidates", [person(1)])
    assert result.ok
    assert len(sleeps) == 3
    assert 0.8 <= sleeps[0] <= 1.2 and 1.6 <= sleeps[1] <= 2.4 and 3.2 <= sleeps[2] <= 4.8
    assert zoho.upserted_emails() == ["zoe.1@example.com"]


def test_recruit_still_failing_after_the_last_try_is_unavailable(zoho: FakeZohoRecruit) -> None:
    sleeps = Sleeps()
    zoho.fail_next(503, times=10)
    with pytest.raises(RecruitUnavailable, match="503"):
        make_client(zoho, sleep=sleeps, attempts=3).upsert("Candidates", [person(1)])
    assert len(sleeps) == 2
    assert zoho.records() == []


def test_a_slow_answer_past_the_timeout_is_an_unknown_outcome_found_by_search(
    zoho: FakeZohoRecruit,
) -> None:
    zoho.slow_next(2.0)
    client = make_client(zoho, timeout=0.3)
    with pytest.raises(RecruitOutcomeUnknown):
        client.upsert("Candidates", [person(1)])
    assert len(zoho.calls("upsert")) == 1  # never sent twice by the client itself
    found = client.find_by_email("Candidates", "ZOE.1@example.com")
    assert found is not None and found.record_id == zoho.records()[0]["id"]
    assert found.created_time is not None
    assert client.find_by_email("Candidates", "nobody@example.com") is None
    assert zoho.calls("search")[-1].status == 204


def test_a_slow_answer_within_the_timeout_is_just_slow(zoho: FakeZohoRecruit) -> None:
    zoho.slow_next(0.2)
    (result,) = make_client(zoho, timeout=5).upsert("Candidates", [person(1)])
    assert result.ok and result.action == "insert"


def test_more_than_100_records_is_refused_before_any_call(zoho: FakeZohoRecruit) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        make_client(zoho).upsert("Candidates", [person(n) for n in range(101)])
    with pytest.raises(ValueError, match="Candidates or Contacts"):
        make_client(zoho).upsert("candidates", [person(1)])
    assert zoho.calls() == []
