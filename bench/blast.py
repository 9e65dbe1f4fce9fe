"""bench/blast: a 10,000-recipient blast through `caretbot serve` against a strict Twilio.

    python bench/blast.py [--recipients 10000] [--limit 50] [--rate 49] [--skip-kill]

Generates a CSV of candidates and imports it with `caretbot import` (a fresh SQLite
file), creates a blast with `caretbot blasts create`, times the preview, then runs
`caretbot serve` (one process: WORKERS_IN_PROCESS=true) against a Twilio fake that
records every Messages.create with its arrival time and refuses with 429 (20429) any
create that would put more than --limit segments in the last second. Reports:

- wall time of the blast (first to last accepted create) against the ideal, total
  segments / --limit, and the efficiency (ideal / actual, target >= 95%);
- the most segments in any one-second window (target <= --limit) and the 429s (0);
- the peak resident memory of the sending process (VmHWM);
- then the same blast on a fresh database, the process killed with SIGKILL at about
  half way and restarted: texts per recipient (doubles and misses, target 0 and 0);
- the preview's time for all the recipients (target < 1 s), in-process and as typed.

caretbot paces at --rate (TWILIO_SEGMENTS_PER_SECOND); a rate a little under the
fake's limit leaves room for network jitter between the two clocks.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CARETBOT_SPECS_DIR", str(ROOT.parent / "shared" / "specs"))

from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from bot.sandbox.twilio_api import FakeTwilio, TwilioError  # noqa: E402

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
TEAM_NUMBER = "+15005550006"
SLACK_TOKEN = "xoxb-bench"
MESSAGE = (
    "Hi {first_name|there}, night shifts at St. Mary's this week: "
    "https://jobs.example.com/nights. Reply YES"
)
FIRST_NAMES = ["Ana", "Ben", "Cy", "Dana", "Eli", "Fay", "Gus", "Hana", "Ivo", ""]


class StrictTwilio(FakeTwilio):
    """The Twilio fake, refusing any create past `limit` segments in the last second."""

    def __init__(self, *args: Any, limit: int, **kwargs: Any) -> None:
        self.limit = limit
        self.window: list[tuple[float, int]] = []
        self.accepted: list[tuple[float, str, int]] = []  # (time, to, segments)
        self.refused = 0
        self._gate = threading.Lock()
        super().__init__(*args, **kwargs)

    def _create(self, params: dict[str, list[str]]) -> dict[str, Any]:
        from bot.sandbox.segments import count_segments

        body = params.get("Body", [""])[-1]
        segments = count_segments(body)
        with self._gate:
            now = time.monotonic()
            self.window = [(t, s) for t, s in self.window if t > now - 1.0]
            if sum(s for _, s in self.window) + segments > self.limit:
                self.refused += 1
                raise TwilioError(429, 20429, "Too Many Requests", retry_after=1)
            self.window.append((now, segments))
        resource = super()._create(params)
        with self._gate:
            self.accepted.append((now, params["To"][-1], segments))
        return resource


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def quiet_hours_away() -> str:
    """A minute of quiet hours twelve hours from now: nobody is held in the bench."""
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Chicago")) + timedelta(hours=12)
    return f"{local:%H:%M}-{local + timedelta(minutes=1):%H:%M}"


def write_csv(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("First Name,Last Name,Mobile,Email,Opt In,City,State\n")
        for index in range(count):
            area = ("312", "212", "213", "512")[index % 4]
            first = FIRST_NAMES[index % len(FIRST_NAMES)]
            out.write(
                f"{first},Doe{index},+1{area}{2000000 + index:07d},"
                f"c{index}@example.com,yes,Chicago,IL\n"
            )


def caretbot(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )


def serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("caretbot serve did not start; see " + str(log))


def peak_memory_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def max_in_one_second(accepted: list[tuple[float, str, int]]) -> int:
    """The most segments whose arrivals fit in any window of one second."""
    times = [t for t, _, _ in accepted]
    segments = [s for _, _, s in accepted]
    prefix = [0]
    for s in segments:
        prefix.append(prefix[-1] + s)
    best = 0
    for start, t in enumerate(times):
        end = bisect.bisect_left(times, t + 1.0, lo=start)
        best = max(best, prefix[end] - prefix[start])
    return best


def blast_status(url: str) -> str:
    import sqlalchemy as sa

    from storage.blast_models import BLASTS

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        status = connection.execute(sa.select(BLASTS.c.status)).scalar_one()
    engine.dispose()
    return str(status)


def sent_states(url: str) -> Counter[str]:
    import sqlalchemy as sa

    from storage.blast_models import BLAST_RECIPIENTS

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(BLAST_RECIPIENTS.c.state, sa.func.count()).group_by(BLAST_RECIPIENTS.c.state)
        ).all()
    engine.dispose()
    return Counter({state: count for state, count in rows})


def prepare(workdir: Path, count: int, env: dict[str, str]) -> dict[str, float]:
    """Import the candidates and create the blast; the preview's times."""
    csv = workdir / "candidates.csv"
    write_csv(csv, count)
    started = time.perf_counter()
    caretbot(env, "import", str(csv), "--list", "Bench")
    imported = time.perf_counter() - started
    caretbot(env, "blasts", "create", "Bench", "--list", "Bench", "--message", MESSAGE)
    started = time.perf_counter()
    preview = json.loads(caretbot(env, "blasts", "preview", "Bench", "--json").stdout)
    typed = time.perf_counter() - started
    assert preview["recipients"] == count, preview

    from bot.delivery.blast_rules import blast_rules
    from bot.settings import load_settings
    from storage import blasts
    from storage.db import Database
    from storage.models import utcnow

    db = Database(env["DATABASE_URL"])
    settings = load_settings(**{k: v for k, v in env.items() if k.isupper() and k in _SETTINGS})
    with db.read() as session:
        blast = blasts.find_blast(session=session, name="Bench")
        assert blast is not None
        started = time.perf_counter()
        blasts.preview(session=session, blast=blast, rules=blast_rules(settings), now=utcnow())
        in_process = time.perf_counter() - started
    db.dispose()
    return {
        "import_s": imported,
        "preview_typed_s": typed,
        "preview_s": in_process,
        "segments": preview["segments"],
    }


