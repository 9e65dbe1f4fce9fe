"""`caretbot push` as typed, against the Zoho Recruit stand-in, on both databases."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZohoRecruit
from storage.db import Database
from storage.push import runs
from tests.storage.push_data import add_blast, add_candidate, ago, engage, make_list


@pytest.fixture(scope="module")
def _zoho_server() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


@pytest.fixture
def zoho(_zoho_server: FakeZohoRecruit) -> FakeZohoRecruit:
    _zoho_server.reset()
    return _zoho_server


@pytest.fixture
def db(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN", "SLACK_CHANNEL_ID"):
        monkeypatch.delenv(name, raising=False)
    database = Database(database_url)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def zoho_env(zoho: FakeZohoRecruit, monkeypatch: pytest.MonkeyPatch) -> FakeZohoRecruit:
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)
    monkeypatch.setenv("ZOHO_DATA_CENTRE", "EU")
    monkeypatch.setenv("ZOHO_ACCOUNTS_URL", zoho.url)
    monkeypatch.setenv("ZOHO_RECRUIT_URL", zoho.url)
    monkeypatch.setenv("SLACK_CHANNEL_ID", "C0CARETBOT")
    return zoho


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def nurses(db: Database, *extra: int) -> list[int]:
    """Candidates 1, 2 (+ extra) on "Fall nurses", who replied to its blast an hour ago."""
    ids = [add_candidate(db, 1), add_candidate(db, 2, email=None)]
    ids += [add_candidate(db, n) for n in extra]
    list_id = make_list(db, "Fall nurses", ids)
    blast_id = add_blast(db, list_id, "Fall nurses", started_at=ago(hours=2))
    engage(db, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    make_list(db, "Clients", [])
    return ids


def test_push_add_shows_the_map_and_is_disabled_until_enabled(db: Database) -> None:
    nurses(db)
    code, out, err = run(
        "push",
        "add",
        "--module",
        "Candidates",
        "--engagement",
        "replied",
        "--list",
        "fall NURSES",
        "--map",
        "state=State",
        "--map",
        "phone=Phone",
        "--status-field",
        "Candidate_Status",
    )
    assert code == 0, err
    assert "push rule #1 Candidates, replied, list Fall nurses added, disabled" in out
    assert "phone -> Phone" in out and "state -> State" in out
    assert "(engagement) -> Candidate_Status" in out
    code, out, _ = run("push")
    assert code == 0
    assert "1   Candidates  replied     Fall nurses  disabled" in out
    assert out.rstrip().endswith("never")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--map", "shoe_size=Shoe_Size"],
            '"shoe_size" is not a caretbot field. The fields: '
            "first_name, middle_name, last_name, email, phone",
        ),
        (["--map", "city"], '"city" is not caretbot_field=Recruit_Field'),
        (["--map", "city=Ville Natale"], '"Ville Natale" is not a Recruit field API name'),
        (["--map", "city=Source"], "Source would get both city and source"),
        (["--map", "email=Secondary_Email"], "the map must fill Email"),
        (["--status-field", "City"], "City is already filled from city"),
        (["--engagement", "opened"], '"opened" is not an engagement: replied or clicked'),
        (["--list", "Nowhere"], 'there is no list named "Nowhere"'),
        (["--module", "leads"], '"leads" is not a module: candidates or contacts'),
    ],
)
def test_a_bad_rule_is_refused_with_the_reason_and_nothing_is_stored(
    db: Database, args: list[str], message: str
) -> None:
    nurses(db)
    base = {"--module": "candidates", "--engagement": "replied", "--list": "Fall nurses"}
    extra: list[str] = []
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in base:
            base[flag] = value
        else:
            extra += [flag, value]
    argv = [part for flag, value in base.items() for part in (flag, value)]
    code, _, err = run("push", "add", *argv, *extra)
    assert code == 1
    assert message in err
    _, out, _ = run("push")
    assert "no push rules yet" in out


def test_the_same_list_in_both_modules_is_refused_naming_the_rule(db: Database) -> None:
    nurses(db)
    assert (
        run(
            "push",
            "add",
            "--module",
            "candidates",
            "--engagement",
            "replied",
            "--list",
            "Fall nurses",
        )[0]
        == 0
    )
    code, _, err = run(
        "push", "add", "--module", "contacts", "--engagement", "clicked", "--list", "Fall nurses"
    )
    assert code == 1
    assert "list Fall nurses is already pushed to Candidates by rule #1 Candidates, replied" in err
    # Another engagement in the same module is its own rule; the same one twice is not.
    assert (
        run(
            "push",
            "add",
            "--module",
            "candidates",
            "--engagement",
            "clicked",
            "--list",
            "Fall nurses",
        )[0]
        == 0
    )
    code, _, err = run(
        "push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses"
    )
    assert code == 1 and "rule #1 Candidates, replied, list Fall nurses already does this" in err


def test_enable_needs_the_zoho_settings_and_says_where_to_get_them(db: Database) -> None:
    nurses(db)
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")
    code, _, err = run("push", "enable", "1")
    assert code == 2
    for name in ("ZOHO_CLIENT_ID", "ZOHO_CLIENT_SECRET", "ZOHO_REFRESH_TOKEN"):
        assert f"{name} is not set" in err
    assert "Self Client" in err
    _, out, _ = run("push")
    assert "disabled" in out


def test_enable_run_history_and_disable(db: Database, zoho_env: FakeZohoRecruit) -> None:
    nurses(db, 3)
    zoho_env.add_record("Candidates", {"Email": "zoe.3@example.com", "Last_Name": "Núñez-3"})
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")
    code, out, err = run("push", "enable", "1")
    assert code == 0, err
    assert "enabled: engagement since" in out and "(5 days back)" in out
    assert run("push", "enable", "1")[1].startswith(
        "push rule #1 Candidates, replied, list Fall nurses is already enabled"
    )

    code, out, err = run("push", "run", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["state"] == "done"
    (rule,) = result["rules"]
    assert (rule["new"], rule["updated"], rule["ignored"]) == (1, 1, {"missing email": 1})

    code, out, _ = run("push", "history", "--json")
    entries = {e["phone"]: e for e in json.loads(out)}
    assert entries["+15125550001"]["state"] == "New"
    assert entries["+15125550001"]["recruit_id"]
    assert entries["+15125550003"]["state"] == "Updated"
    assert entries["+15125550002"]["state"] == "Ignored"
    assert entries["+15125550002"]["reason"] == "missing email"
    code, out, _ = run("push", "history", "--candidate", "(512) 555-0002")
    assert "Ignored" in out and "missing email" in out and "+15125550001" not in out
    code, _, err = run("push", "history", "--candidate", "not a phone")
    assert code == 1 and "is not a phone number" in err

    _, out, _ = run("push")
    assert "enabled" in out and "done: 1 new, 1 updated, 0 re-added, 0 failed, 1 ignored" in out
    assert (
        run("push", "disable", "1")[1].strip()
        == "push rule #1 Candidates, replied, list Fall nurses disabled"
    )
    code, out, _ = run("push", "run")
    assert code == 0 and "nothing to do" in out
    assert len(zoho_env.calls("upsert")) == 1


def test_dry_run_prints_the_records_and_sends_nothing_without_zoho_settings(
    db: Database,
) -> None:
    nurses(db)
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")
    with db.write() as session:
        from storage.push.rules import set_enabled

        set_enabled(session=session, rule_id=1, enabled=True)
    code, out, err = run("push", "run", "--dry-run")
    assert code == 0, err
    assert "dry run: nothing is sent" in out
    assert "would push 1 new" in out
    assert '"First_Name": "Zoë", "Last_Name": "Núñez-1"' in out
    assert "ignored +15125550002: missing email" in out
    code, out, _ = run("push", "run", "--dry-run", "--json")
    (rule,) = json.loads(out)["rules"]
    assert rule["records"][0]["Email"] == "zoe.1@example.com"
    _, out, _ = run("push", "history")
    assert "no push history" in out
    code, _, err = run("push", "run")
    assert code == 2 and "ZOHO_REFRESH_TOKEN is not set" in err


def test_a_second_push_run_says_which_run_is_in_progress_and_exits(
    db: Database, zoho_env: FakeZohoRecruit
) -> None:
    nurses(db)
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")
    run("push", "enable", "1")
    with db.write() as session:
        busy, _ = runs.start_run(
            session=session,
            holder=f"{os.uname().nodename}:{os.getpid()}:live00",
            now=ago(minutes=2),
            is_stale=lambda run: False,
        )
    code, _, err = run("push", "run")
    assert code == 3
    assert f"push run #{busy} is in progress since" in err and f":{os.getpid()}:live00" in err
    assert zoho_env.calls() == []


def test_a_token_error_stops_the_run_naming_the_setting(
    db: Database, zoho_env: FakeZohoRecruit
) -> None:
    nurses(db)
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")
    run("push", "enable", "1")
    zoho_env.token_error("invalid_client")
    code, out, _ = run("push", "run")
    assert code == 1
    assert "stopped" in out and "ZOHO_CLIENT_ID" in out and "ZOHO_DATA_CENTRE" in out


class ReachedUvicorn(Exception):
    """serve got past its checks."""


def test_serve_with_a_push_enabled_needs_the_zoho_settings(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    import bot.cli.main
    from tests.bot.test_settings import good_settings

    def reached(*_args: object, **_kwargs: object) -> None:
        raise ReachedUvicorn

    monkeypatch.setattr(bot.cli.main, "configure_logging", lambda **_: None)
    monkeypatch.setattr(uvicorn, "run", reached)
    env = good_settings(tmp_path) | {"DATABASE_URL": db.url}
    nurses(db)
    run("push", "add", "--module", "candidates", "--engagement", "replied", "--list", "Fall nurses")

    # No rule enabled: serve needs no Zoho setting.
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert isinstance(result.exception, ReachedUvicorn)

    with db.write() as session:
        from storage.push.rules import set_enabled

        set_enabled(session=session, rule_id=1, enabled=True)
    result = CliRunner().invoke(app, ["serve"], env=env)
    assert result.exit_code == 2
    assert "a push rule is enabled" in result.stderr
    assert "ZOHO_CLIENT_ID is not set" in result.stderr and "Self Client" in result.stderr

    zoho = {
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
    }
    result = CliRunner().invoke(app, ["serve"], env=env | zoho)
    assert isinstance(result.exception, ReachedUvicorn)
    bad = CliRunner().invoke(app, ["serve"], env=env | zoho | {"ZOHO_DATA_CENTRE": "mars"})
    assert bad.exit_code == 2 and "ZOHO_DATA_CENTRE" in bad.stderr
