"""The push into Zoho Recruit at scale: ``python bench/push.py [--count 50000]
[--database-url URL] [--save]``.

Builds 50,000 candidates on one list, one blast sent to it, and every recipient replied
(SQLAlchemy Core in batches), enables a Candidates rule, then times:

- planning alone (`scheduler.push.plan_all`: the query and the 50,000 records), best
  of three, and its peak Python memory (tracemalloc, in a separate pass);
- a whole run (`caretbot push run`'s code path) against the Zoho Recruit stand-in
  running in its own process: calls made (must be 500 upserts of 100 records), records
  a second, and the stand-in's share of the wall time (the time it spent answering, from
  its /_fake/stats);
- the process's peak resident memory.

SQLite in a temporary directory unless --database-url points elsewhere (PostgreSQL:
the database is emptied first).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.logs import configure_logging  # noqa: E402
from bot.recruit.client import Credentials, RecruitClient  # noqa: E402
from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN  # noqa: E402
from scheduler.push import plan_all, run_push  # noqa: E402
from storage.blast_models import BLAST_RECIPIENTS, BLASTS  # noqa: E402
from storage.db import Database  # noqa: E402
from storage.lists_models import APPLIES, LIST_MEMBERS, LISTS  # noqa: E402
from storage.models import Candidate, utcnow  # noqa: E402
from storage.push.rules import add_rule, set_enabled  # noqa: E402
from storage.push.tokens import DatabaseTokens  # noqa: E402

OUT = Path(__file__).parent / "out"
BATCH = 5_000
FIRST = ["Zoë", "José", "Anaïs", "Ngọc", "Siobhán", "Björn", "Ana", "Li"]
LAST = ["Núñez", "O’Brien", "Müller", "Nguyễn", "Dubois", "Smith", "García", "Kowalski"]
CITIES = ["São Paulo", "Austin", "Montréal", "Zürich", "Dallas", "Reykjavík"]


def build(db: Database, count: int) -> None:
    """`count` candidates on one list, one blast, every recipient replied an hour ago."""
    candidates = Candidate.__table__  # type: ignore[attr-defined]
    now = utcnow()
    sent, replied = now - timedelta(hours=2), now - timedelta(hours=1)
    with db.write() as session:
        list_id = session.execute(
            LISTS.insert()
            .values(name="Fall nurses", name_key="fall nurses", created_at=now)
            .returning(LISTS.c.id)
        ).scalar_one()
        blast_id = session.execute(
            BLASTS.insert()
            .values(
                name="Fall nurses",
                list_id=list_id,
                message="Night shifts open at St. Luke’s 🏥 Reply YES",
                status="done",
                started_at=sent,
                finished_at=sent,
                created_at=sent,
                updated_at=sent,
            )
            .returning(BLASTS.c.id)
        ).scalar_one()
    for start in range(0, count, BATCH):
        numbers = range(start, min(count, start + BATCH))
        with db.write() as session:
            ids = (
                session.execute(
                    candidates.insert().returning(candidates.c.id, sort_by_parameter_order=True),
                    [
                        {
                            "phone": f"+1512{n:07d}",
                            "first_name": FIRST[n % len(FIRST)],
                            "last_name": f"{LAST[n % len(LAST)]}-{n}",
                            "email": f"candidate.{n}@example.com",
                            "city": CITIES[n % len(CITIES)],
                            "custom_fields": {},
                            "created_at": now,
                            "updated_at": now,
                        }
                        for n in numbers
                    ],
                )
                .scalars()
                .all()
            )
            session.execute(
                APPLIES.insert(),
                [
                    {
                        "candidate_id": cid,
                        "origin": "import",
                        "source": "indeed",
                        "campaign": "Fall 2026",
                        "status": "New",
                        "is_active": True,
                        "natural_key": 1,
                        "created_at": now,
                        "updated_at": now,
                    }
                    for cid in ids
                ],
            )
            session.execute(
                LIST_MEMBERS.insert(),
                [{"list_id": list_id, "candidate_id": cid, "added_at": now} for cid in ids],
            )
            session.execute(
                BLAST_RECIPIENTS.insert(),
                [
                    {
                        "blast_id": blast_id,
                        "candidate_id": cid,
                        "phone": f"+1512{n:07d}",
                        "state": "sent",
                        "sent_at": sent,
                        "replied_at": replied,
                        "created_at": sent,
                        "updated_at": sent,
                    }
                    for cid, n in zip(ids, numbers, strict=True)
                ],
            )
    with db.write() as session:
        rule = add_rule(
            session=session, module="candidates", engagement="replied", list_name="Fall nurses"
        )
        set_enabled(session=session, rule_id=rule.id, enabled=True)


def fresh_url(url: str | None, tmp: Path) -> str:
    if url is None:
        return f"sqlite:///{tmp / 'push.db'}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--save", action="store_true", help="write bench/out/push.json")
    args = parser.parse_args()
    configure_logging(level="WARNING")

    with tempfile.TemporaryDirectory() as tmp:
        url = fresh_url(args.database_url, Path(tmp))
        db = Database(url)
        db.upgrade()
        started = time.perf_counter()
        build(db, args.count)
        build_seconds = time.perf_counter() - started

        timings = []
        for _ in range(3):
            started = time.perf_counter()
            plans = plan_all(db, now=utcnow())
            timings.append(time.perf_counter() - started)
        planned = sum(len(plan.pushes) for plan in plans)
        del plans
        tracemalloc.start()
        plan_all(db, now=utcnow())
        _, plan_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        stand_in = subprocess.Popen(
            [sys.executable, "-m", "bot.sandbox.zoho_recruit", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert stand_in.stdout is not None
            base = stand_in.stdout.readline().strip()
            client = RecruitClient(
                credentials=Credentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN),
                accounts_url=base,
                recruit_url=base,
                tokens=DatabaseTokens(db),
            )
            started = time.perf_counter()
            report = run_push(db, client)
            run_seconds = time.perf_counter() - started
            stats: dict[str, Any] = requests.get(base + "/_fake/stats", timeout=10).json()
            client.close()
        finally:
            stand_in.terminate()
            stand_in.wait(10)
        db.dispose()

    (outcome,) = report.outcomes
    pushed = outcome.new + outcome.updated + outcome.readded
    upserts = stats["calls"] - stats["refreshes"]
    result = {
        "database": sa.engine.make_url(url).get_backend_name(),
        "candidates": args.count,
        "build_seconds": round(build_seconds, 2),
        "planning_seconds_best": round(min(timings), 3),
        "planning_seconds_all": [round(t, 3) for t in timings],
        "planned": planned,
        "planning_peak_python_mb": round(plan_peak / 1e6, 1),
        "run_seconds": round(run_seconds, 2),
        "run_state": report.state,
        "pushed": pushed,
        "upsert_calls": upserts,
        "records_per_call": round(stats["records"] / max(1, upserts), 1),
        "token_refreshes": stats["refreshes"],
        "records_per_second": round(pushed / run_seconds),
        "stand_in_busy_seconds": round(stats["busy_seconds"], 2),
        "stand_in_share": round(stats["busy_seconds"] / run_seconds, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result, indent=2))
    print(
        f"\nplanning {args.count:,} engaged candidates: {min(timings):.2f} s (target < 2 s); "
        f"run: {pushed:,} pushed in {upserts} calls of {result['records_per_call']} records, "
        f"{run_seconds:.1f} s = {result['records_per_second']:,} records/s; the stand-in "
        f"answered for {result['stand_in_share']:.0%} of it; peak RSS {result['peak_rss_mb']} MB"
    )
    if args.save:
        OUT.mkdir(exist_ok=True)
        (OUT / f"push-{result['database']}.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
