"""A push run against the Zoho Recruit stand-in, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.sandbox.zoho_recruit import FakeZohoRecruit
from scheduler.push import PushInProgress, report_text, run_push
from storage import outbox
from storage.db import Database
from storage.push import runs
from storage.push.models import PUSH_HISTORY, PUSH_RUNS
from storage.push.runs import history_rows
from tests.storage.push_data import (
    add_blast,
    add_candidate,
    add_candidates,
    ago,
    engage,
    make_list,
    recruit_client,
    rule,
)

CHANNEL = "C0CARETBOT"


@pytest.fixture(scope="module")
def _zoho_server() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


@pytest.fixture
def zoho(_zoho_server: FakeZohoRecruit) -> FakeZohoRecruit:
    _zoho_server.reset()
    return _zoho_server


def states(db: Database) -> dict[str, str]:
    """Each candidate's latest history entry: phone -> state (reason)."""
    with db.read() as session:
        rows = history_rows(session=session)
    latest: dict[str, str] = {}
    for row in reversed(rows):
        text = row.state
        if row.reason and row.state == "ignored":
            text += f" ({row.reason})"
        if row.error_code:
            text += f" ({row.error_code} {row.error_field})"
        latest[row.phone] = text
    return latest


def phone(n: int) -> str:
    return f"+1512555{n:04d}"


def fall_nurses(db: Database, numbers: list[int], **fields: object) -> tuple[list[int], int, int]:
    ids = add_candidates(db, numbers, **fields)  # type: ignore[arg-type]
    list_id = make_list(db, "Fall nurses", ids)
    blast_id = add_blast(db, list_id, "Fall nurses", started_at=ago(hours=3))
    return ids, list_id, blast_id


def test_replied_candidates_are_pushed_with_the_default_map_new_or_updated(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1, 2, 3])
    engage(database, blast_id, ids[:2], sent_at=ago(hours=3), replied_at=ago(hours=2))
    engage_later = ids[2:]
    engage(database, blast_id, engage_later, sent_at=ago(hours=3))  # texted, never replied
    existing = zoho.add_record("Candidates", {"Email": "zoe.2@example.com", "Last_Name": "N"})
    rule(database, "Fall nurses")

    report = run_push(database, recruit_client(zoho, database), channel=CHANNEL)

    assert report.state == "done"
    (outcome,) = report.outcomes
    assert (outcome.new, outcome.updated, outcome.no_engagement) == (1, 1, 1)
    (call,) = zoho.calls("upsert")
    assert call.body["duplicate_check_fields"] == ["Email"] and call.body["trigger"] == []
    assert call.body["data"][0] == {
        "First_Name": "Zoë",
        "Last_Name": "Núñez-1",
        "Email": "zoe.1@example.com",
        "Mobile": "+15125550001",
        "City": "São Paulo",
        "Source": "indeed",
    }
    assert states(database) == {phone(1): "new", phone(2): "updated"}
    with database.read() as session:
        rows = {row.phone: row for row in history_rows(session=session)}
    assert rows[phone(2)].recruit_id == existing
    assert rows[phone(1)].recruit_id == zoho.records()[1]["id"]
    # Nothing new: the next run pushes nothing.
    again = run_push(database, recruit_client(zoho, database), channel=CHANNEL)
    assert len(zoho.calls("upsert")) == 1 and not again.did_something
    with database.read() as session:
        reports = [w for w in outbox.entries(session=session) if w.kind == "slack.channel"]
    assert len(reports) == 1  # the idle run said nothing
    assert reports[0].payload["channel"] == CHANNEL
    assert "1 new, 1 updated, 0 re-added, 0 failed, 0 ignored" in reports[0].payload["text"]


def test_each_ignored_reason_is_recorded_and_nothing_ignored_is_sent(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids = [
        add_candidate(database, 1),
        add_candidate(database, 2, origin="ats"),
        add_candidate(database, 3, external_contact_id="ZR_17_CAND"),
        add_candidate(database, 4, source="Zoho Recruit"),
        add_candidate(database, 5, email=None),
        add_candidate(database, 6, first_name=" ", last_name=""),
        add_candidate(database, 7, opted_out=True),
        add_candidate(database, 8, external_contact_id="HUBSPOT-88"),
    ]
    list_id = make_list(database, "Fall nurses", ids)
    blast_id = add_blast(database, list_id, "Fall nurses", started_at=ago(days=1))
    engage(database, blast_id, ids, sent_at=ago(days=1), replied_at=ago(hours=20))
    rule(database, "Fall nurses")

    report = run_push(database, recruit_client(zoho), channel=CHANNEL)

    assert states(database) == {
        phone(1): "new",
        phone(2): "ignored (came from Recruit)",
        phone(3): "ignored (came from Recruit)",
        phone(4): "ignored (came from Recruit)",
        phone(5): "ignored (missing email)",
        phone(6): "ignored (missing first name, last name)",
        phone(7): "ignored (opted out)",
        phone(8): "new",
    }
    assert sorted(zoho.upserted_emails()) == ["zoe.1@example.com", "zoe.8@example.com"]
    assert dict(report.outcomes[0].ignored) == {
        "came from Recruit": 3,
        "missing email": 1,
        "missing first name, last name": 1,
        "opted out": 1,
    }
    text = report_text(report)
    assert "6 ignored (3 came from Recruit, 1 missing email" in text
    # Ignored candidates are not planned again without a new engagement.
    run_push(database, recruit_client(zoho), channel=CHANNEL)
    with database.read() as session:
        assert len(history_rows(session=session)) == 8


def test_engagement_counts_from_five_days_before_the_rule_was_enabled(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1, 2, 3])
    enabled_at = ago(days=1)
    engage(
        database,
        blast_id,
        [ids[0]],
        sent_at=ago(days=7),
        replied_at=enabled_at - timedelta(days=5, minutes=1),
    )
    engage(
        database,
        blast_id,
        [ids[1]],
        sent_at=ago(days=7),
        replied_at=enabled_at - timedelta(days=4, hours=23),
    )
    engage(database, blast_id, [ids[2]], sent_at=ago(days=7), replied_at=ago(hours=1))
    rule(database, "Fall nurses", enabled_at=enabled_at)

    run_push(database, recruit_client(zoho))

    assert states(database) == {phone(2): "new", phone(3): "new"}


