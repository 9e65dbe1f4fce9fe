"""bench/import: `caretbot import` against `sqlite-utils insert --csv`, same file, same run.

    python bench/import.py [--rows 1000000] [--keep DIR] [--skip-sqlite-utils]

Writes a candidates CSV the way an ATS export looks (phones in several national
formats, a few bad rows, names with accents and emoji), then times, each in a child
process on a fresh SQLite file:

- `caretbot import FILE` with full validation (phones, emails, opt-in, names), and
- `sqlite-utils insert DB candidates FILE --csv` (no validation at all).

Prints both times, their ratio (target <= 1/3), caretbot's peak memory (target
<= 200 MB, from getrusage of the child) and the time of filter counts over the
imported candidates (target < 1 s each).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AREA_CODES = [212, 213, 214, 305, 310, 312, 404, 415, 469, 512, 617, 702, 713, 737, 832, 972]
FORMATS = [
    "({a}) {b}-{c}",
    "{a}-{b}-{c}",
    "+1{a}{b}{c}",
    "+1 {a} {b} {c}",
    "{a}.{b}.{c}",
    "1-{a}-{b}-{c}",
    "{a}{b}{c}",
]
FIRST = ["Ana", "José", "Zoë", "Li", "Mary Ann", "Dana", "Sam", "Chloé", "Ngozi", "Priya", "🌟Jo"]
LAST = ["López", "Smith", "O'Brien", "Nguyen", "García-Márquez", "Kowalski", "Okafor", "Lee"]
CITIES = [("Austin", "TX"), ("Dallas", "TX"), ("Houston", "TX"), ("Miami", "FL"), ("Boston", "MA")]
SOURCES = ["indeed", "linkedin", "ziprecruiter", "referral", "career site"]
CAMPAIGNS = ["Fall 2026", "Spring 2027", "Night shift", "New grads"]
JOBS = ["RN", "LPN", "CNA", "Night nurse", "Charge nurse"]
HEADER = [
    "First Name",
    "Last Name",
    "Mobile",
    "E-mail",
    "Street",
    "City",
    "State",
    "Zip",
    "Opt In",
    "Source",
    "Campaign",
    "Job Title",
    "External Contact ID",
]


def write_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A candidates export: about 1% bad rows (phone, email or opt-in)."""
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        for number in range(rows):
            phone = rng.choice(FORMATS).format(
                a=rng.choice(AREA_CODES), b=rng.randint(200, 999), c=f"{rng.randint(0, 9999):04d}"
            )
            email = f"cand{number}@example.com"
            opt_in = rng.choice(["yes", "no", "TRUE", "1", "false"])
            bad = rng.random()
            if bad < 0.004:
                phone = "555-0100"
            elif bad < 0.007:
                email = f"cand{number}@example"
            elif bad < 0.01:
                opt_in = "maybe"
            city, state = rng.choice(CITIES)
            writer.writerow(
                [
                    rng.choice(FIRST),
                    rng.choice(LAST),
                    phone,
                    email,
                    f"{rng.randint(1, 9999)} Main St",
                    city,
                    state,
                    f"{rng.randint(10000, 99999)}",
                    opt_in,
                    rng.choice(SOURCES),
                    rng.choice(CAMPAIGNS),
                    rng.choice(JOBS),
                    f"ATS-{number}",
                ]
            )


def caretbot_command() -> list[str]:
    """`caretbot` if it has the import command, else the same commands registered here."""
    script = shutil.which("caretbot") or str(Path(sys.executable).with_name("caretbot"))
    if Path(script).exists():
        helped = subprocess.run([script, "--help"], capture_output=True, text=True, check=False)
        if " import " in helped.stdout:
            return [script]
    runner = (
        "import typer; from bot.cli import imports as cli_import, lists as cli_lists; app = typer.Typer(); "
        "cli_import.register(app); cli_lists.register(app); app()"
    )
    return [sys.executable, "-c", runner]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{command[0]} failed with status {result.returncode}")
    print(result.stdout.strip())
    return elapsed


def count_filters(url: str) -> list[tuple[str, int, float]]:
    from storage.db import Database
    from storage.lists import count_matching

    filters = [
        "city:Austin",
        "city:Austin source:indeed -status:archived",
        'campaign:"Fall 2026" OR campaign:"Spring 2027"',
        "created:>2020-01-01 opt_in:true",
        "has:email -opted_out:true job_title:RN",
        "email:*7@example.com",
        "-status:archived",
    ]
    db = Database(url)
    out = []
    with db.read() as session:
        for text in filters:
            start = time.perf_counter()
            count = count_matching(session=session, text=text)
            out.append((text, count, time.perf_counter() - start))
    db.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the CSV and databases in this folder")
    parser.add_argument("--skip-sqlite-utils", action="store_true")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="caretbot-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "candidates.csv"
    start = time.perf_counter()
    write_csv(data, args.rows)
    size = data.stat().st_size / 1e6
    print(f"wrote {args.rows} rows ({size:.0f} MB) in {time.perf_counter() - start:.1f} s")

    caretbot_db = work / "caretbot.db"
    for stale in work.glob("*.db*"):
        stale.unlink()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{caretbot_db}"}
    # Migrate first, so the timing is the import alone.
    subprocess.run(
        [*caretbot_command(), "lists"], env=env, check=True, capture_output=True, text=True
    )
    ours = timed(
        [*caretbot_command(), "import", str(data), "--rejects", str(work / "rej.csv")], env
    )
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"caretbot import: {ours:.1f} s, peak memory {peak_mb:.0f} MB")

    if not args.skip_sqlite_utils:
        sqlite_utils = shutil.which("sqlite-utils") or str(
            Path(sys.executable).with_name("sqlite-utils")
        )
        theirs = timed(
            [
                sqlite_utils,
                "insert",
                str(work / "sqlite_utils.db"),
                "candidates",
                str(data),
                "--csv",
            ],
            dict(os.environ),
        )
        print(f"sqlite-utils insert --csv: {theirs:.1f} s")
        verdict = "ok" if ours / theirs <= 1 / 3 else "over target"
        print(f"ratio caretbot / sqlite-utils: {ours / theirs:.2f} (target <= 0.33: {verdict})")
    print(f"peak memory target <= 200 MB: {'ok' if peak_mb <= 200 else 'over target'}")

    for text, count, seconds in count_filters(env["DATABASE_URL"]):
        print(f"filter count {seconds * 1000:7.0f} ms  {count:8d}  {text}")
    if args.keep is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
