"""bench/inbound_storm: a storm of signed inbound-SMS webhooks against `caretbot serve`.

    python bench/inbound_storm.py [--requests 2000] [--numbers 200] [--concurrency 32]
                                  [--slack-rate 100] [--slack-burst 10]

Starts a Slack fake that enforces a per-channel rate (429 + Retry-After beyond it) and
`caretbot serve` on a fresh SQLite file, each in its own process. Then, from this
process, over keep-alive connections: the same number of GET /healthz first (the
baseline in the same run), then the webhooks. Prints throughput and p50/p99 latency of
both and their ratio, the messages stored (must equal the requests, once each), how
long Slack took to catch up against the configured rate, and the 429s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.signing import inbound_sms_params, twilio_signature  # noqa: E402

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "b" * 32
TEAM_NUMBER = "+15005550006"
SLACK_TOKEN = "xoxb-bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up")
        time.sleep(0.1)


def build_requests(public_url: str, count: int, numbers: int) -> list[bytes]:
    """Signed raw HTTP/1.1 requests: `count` texts spread over `numbers` phones."""
    requests = []
    for index in range(count):
        phone = f"+1512555{index % numbers:04d}"
        params = inbound_sms_params(
            phone,
            TEAM_NUMBER,
            f"Hello, text {index} about the night nurse job",
            account_sid=ACCOUNT_SID,
        )
        body = urlencode(params).encode()
        signature = twilio_signature(AUTH_TOKEN, public_url + "/twilio/sms", params)
        head = (
            "POST /twilio/sms HTTP/1.1\r\nHost: bench\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


async def fire(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], list[int]]:
    """Send every request over `concurrency` keep-alive connections; (seconds, latencies, statuses)."""
    queue = list(reversed(requests))
    latencies: list[float] = []
    statuses: list[int] = []

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            raw = queue.pop()
            started = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses.append(int(head.split(b" ", 2)[1]))
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def run(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], list[int], float]:
    """`fire` on uvloop, with the CPU seconds the load generator itself used."""
    import resource

    import uvloop

    before = resource.getrusage(resource.RUSAGE_SELF)
    seconds, latencies, statuses = uvloop.run(fire(port, requests, concurrency))
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return seconds, latencies, statuses, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summary(name: str, seconds: float, latencies: list[float]) -> dict[str, float]:
    figures = {
        "requests_per_s": len(latencies) / seconds,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "mean_ms": statistics.fmean(latencies) * 1000,
    }
    print(
        f"{name:>10}: {figures['requests_per_s']:8.0f} req/s   p50 {figures['p50_ms']:6.2f} ms"
        f"   p99 {figures['p99_ms']:6.2f} ms"
    )
    return figures


def slack_stats(slack_url: str) -> dict[str, float]:
    with urllib.request.urlopen(slack_url + "/_fake/stats", timeout=5) as response:
        return json.load(response)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--numbers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--slack-rate", type=float, default=100.0)
    parser.add_argument("--slack-burst", type=int, default=10)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caretbot-bench-"))
    slack_port, caretbot_port = free_port(), free_port()
    slack_url = f"http://127.0.0.1:{slack_port}"
    public_url = f"http://127.0.0.1:{caretbot_port}"
    database = workdir / "bench.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{database}",
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": slack_url + "/api/",
        "SLACK_CHANNEL_ID": "C0BENCH",
        "SLACK_POSTS_PER_SECOND": str(args.slack_rate),
        "SLACK_POST_BURST": str(args.slack_burst),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEAM_NUMBER,
        "TWILIO_API_URL": "http://127.0.0.1:9",
        "PUBLIC_URL": public_url,
        "PYTHONPATH": str(ROOT),
    }
    slack = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sandbox.slack_api",
            "--port",
            str(slack_port),
            "--rate",
            str(args.slack_rate),
            "--burst",
            str(args.slack_burst),
            "--token",
            SLACK_TOKEN,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    serve_log = open(workdir / "serve.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        ["caretbot", "serve", "--port", str(caretbot_port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=serve_log,
    )
    try:
        wait_http(slack_url + "/_fake/stats")
        wait_http(public_url + "/healthz")
        requests = build_requests(public_url, args.requests, args.numbers)
        health = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n"

        print(
            f"caretbot serve on SQLite; {args.requests} webhooks from {args.numbers} numbers, "
            f"{args.concurrency} in flight; Slack fake at {args.slack_rate:g}/s burst {args.slack_burst}"
        )
        seconds, health_latencies, health_statuses, cpu = run(
            caretbot_port, [health] * args.requests, args.concurrency
        )
        base = summary("/healthz", seconds, health_latencies)
        print(f"            (the load generator used {cpu / seconds * 100:.0f}% of a core)")
        storm_started = time.time()
        seconds, latencies, statuses, cpu = run(caretbot_port, requests, args.concurrency)
        storm = summary("webhooks", seconds, latencies)
        print(f"            (the load generator used {cpu / seconds * 100:.0f}% of a core)")
        bad = [s for s in statuses if s != 200] + [s for s in health_statuses if s != 200]
        print(
            f"     ratio: webhooks at {storm['requests_per_s'] / base['requests_per_s']:.2f}x the "
            f"/healthz throughput, p99 {storm['p99_ms'] / base['p99_ms']:.2f}x; non-200 answers: {len(bad)}"
        )

        expected_posts = args.requests + args.numbers  # each text, plus each thread's card
        deadline = time.monotonic() + expected_posts / args.slack_rate * 3 + 30
        while (stats := slack_stats(slack_url))["posts"] < expected_posts:
            if time.monotonic() > deadline:
                print(f"Slack did not catch up: {stats}")
                break
            time.sleep(0.2)
        caught_up = stats["last_post_at"] - storm_started
        ideal = max(0.0, (expected_posts - args.slack_burst) / args.slack_rate)
        print(
            f"     slack: {stats['posts']} posts caught up {caught_up:.1f} s after the storm began; "
            f"the configured rate allows {ideal:.1f} s ({caught_up / ideal:.2f}x); "
            f"429s: {stats['ratelimited']} ({stats['ratelimited'] / max(1, stats['posts']) * 100:.2f}% of posts)"
        )
        with sqlite3.connect(database) as connection:
            stored, distinct = connection.execute(
                "SELECT count(*), count(DISTINCT twilio_sid) FROM messages WHERE direction='inbound'"
            ).fetchone()
        print(
            f"    stored: {stored} inbound messages, {distinct} distinct MessageSids "
            f"({'OK' if stored == distinct == args.requests else 'WRONG'}: expected {args.requests})"
        )
    finally:
        server.send_signal(signal.SIGINT)
        slack.terminate()
        server.wait(20)
        slack.wait(5)
        serve_log.close()


if __name__ == "__main__":
    main()
