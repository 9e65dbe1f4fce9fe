"""Caret command parsing speed: ``python bench/parse.py [--count 10000] [--save]``.

Parses a generated corpus of commands (a mix like a team's threads: claims, notes,
^at with every kind of <when>, a few mistakes) one at a time, timing each with
perf_counter_ns, and does a plain ``str.split`` pass over the same corpus in the same
run for scale. Grammar construction is timed apart, in fresh processes: from scratch
(no Lark cache) and from the cache, as a restarted server would load it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from grammar import CommandError, parse_command

NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London")
OUT = Path(__file__).parent / "out"

_PEOPLE = ["<@U0DANA|dana>", "<@U0LEE>", "<@W0SAM|sam>", "<@U0PRIYA|priya>", "<@U0JO>"]
_WHEN = [
    "3pm", "3:30pm tomorrow", "tomorrow 9am", "monday 10:00", "dec 1 9am", "2026-12-01 09:00",
    "noon", "in 20 min", "in 2 hours", "+3d", "tomorrow at 8:30am", "friday 4pm", "in 1 hour",
    "next tuesday noon", "5pm today", "in 45 min", "+1w", "thursday 11am",
]  # fmt: skip
_TEXTS = [
    "Are you free to talk?",
    "Hi {name}, just checking in on your application for the night shift RN role.",
    "Reminder: your interview is tomorrow at 10. Reply YES to confirm.",
    "Did you get a chance to fill out the form? https://apply.example.com/f/8812",
    "Call me when you can",
    "We'd love to have you in for a second interview. Does Thursday work?",
    "Thanks! Talk soon.",
]
_NOTES = [
    "prefers nights, available from January",
    "spoke on the phone, very keen, 5 years ICU",
    "<@U0DANA> knows her from St Mary's",
    "wants $42/h minimum; told her the band is 38-44",
    "no car: needs a site on the bus line\nasked about the Eastside clinic",
]
_MISTAKES = [
    "^clam", "^asign <@U0LEE>", "^at tomorow 9am hi", "^at 7am Good morning", "^cancel soon",
    "^status hired", "^assign dana", "^note", "^list ad Night nurses", "^deliver 5 stars",
]  # fmt: skip
_STATUSES = ["Engaged", "interview scheduled", "Not Qualified", "Delivered", "archived"]
_LISTS = ["Night nurses", '"Fall 2026"', "ICU pool", "Do not rehire"]


def _command(rng: random.Random) -> str:
    """One command line, drawn with the frequencies a busy recruiting team types them."""
    kinds: dict[str, Callable[[], str]] = {
        "claim": lambda: "^claim",
        "unclaim": lambda: "^unclaim",
        "assign": lambda: "^assign " + " ".join(rng.sample(_PEOPLE, rng.choice((1, 1, 2)))),
        "unassign": lambda: rng.choice(("^unassign", "^unassign " + rng.choice(_PEOPLE))),
        "at": lambda: f"^at {rng.choice(_WHEN)} {rng.choice(_TEXTS).format(name='Ana')}",
        "scheduled": lambda: "^scheduled",
        "cancel": lambda: rng.choice(("^cancel", f"^cancel {rng.randint(1, 9000)}")),
        "close": lambda: "^close",
        "open": lambda: "^open",
        "read": lambda: "^read",
        "note": lambda: "^note " + rng.choice(_NOTES),
        "deliver": lambda: (
            f"^deliver {rng.choice(_PEOPLE)} Interview Scheduled {rng.randint(1, 5)} stars "
            + rng.choice(_NOTES)
        ),
        "invite": lambda: rng.choice(
            ("^invite <@U0HM>", "^invite <mailto:hm@hospital.org|hm@hospital.org>")
        ),
        "opt-out": lambda: "^opt-out asked by phone not to be texted",
        "opt-in": lambda: "^opt-in opted out by mistake",
        "help": lambda: rng.choice(("^help", "^help at", "^help deliver")),
        "status": lambda: "^status " + rng.choice(_STATUSES),
        "list": lambda: f"^list {rng.choice(('add', 'remove'))} {rng.choice(_LISTS)}",
        "mistake": lambda: rng.choice(_MISTAKES),
    }
    weights = {
        "claim": 12, "unclaim": 3, "assign": 10, "unassign": 3, "at": 18, "scheduled": 4,
        "cancel": 4, "close": 8, "open": 2, "read": 6, "note": 10, "deliver": 3, "invite": 2,
        "opt-out": 1, "opt-in": 0.5, "help": 2, "status": 4, "list": 4, "mistake": 3,
    }  # fmt: skip
    kind = rng.choices(list(weights), weights=list(weights.values()))[0]
    return kinds[kind]()


def corpus(count: int, seed: int = 2026) -> list[tuple[str, str]]:
    """``count`` (command line, issuer's time zone) pairs, the same for the same seed."""
    rng = random.Random(seed)
    return [(_command(rng), rng.choice(ZONES)) for _ in range(count)]


def _time_each(lines: list[tuple[str, str]], work: Callable[[str, str], object]) -> list[int]:
    timings = []
    clock = time.perf_counter_ns
    for text, zone in lines:
        start = clock()
        work(text, zone)
        timings.append(clock() - start)
    return timings


def _parse(text: str, zone: str) -> object:
    try:
        return parse_command(text, now=NOW, tz=zone)
    except CommandError as error:
        return error


def _split(text: str, zone: str) -> object:
    return text.split()


def _percentile(values: list[int], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] / 1000


_CONSTRUCT = """
import time
t0 = time.perf_counter()
from lark import Lark
import grammar.commands as c, grammar.when as w
t1 = time.perf_counter()
if {cached}:
    c.command_parser(); w.when_parser()
else:
    Lark.open("commands.lark", rel_to=c.__file__, parser="lalr", transformer=c._Build())
    Lark.open("when.lark", rel_to=w.__file__, parser="lalr", transformer=w._Understand())
t2 = time.perf_counter()
print((t1 - t0) * 1000, (t2 - t1) * 1000)
"""


def construction(cached: bool, runs: int = 5) -> tuple[float, float]:
    """Median (import ms, construction ms) over fresh processes."""
    imports, builds = [], []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", _CONSTRUCT.format(cached=cached)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        imports.append(float(out[0]))
        builds.append(float(out[1]))
    return statistics.median(imports), statistics.median(builds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3, help="passes; the best is reported")
    parser.add_argument("--save", action="store_true", help="write bench/out/parse_corpus.jsonl")
    args = parser.parse_args()

    lines = corpus(args.count)
    if args.save:
        OUT.mkdir(exist_ok=True)
        with (OUT / "parse_corpus.jsonl").open("w", encoding="utf-8") as file:
            for text, zone in lines:
                file.write(json.dumps({"text": text, "tz": zone}, ensure_ascii=False) + "\n")

    construction(cached=True, runs=1)  # make sure the Lark cache exists
    cold_import, cold_build = construction(cached=False)
    warm_import, warm_build = construction(cached=True)

    _time_each(lines[:500], _parse)  # build the parsers and warm up
    _time_each(lines[:500], _split)
    # Other processes share this machine: run the passes a few times, keep the best.
    rounds = [(_time_each(lines, _parse), _time_each(lines, _split)) for _ in range(args.rounds)]
    parse_ns, split_ns = min(rounds, key=lambda pair: statistics.median(pair[0]))
    errors = sum(isinstance(_parse(text, zone), CommandError) for text, zone in lines)

    by_kind: dict[str, list[int]] = defaultdict(list)
    for (text, _), ns in zip(lines, parse_ns, strict=True):
        by_kind[text.split()[0]].append(ns)

    p50, p99 = _percentile(parse_ns, 0.50), _percentile(parse_ns, 0.99)
    s50, s99 = _percentile(split_ns, 0.50), _percentile(split_ns, 0.99)
    rate, split_rate = len(lines) / (sum(parse_ns) / 1e9), len(lines) / (sum(split_ns) / 1e9)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"corpus: {len(lines)} commands ({errors} refused with a CommandError)")
    print(f"best of {args.rounds} rounds; {os.cpu_count()} CPUs, load average {load}")
    print(f"parse_command  p50 {p50:7.1f} us  p99 {p99:7.1f} us  {rate:9,.0f} commands/s")
    print(f"str.split      p50 {s50:7.1f} us  p99 {s99:7.1f} us  {split_rate:9,.0f} commands/s")
    print(f"ratio          p50 {p50 / s50:7.0f} x   throughput {split_rate / rate:5.0f} x")
    print(f"target p50 <= 100 us: {'met' if p50 <= 100 else 'MISSED'}")
    print("p50 by command:")
    for kind, values in sorted(by_kind.items(), key=lambda item: -len(item[1])):
        print(f"  {kind:12s} {len(values):5d}  p50 {statistics.median(values) / 1000:7.1f} us")
    print("grammar construction (fresh process, median of 5):")
    print(f"  no cache    {cold_build:6.1f} ms  (import {cold_import:5.1f} ms)")
    print(f"  lark cache  {warm_build:6.1f} ms  (import {warm_import:5.1f} ms)")


if __name__ == "__main__":
    main()