_SETTINGS = {
    "DATABASE_URL", "PUBLIC_URL", "QUIET_HOURS", "TWILIO_SEGMENTS_PER_SECOND", "TRACK_LINKS",
}  # fmt: skip


def run(args: argparse.Namespace, *, kill: bool) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="bench-blast-"))
    port = free_port()
    twilio = StrictTwilio(ACCOUNT_SID, AUTH_TOKEN, limit=args.limit, record=True)
    twilio.start()
    slack = FakeSlack(SLACK_TOKEN)
    slack.start()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'caretbot.db'}",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": slack.api_url,
        "SLACK_CHANNEL_ID": "C0BENCH",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEAM_NUMBER,
        "TWILIO_API_URL": twilio.url,
        "TWILIO_SEGMENTS_PER_SECOND": str(args.rate),
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WORKERS_IN_PROCESS": "true",
        "QUIET_HOURS": quiet_hours_away(),
    }
    figures: dict[str, Any] = prepare(workdir, args.recipients, env)
    caretbot(env, "blasts", "send", "Bench")
    log = workdir / "serve.log"
    process = serve(env, port, log)
    killed_at = None
    try:
        if kill:
            while len(twilio.accepted) < args.recipients // 2:
                time.sleep(0.05)
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at = len(twilio.accepted)
            process = serve(env, port, log)
        deadline = time.monotonic() + args.recipients / args.rate * 3 + 120
        while time.monotonic() < deadline:
            if blast_status(env["DATABASE_URL"]) == "done":
                break
            time.sleep(0.5)
        figures["peak_memory_mb"] = peak_memory_mb(process.pid)
        figures["cpu_s"] = cpu_seconds(process.pid)
        figures["load"] = os.getloadavg()[0]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        twilio.stop()
        slack.stop()
    accepted = sorted(twilio.accepted)
    per_recipient = Counter(to for _, to, _ in accepted)
    wall = accepted[-1][0] - accepted[0][0] + 1.0 / args.limit
    total = sum(s for _, _, s in accepted)
    figures.update(
        texts=len(accepted),
        wall_s=wall,
        ideal_s=total / args.limit,
        efficiency=(total / args.limit) / wall,
        max_segments_in_1s=max_in_one_second(accepted),
        refused_429=twilio.refused,
        doubles=sum(1 for n in per_recipient.values() if n > 1),
        misses=args.recipients - len(per_recipient),
        killed_after=killed_at,
        states=dict(sent_states(env["DATABASE_URL"])),
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--limit", type=int, default=50, help="the fake's segments a second")
    parser.add_argument("--rate", type=float, default=49, help="TWILIO_SEGMENTS_PER_SECOND")
    parser.add_argument("--skip-kill", action="store_true")
    args = parser.parse_args()
    whole = run(args, kill=False)
    print(f"recipients {args.recipients}, fake limit {args.limit}/s, caretbot rate {args.rate}/s")
    print(
        f"import {whole['import_s']:.1f} s; preview {whole['preview_s']:.3f} s in-process, "
        f"{whole['preview_typed_s']:.2f} s as typed (with Python's start)"
    )
    print(
        f"blast: {whole['texts']} texts, {whole['wall_s']:.1f} s against ideal "
        f"{whole['ideal_s']:.1f} s: efficiency {whole['efficiency']:.1%}; "
        f"max {whole['max_segments_in_1s']} segments in any second; "
        f"429s {whole['refused_429']}; peak memory {whole['peak_memory_mb']:.0f} MB; "
        f"doubles {whole['doubles']}, misses {whole['misses']}; sending process CPU "
        f"{whole['cpu_s']:.0f} s ({whole['cpu_s'] / whole['texts'] * 1000:.1f} ms a text); "
        f"load average {whole['load']:.1f} on {os.cpu_count()} CPUs"
    )
    if not args.skip_kill:
        killed = run(args, kill=True)
        print(
            f"kill -9 after {killed['killed_after']} texts, restarted: {killed['texts']} texts, "
            f"doubles {killed['doubles']}, misses {killed['misses']}, "
            f"429s {killed['refused_429']}, states {killed['states']}"
        )


if __name__ == "__main__":
    main()
