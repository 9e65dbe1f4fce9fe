"""bench/hostile: oversized and forged requests against `caretbot serve`, then a Ctrl-C.

    python bench/hostile.py [--forged 10] [--size-mb 5]

Starts `caretbot serve` in its default mode (workers in a child process) on a fresh
SQLite file, with Slack and Twilio pointed at a closed port (nothing here needs them).
Measures GET /healthz alone (the baseline, same run), then sends `--forged` unsigned
Slack requests of `--size-mb` MB each and one signed Twilio webhook of the same size,
timing each answer and /healthz between them; reports the status codes, the bytes of
log they caused and the rows stored (must be 0). Last, sends SIGINT to the process
group as Ctrl-C does and reports how long every process took to end (must be < 10 s),
and whether anything printed a traceback or multiprocessing's "leaked semaphore".
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.signing import inbound_sms_params, twilio_signature  # noqa: E402

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "b" * 32
TEAM_NUMBER = "+15005550006"


def healthz_ms(client: httpx.Client, times: int) -> float:
    took = []
    for _ in range(times):
        start = time.perf_counter()
        client.get("/healthz").raise_for_status()
        took.append((time.perf_counter() - start) * 1000)
    return statistics.median(took)


def group_alive(pgid: int) -> bool:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--forged", type=int, default=10)
    parser.add_argument("--size-mb", type=float, default=5.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="caretbot-hostile-"))
    port = 18000 + os.getpid() % 1000
    url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'caretbot.db'}",
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_CHANNEL_ID": "C0BENCH",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEAM_NUMBER,
        "TWILIO_API_URL": "http://127.0.0.1:9",
        "PUBLIC_URL": url,
    }
    log_path = work / "serve.log"
    log = log_path.open("w")
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "caretbot"), "serve", "--port", str(port)],
        cwd=work,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    client = httpx.Client(base_url=url, timeout=30)
    deadline = time.monotonic() + 60
    while "workers.started" not in log_path.read_text():
        if time.monotonic() > deadline or serve.poll() is not None:
            raise SystemExit(f"serve did not start:\n{log_path.read_text()}")
        time.sleep(0.2)
    baseline = healthz_ms(client, 50)
    size = int(args.size_mb * 1_000_000)
    log_before = log_path.stat().st_size
    statuses, took, during = [], [], []
    body = b'{"type": "event_callback", "event": {"text": "' + b"x" * size + b'"}}'
    for _ in range(args.forged):
        start = time.perf_counter()
        response = client.post(
            "/slack/events",
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(int(time.time())),
                "X-Slack-Signature": "v0=" + "0" * 64,
            },
        )
        took.append((time.perf_counter() - start) * 1000)
        statuses.append(response.status_code)
        during.append(healthz_ms(client, 5))
    params = inbound_sms_params("+15125550143", TEAM_NUMBER, "y" * size, account_sid=ACCOUNT_SID)
    signature = twilio_signature(AUTH_TOKEN, url + "/twilio/sms", params)
    start = time.perf_counter()
    twilio = client.post("/twilio/sms", data=params, headers={"X-Twilio-Signature": signature})
    twilio_ms = (time.perf_counter() - start) * 1000
    log_bytes = log_path.stat().st_size - log_before
    stored = sqlite3.connect(work / "caretbot.db").execute("SELECT count(*) FROM messages")
    rows = stored.fetchone()[0]

    print(f"forged Slack requests of {args.size_mb} MB: {args.forged}, answers {set(statuses)}")
    print(f"  answer time p50 {statistics.median(took):.1f} ms, max {max(took):.1f} ms")
    print(
        f"  /healthz p50 baseline {baseline:.2f} ms, between them {statistics.median(during):.2f} ms"
    )
    print(f"signed Twilio webhook of {args.size_mb} MB: {twilio.status_code} in {twilio_ms:.1f} ms")
    print(f"log written by all of them: {log_bytes} bytes; messages stored: {rows}")

    start = time.monotonic()
    os.killpg(serve.pid, signal.SIGINT)
    while group_alive(serve.pid):
        if time.monotonic() - start > 30:
            os.killpg(serve.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    stopped = time.monotonic() - start
    serve.wait(5)
    log.close()
    output = log_path.read_text()
    print(f"Ctrl-C (SIGINT to the group): every process ended in {stopped:.2f} s")
    print(
        f"  traceback printed: {'Traceback' in output}; leaked semaphore: {'leaked semaphore' in output}"
    )


if __name__ == "__main__":
    main()
