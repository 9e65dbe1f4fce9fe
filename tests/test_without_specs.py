"""A clone without the vendor specs (../shared/specs) runs the suite: the conformance
checks are skipped and one line says where the specs come from (issue 7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_without_specs_the_fakes_work_and_one_line_says_where_specs_come_from(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("TEST_POSTGRES_URL",)}
    env["CARETBOT_SPECS_DIR"] = str(tmp_path / "no specs here")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "tests/test_fakes.py",
            "-k",
            "spec or events_api or status_callbacks_are_signed or auto_status",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    out = result.stdout
    assert result.returncode == 0, out[-3000:]
    assert "skipped" in out and "passed" in out and "error" not in out
    (line,) = [line for line in out.splitlines() if line.startswith("vendor specs:")]
    assert "twilio_api_v2010.json" in line and "https://github.com/twilio/twilio-oai" in line
    assert "https://github.com/slackapi/slack-api-specs" in line
