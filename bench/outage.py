"""bench/outage: 1,000 texts in while Slack is down for 120 s, then recovery.

    python bench/outage.py [--texts 1000] [--numbers 100] [--outage 120]
                           [--mode 503|refuse] [--slack-rate 10] [--slack-burst 3]
                           [--database-url URL] [--soak-minutes 0]

Starts a Slack fake that enforces a per-channel rate (429 + Retry-After beyond it) and
`caretbot serve` (default mode: the workers in a child process), each in its own
process. Slack then goes down: every call answered 503 (`--mode 503`) or its process
stopped so that connections are refused (`--mode refuse`). Signed inbound webhooks,
numbered per candidate, arrive spread over the outage; then Slack comes back. Prints
texts lost (must be 0), doubled (0), out of order within a thread (0), cards doubled,
and the catch-up time from Slack's return to the last post against what the configured
rate allows (target at most 1.5x).

`--soak-minutes N` then keeps texts coming in (10 a second) and replies going out (a
signed Slack event per reply, through a Twilio fake) for N minutes, sampling the worker
process's RSS each minute, and says whether it levels off.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sandbox.signing import (  # noqa: E402
    inbound_sms_params,
    slack_headers,
    slack_message_event,
    twilio_signature,
)

AUTH_TOKEN = "bench-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "b" * 32
TEAM_NUMBER = "+15005550006"
SLACK_TOKEN = "xoxb-bench"
SIGNING_SECRET = "bench-signing-secret"
CHANNEL = "C0BENCH"
TEXT_RE = re.compile(r"^text (\d+) from (\+\d+)")


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


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.load(response)


def post_json(url: str, payload: Any) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def text_in(public_url: str, phone: str, body: str) -> int:
    """A candidate's text: Twilio's signed webhook. Returns caretbot's HTTP status."""
    params = inbound_sms_params(phone, TEAM_NUMBER, body, account_sid=ACCOUNT_SID)
    signature = twilio_signature(AUTH_TOKEN, public_url + "/twilio/sms", params)
    request = urllib.request.Request(
        public_url + "/twilio/sms",
        data=urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


def slack_event(public_url: str, envelope: dict[str, Any]) -> int:
    body = json.dumps(envelope).encode()
    headers = slack_headers(SIGNING_SECRET, body)
    headers["Content-Type"] = "application/json"
    request = urllib.request.Request(public_url + "/slack/events", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return int(response.status)


class SlackFake:
    """The Slack fake in its own process, which `--mode refuse` stops and restarts."""

    def __init__(self, port: int, rate: float, burst: int, env: dict[str, str]) -> None:
        self.port, self.rate, self.burst, self.env = port, rate, burst, env
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bot.sandbox.slack_api",
                "--port",
                str(self.port),
                "--rate",
                str(self.rate),
                "--burst",
                str(self.burst),
                "--token",
                SLACK_TOKEN,
                "--record",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(self.url + "/_fake/stats")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def worker_pid(server_pid: int) -> int | None:
    """The `serve` process's worker child (spawned by multiprocessing; not its resource
    tracker), found through /proc."""
    try:
        for task in Path(f"/proc/{server_pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                command = Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")
                if b"spawn_main" in command:
                    return int(child)
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def check_posts(posts: list[dict[str, Any]], sent: dict[str, list[int]]) -> dict[str, int]:
    """Lost, doubled and out-of-order texts, and doubled cards, from Slack's record."""
    texts = [p for p in posts if p["thread_ts"] is not None and TEXT_RE.match(p["text"])]
    seen = Counter((m[2], int(m[1])) for p in texts if (m := TEXT_RE.match(p["text"])))
    expected = {(phone, n) for phone, numbers in sent.items() for n in numbers}
    by_thread: dict[str, list[tuple[float, int]]] = defaultdict(list)
    phones_of_thread: dict[str, set[str]] = defaultdict(set)
    for p in texts:
        m = TEXT_RE.match(p["text"])
        assert m is not None
        by_thread[p["thread_ts"]].append((float(p["ts"]), int(m[1])))
        phones_of_thread[p["thread_ts"]].add(m[2])
    out_of_order = 0
    for entries in by_thread.values():
        numbers = [n for _, n in sorted(entries)]
        out_of_order += sum(1 for a, b in zip(numbers, numbers[1:], strict=False) if b < a)
    threads_per_phone = Counter(phone for phones in phones_of_thread.values() for phone in phones)
    roots = [p for p in posts if p["thread_ts"] is None]
    return {
        "lost": len(expected - set(seen)),
        "doubled": sum(count - 1 for count in seen.values() if count > 1),
        "out_of_order": out_of_order,
        "split_threads": sum(1 for count in threads_per_phone.values() if count > 1),
        "cards": len(roots),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--numbers", type=int, default=100)
    parser.add_argument("--outage", type=float, default=120.0, help="seconds Slack is down")
    parser.add_argument("--mode", choices=("503", "refuse"), default="503")
    parser.add_argument("--slack-rate", type=float, default=10.0)
    parser.add_argument("--slack-burst", type=int, default=3)
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--soak-minutes", type=float, default=0.0)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="caretbot-outage-"))
    slack_port, caretbot_port = free_port(), free_port()
    public_url = f"http://127.0.0.1:{caretbot_port}"
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLACK_BOT_TOKEN": SLACK_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
        "SLACK_CHANNEL_ID": CHANNEL,
        "SLACK_POSTS_PER_SECOND": str(args.slack_rate),
        "SLACK_POST_BURST": str(args.slack_burst),
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEAM_NUMBER,
        "PUBLIC_URL": public_url,
        "PYTHONPATH": str(ROOT),
    }
    twilio = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sandbox.twilio_api",
            "--account-sid",
            ACCOUNT_SID,
            "--auth-token",
            AUTH_TOKEN,
            "--port",
            "0",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert twilio.stdout is not None
    twilio_url = twilio.stdout.readline().decode().strip()
    if not twilio_url.startswith("http"):
        raise SystemExit("the Twilio fake did not start (it reads CARETBOT_SPECS_DIR's specs)")
    env["TWILIO_API_URL"] = twilio_url
    slack = SlackFake(slack_port, args.slack_rate, args.slack_burst, env)
    slack.start()
    if database_url.startswith("postgresql"):
        subprocess.run(["caretbot", "db", "upgrade"], cwd=workdir, env=env, check=True)
    serve_log = open(workdir / "serve.log", "w")  # noqa: SIM115 - closed in finally
    server = subprocess.Popen(
        ["caretbot", "serve", "--port", str(caretbot_port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=serve_log,
        start_new_session=True,
    )
    try:
        wait_http(public_url + "/healthz")
        phones = [f"+1512555{n:04d}" for n in range(args.numbers)]
        print(
            f"caretbot serve on {database_url.split(':')[0]}; {args.texts} texts from "
            f"{args.numbers} numbers while Slack is down ({args.mode}) for {args.outage:g} s; "
            f"Slack fake at {args.slack_rate:g}/s burst {args.slack_burst} per channel"
        )
        # Slack goes down.
        if args.mode == "503":
            post_json(slack.url + "/_fake/outage", {"status": 503})
        else:
            slack.stop()
        down_at = time.monotonic()
        sent: dict[str, list[int]] = defaultdict(list)
        bad = 0
        spread = args.outage * 0.8
        for index in range(args.texts):
            phone = phones[index % args.numbers]
            number = len(sent[phone])
            status = text_in(public_url, phone, f"text {number} from {phone}: still interested?")
            if status == 200:
                sent[phone].append(number)
            else:
                bad += 1
            pause = down_at + spread * (index + 1) / args.texts - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        time.sleep(max(0.0, down_at + args.outage - time.monotonic()))
        # Slack is back.
        if args.mode == "503":
            post_json(slack.url + "/_fake/outage", {"status": None})
        else:
            slack.start()
        back_at, back_wall = time.monotonic(), time.time()
        expected_posts = sum(len(v) for v in sent.values()) + len(sent)
        deadline = back_at + expected_posts / args.slack_rate * 3 + 60
        while (stats := get_json(slack.url + "/_fake/stats"))["posts"] < expected_posts:
            if time.monotonic() > deadline:
                print(f"Slack did not catch up: {stats}")
                break
            time.sleep(0.5)
        time.sleep(2.0)  # anything doubled would show up now
        stats = get_json(slack.url + "/_fake/stats")
        posts = get_json(slack.url + "/_fake/posts")["posts"]
        figures = check_posts(posts, sent)
        caught_up = (stats["last_post_at"] or back_wall) - back_wall
        ideal = max(1e-9, (expected_posts - args.slack_burst) / args.slack_rate)
        print(
            f"    texts: {sum(len(v) for v in sent.values())} stored (non-200 answers: {bad}); "
            f"lost {figures['lost']}, doubled {figures['doubled']}, out of order "
            f"{figures['out_of_order']}; cards {figures['cards']} for {len(sent)} candidates, "
            f"threads split {figures['split_threads']}"
        )
        print(
            f" catch-up: {stats['posts']} posts {caught_up:.1f} s after Slack came back; the "
            f"configured rate allows {ideal:.1f} s ({caught_up / ideal:.2f}x, target <= 1.5x); "
            f"429s: {stats['ratelimited']}; calls during and after: {stats['calls']}"
        )
        if args.soak_minutes > 0:
            soak(args, public_url, twilio_url, server.pid, phones, sent, posts)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            print("serve did not stop on SIGINT within 20 s; killing its process group")
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(5)
        slack.stop()
        twilio.terminate()
        twilio.wait(5)
        serve_log.close()


def soak(
    args: argparse.Namespace,
    public_url: str,
    twilio_url: str,
    server_pid: int,
    phones: list[str],
    sent: dict[str, list[int]],
    posts: list[dict[str, Any]],
) -> None:
    """Texts in at 10 a second and a teammate's reply out for every tenth, for
    `--soak-minutes`; the worker's RSS each minute."""
    threads = {}
    for p in posts:
        m = TEXT_RE.match(p["text"]) if p["thread_ts"] else None
        if m:
            threads[m[2]] = p["thread_ts"]
    pid = worker_pid(server_pid)
    if pid is None:
        print("    soak: no worker child process found (WORKERS_IN_PROCESS?)")
        return
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        started = time.monotonic()
        while not stop.is_set():
            value = rss_mb(pid)
            if value is not None:
                samples.append(((time.monotonic() - started) / 60, value))
            stop.wait(60)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    end = time.monotonic() + args.soak_minutes * 60
    index = texts_in = replies = 0
    while time.monotonic() < end:
        phone = phones[index % len(phones)]
        number = len(sent[phone])
        if text_in(public_url, phone, f"text {number} from {phone}: soak") == 200:
            sent[phone].append(number)
            texts_in += 1
        if index % 10 == 0 and phone in threads:
            envelope = slack_message_event(
                CHANNEL, "U0DANA", f"Reply {index} to {phone}", thread_ts=threads[phone]
            )
            if slack_event(public_url, envelope) == 200:
                replies += 1
        index += 1
        time.sleep(0.1)
    stop.set()
    sampler.join(5)
    value = rss_mb(pid)
    if value is not None:
        samples.append((args.soak_minutes, value))
    created = get_json(twilio_url + "/_fake/stats")["created"]
    print(
        f"    soak: {texts_in} texts in, {replies} replies ({created} texted) over "
        f"{args.soak_minutes:g} min; worker RSS by minute (MB):"
    )
    print("          " + ", ".join(f"{m:.0f}: {mb:.1f}" for m, mb in samples))
    if len(samples) >= 4:
        half = len(samples) // 2
        first = max(mb for _, mb in samples[:half])
        last = max(mb for _, mb in samples[half:])
        verdict = "levels off" if last - first <= max(2.0, 0.05 * first) else "keeps growing"
        print(
            f"          peak in the first half {first:.1f} MB, second half {last:.1f} MB: {verdict}"
        )


if __name__ == "__main__":
    main()