def test_a_clicked_rule_reads_clicks_and_a_replied_rule_replies(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1, 2])
    engage(database, blast_id, [ids[0]], sent_at=ago(hours=5), replied_at=ago(hours=4))
    engage(database, blast_id, [ids[1]], sent_at=ago(hours=5), clicked_at=ago(hours=4))
    rule(database, "Fall nurses", engagement="clicked", status_field="Candidate_Status")

    run_push(database, recruit_client(zoho))

    assert zoho.upserted_emails() == ["zoe.2@example.com"]
    (record,) = zoho.calls("upsert")[0].body["data"]
    assert record["Candidate_Status"] == "Clicked a link in SMS blast Fall nurses"


def test_contacts_carry_the_company_as_client_name_and_need_one(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids = [
        add_candidate(database, 1, custom={"Company": "St. Luke’s Health"}),
        add_candidate(database, 2),
    ]
    list_id = make_list(database, "Clients", ids)
    blast_id = add_blast(database, list_id, "Client check-in", started_at=ago(hours=2))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(
        database,
        "Clients",
        module="contacts",
        maps=["custom.shift=Department", "state=Mailing_State"],
        status_field="Description",
    )

    run_push(database, recruit_client(zoho))

    assert states(database) == {phone(1): "new", phone(2): "ignored (missing company)"}
    (record,) = zoho.calls("upsert")[0].body["data"]
    assert zoho.calls("upsert")[0].path == "/recruit/v2/Contacts/upsert"
    assert record["Client_Name"] == {"name": "St. Luke’s Health"}
    assert record["Description"] == "Replied to SMS blast Client check-in"
    assert "Department" not in record  # no value: never blanks what Recruit holds
    assert zoho.records("Contacts")[0]["Email"] == "zoe.1@example.com"


def test_a_new_engagement_after_a_push_re_adds_the_candidate(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, list_id, blast_id = fall_nurses(database, [1, 2])
    engage(database, blast_id, ids, sent_at=ago(days=2), replied_at=ago(days=2))
    rule(database, "Fall nurses")
    run_push(database, recruit_client(zoho))
    second = add_blast(database, list_id, "Fall nurses, week 2", started_at=ago(hours=1))
    engage(database, second, [ids[0]], sent_at=ago(hours=1), replied_at=ago(minutes=30))

    report = run_push(database, recruit_client(zoho), channel=CHANNEL)

    assert states(database) == {phone(1): "readded", phone(2): "new"}
    assert report.outcomes[0].readded == 1
    assert zoho.upserted_emails() == ["zoe.1@example.com", "zoe.2@example.com", "zoe.1@example.com"]


def test_item_errors_are_failed_with_their_code_and_field(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1, 2, 3])
    ids.append(add_candidate(database, 4, first_name="Maximiliana-Guadalupe-Esperanza-Bartolomé"))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    zoho.item_error("zoe.1@example.com", "MANDATORY_NOT_FOUND", "Last_Name")
    zoho.item_error("zoe.2@example.com", "DUPLICATE_DATA", "Mobile")
    rule(database, "Fall nurses")

    report = run_push(database, recruit_client(zoho), channel=CHANNEL)

    assert states(database) == {
        phone(1): "failed (MANDATORY_NOT_FOUND Last_Name)",
        phone(2): "failed (DUPLICATE_DATA Mobile)",
        phone(3): "new",
        phone(4): "failed (INVALID_DATA First_Name)",
    }
    assert report.outcomes[0].failed == 3
    zoho.clear_faults()
    run_push(database, recruit_client(zoho))  # a failure waits for a new engagement
    assert len(zoho.calls("upsert")) == 1


def test_a_list_never_sent_a_blast_is_said_and_pushes_nothing(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids = add_candidates(database, [1, 2])
    list_id = make_list(database, "Spring", ids)
    add_blast(database, list_id, "Spring draft", started_at=None)
    rule(database, "Spring")

    report = run_push(database, recruit_client(zoho), channel=CHANNEL)

    assert report.outcomes[0].never_sent
    assert "the list was never sent a blast" in report_text(report)
    assert zoho.calls() == []


def test_recruit_down_stops_the_run_and_the_next_run_pushes_the_rest(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, list(range(1, 251)))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    zoho.fail_next(503, times=1000)

    report = run_push(database, recruit_client(zoho, attempts=3), channel=CHANNEL)

    assert report.state == "stopped" and "503" in (report.error or "")
    assert report.outcomes[0].left == 250
    assert states(database) == {}
    zoho.clear_faults()
    report = run_push(database, recruit_client(zoho), channel=CHANNEL)
    assert report.state == "done" and report.outcomes[0].new == 250
    sizes = [len(c.body["data"]) for c in zoho.calls("upsert") if c.status == 200]
    assert sizes == [100, 100, 50]
    assert len(set(zoho.upserted_emails())) == 250 == len(zoho.upserted_emails())


def test_an_answer_that_never_came_is_looked_up_not_pushed_again(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, list(range(1, 151)))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    zoho.add_record("Candidates", {"Email": "zoe.120@example.com", "Last_Name": "Old"})
    rule(database, "Fall nurses")
    zoho.slow_for("zoe.101@example.com", 3.0)

    first = run_push(database, recruit_client(zoho, timeout=0.5), channel=CHANNEL)

    assert first.state == "stopped" and "looks those records up" in (first.error or "")
    assert list(states(database).values()).count("pending") == 50
    second = run_push(database, recruit_client(zoho), channel=CHANNEL)
    assert second.settled == 50
    final = states(database)
    assert set(final.values()) == {"new", "updated"}
    assert final[phone(120)] == "updated" and final[phone(101)] == "new"
    assert len(zoho.upserted_emails()) == 150 == len(set(zoho.upserted_emails()))
    assert len(zoho.calls("search")) == 50


def test_a_second_run_while_one_is_in_progress_does_nothing(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1])
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    with database.write() as session:
        busy, _ = runs.start_run(
            session=session,
            holder=f"{os.uname().nodename}:{os.getpid()}:abc123",
            now=ago(minutes=1),
            is_stale=lambda run: False,
        )

    with pytest.raises(PushInProgress, match=f"run #{busy} is in progress"):
        run_push(database, recruit_client(zoho))

    assert zoho.calls() == []
    # A dead holder's run is taken over, and marked interrupted.
    with database.write() as session:
        session.execute(PUSH_RUNS.update().values(holder=f"{os.uname().nodename}:999999999:dead00"))
    report = run_push(database, recruit_client(zoho))
    assert report.state == "done"
    with database.read() as session:
        interrupted = session.execute(
            sa.select(PUSH_RUNS.c.state, PUSH_RUNS.c.error).where(PUSH_RUNS.c.id == busy)
        ).one()
    assert interrupted.state == "interrupted" and "999999999" in interrupted.error


def test_an_expired_token_mid_run_is_refreshed_once(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, list(range(1, 121)))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    client = recruit_client(zoho, database)
    client.access_token()
    zoho.expire_tokens()

    report = run_push(database, client)

    assert report.outcomes[0].new == 120
    assert len(zoho.calls("token")) == 2
    assert [c.status for c in zoho.calls("upsert")] == [401, 200, 200]


def test_a_token_endpoint_error_stops_the_run_naming_the_setting(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1])
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    zoho.token_error("invalid_code")

    report = run_push(database, recruit_client(zoho), channel=CHANNEL)

    assert report.state == "stopped"
    assert "ZOHO_REFRESH_TOKEN" in (report.error or "")
    assert states(database) == {}
    with database.read() as session:
        count = session.execute(sa.select(sa.func.count()).select_from(PUSH_HISTORY)).scalar()
    assert count == 0


def test_a_dry_run_plans_the_records_and_writes_nothing(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1, 2])
    ids.append(add_candidate(database, 3, opted_out=True))
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")

    report = run_push(database, None, dry_run=True)

    (plan,) = report.plans
    assert [p.record["Email"] for p in plan.pushes] == ["zoe.1@example.com", "zoe.2@example.com"]
    assert [i.reason for i in plan.ignored] == ["opted out"]
    assert report.outcomes[0].new == 2
    assert zoho.calls() == [] and states(database) == {}
    with database.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(PUSH_RUNS)).scalar() == 0


def test_processes_share_one_access_token_through_the_database(
    database: Database, zoho: FakeZohoRecruit
) -> None:
    ids, _list_id, blast_id = fall_nurses(database, [1])
    engage(database, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    run_push(database, recruit_client(zoho, database))
    # A second process (a new client, the same database) reuses the stored token.
    other = Database(database.url)
    try:
        recruit_client(zoho, other).upsert(
            "Candidates", [{"Email": "a@example.com", "Last_Name": "A"}]
        )
    finally:
        other.dispose()
    assert len(zoho.calls("token")) == 1
    tokens = {call.token for call in zoho.calls() if call.module}
    assert len(tokens) == 1
