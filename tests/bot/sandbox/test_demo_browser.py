"""`caretbot demo` in a real browser: headless Chromium from Debian's packages
(`chromium`, `chromium-driver`) driven by Selenium, against the command as typed, in a
subprocess on a free port. A candidate texts in from the phone, a teammate answers in
the thread and claims the conversation, a failure is armed, the sample is loaded, a
blast goes to the sample list from the page's terminal and a candidate answers it, the
push sends that candidate to the Zoho Recruit stand-in and the page shows the record. The
page's screenshot is saved to docs/demo.png for the README."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[3]
SCREENSHOT = ROOT / "docs" / "demo.png"
CANDIDATE = "+15125550143"

pytestmark = pytest.mark.skipif(
    not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)",
)


def caretbot_command() -> list[str]:
    script = Path(sys.executable).with_name("caretbot")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[str]:
    """`caretbot demo --port 0 --data DIR` running; yields the page's address."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env.pop("DATABASE_URL", None)
    process = subprocess.Popen(
        [*caretbot_command(), "demo", "--port", "0", "--data", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert process.stdout is not None
    address = None
    seen = []
    deadline = time.monotonic() + 60
    while address is None and time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith("caretbot demo: open "):
            address = line.split()[3].rstrip("/")
    assert address, "caretbot demo did not print its address:\n" + "".join(seen)
    try:
        yield address
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1500,1000",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    try:
        yield driver
    finally:
        driver.quit()


def test_a_conversation_from_the_phone_to_the_thread_and_back(demo: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.ui import WebDriverWait

    # The page re-renders a message when it changes: an element read mid-render is stale.
    wait = WebDriverWait(
        browser, 20, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )

    def text_of(css: str) -> str:
        return " ".join(e.text for e in browser.find_elements(By.CSS_SELECTOR, css))

    browser.get(demo + "/")
    wait.until(lambda d: Select(d.find_element(By.ID, "as-user")).options)
    number = browser.find_element(By.ID, "phone-number")
    number.clear()
    number.send_keys(CANDIDATE)

    # The candidate texts in: a card opens a thread, the text lands in it.
    first = "Hola, ¿sigue abierto el puesto del almacén? — Zoë"
    browser.find_element(By.ID, "phone-body").send_keys(first)
    browser.find_element(By.ID, "phone-send").click()
    wait.until(lambda d: first in text_of("#channel .thread"))
    thread = browser.find_element(By.CSS_SELECTOR, "#channel .thread")
    wait.until(lambda d: "+1 512-555-0143" in text_of("#channel .thread .msg"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "button[data-action='desk.claim']"))

    # A teammate replies in the thread: the text reaches the phone, delivered.
    Select(browser.find_element(By.ID, "as-user")).select_by_visible_text("Sam Okafor")
    reply = "Yes! Come in Thursday at 10 and ask for “Dana” at the front desk."
    box = thread.find_element(By.CSS_SELECTOR, ".reply-input")
    box.send_keys(reply)
    thread.find_element(By.CSS_SELECTOR, ".reply-send").click()
    wait.until(
        lambda d: any(
            reply in b.text and "delivered" in b.text
            for b in d.find_elements(By.CSS_SELECTOR, "#phone-messages .bubble.in")
        )
    )

    # ^claim in the thread: the card changes to show who holds the conversation.
    card_before = wait.until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#channel .thread .msg").text
    )
    thread = browser.find_element(By.CSS_SELECTOR, "#channel .thread")
    thread.find_element(By.CSS_SELECTOR, ".reply-input").send_keys("^claim")
    thread.find_element(By.CSS_SELECTOR, ".reply-send").click()
    wait.until(
        lambda d: (
            (card := d.find_element(By.CSS_SELECTOR, "#channel .thread .msg").text) != card_before
            and "Sam Okafor" in card
        )
    )

    # The failure switch: the next text is accepted, then undelivered with 30007.
    Select(browser.find_element(By.ID, "fail-kind")).select_by_value("twilio-30007")
    browser.find_element(By.ID, "fail-arm").click()
    wait.until(lambda d: "armed" in text_of("#notices"))
    thread = browser.find_element(By.CSS_SELECTOR, "#channel .thread")
    thread.find_element(By.CSS_SELECTOR, ".reply-input").send_keys("Are you still there?")
    thread.find_element(By.CSS_SELECTOR, ".reply-send").click()
    wait.until(lambda d: "undelivered (30007)" in text_of("#phone-messages .bubble.in"))

    # The sample: fifty made-up candidates in a list, their numbers on the phone.
    browser.find_element(By.ID, "load-sample").click()
    wait.until(lambda d: "created: 50" in text_of("#notices"))
    options = browser.find_elements(By.CSS_SELECTOR, "#phone-numbers option")
    assert len(options) >= 50

    # A blast to the sample list from the page's terminal, answered from a phone.
    slow = WebDriverWait(
        browser, 90, poll_frequency=0.2, ignored_exceptions=(StaleElementReferenceException,)
    )
    for command, done in (
        ("caretbot blasts create", "created"),
        ("caretbot blasts send", "starts"),
    ):
        browser.find_element(By.CSS_SELECTOR, f"#presets button[title^='{command}']").click()
        slow.until(lambda d, done=done: done in text_of("#terminal-output"))
        assert "[exit status 0]" in text_of("#terminal-output")
    number = browser.find_element(By.ID, "phone-number")
    number.clear()
    number.send_keys("+15125550101")  # Ana López, first in the sample
    slow.until(
        lambda d: any(
            "Hi Ana!" in b.text and "delivered" in b.text and "/l/" in b.text
            for b in d.find_elements(By.CSS_SELECTOR, "#phone-messages .bubble.in")
        )
    )
    browser.find_element(By.ID, "phone-body").send_keys("YES! Count me in")
    browser.find_element(By.ID, "phone-send").click()
    wait.until(lambda d: "Ana López" in text_of("#channel .thread .msg"))
    wait.until(lambda d: "YES! Count me in" in text_of("#channel .thread"))

    # The push: a rule for those who replied, enabled, one run; Recruit has Ana's record.
    for command, done in (
        ("caretbot push add", "added"),
        ("caretbot push enable 1", "enabled"),
        ("caretbot push run", "1 new"),
    ):
        browser.find_element(By.CSS_SELECTOR, f"#presets button[title^='{command}']").click()
        slow.until(lambda d, done=done: done in text_of("#terminal-output"))
        assert "[exit status 0]" in text_of("#terminal-output")
    wait.until(lambda d: "ana.lopez@example.com" in text_of("#recruit"))
    assert "Ana López" in text_of("#recruit") and "+15125550101" in text_of("#recruit")

    # The App Home tab, as the manager.
    Select(browser.find_element(By.ID, "as-user")).select_by_visible_text("Dana Reyes (manager)")
    browser.find_element(By.ID, "home-open").click()
    wait.until(lambda d: "Conversations waiting" in text_of("#home-view"))

    SCREENSHOT.parent.mkdir(exist_ok=True)
    browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000
