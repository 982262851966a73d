"""The desk in a real browser: Debian's chromium, headless, driven by Selenium through
Debian's chromedriver (nothing is downloaded). The seed is replayed while the page is
open; its alerts must appear within 10 s of the replay's end with the matched words
highlighted where the alert's offsets say; a click on "not relevant" must put a verdict on
news.feedback, read back with kcat; assigning it (two prompts) must show its state and put
a record on news.triage."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.alert import Alert
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.conftest import free_port, skip_or_fail
from tests.integration.processes import (
    get_json,
    kcat_read,
    quick_env,
    run_newsmon,
    running_desk,
    running_worker,
    wait_for,
)

pytestmark = pytest.mark.broker
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        skip_or_fail("chromium and chromedriver are needed (apt-get install chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1400"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'chromium'}")
    driver = webdriver.Chrome(
        service=Service(executable_path=CHROMEDRIVER, log_output=str(tmp_path / "driver.log")),
        options=options,
    )
    try:
        yield driver
    finally:
        driver.quit()


def _open_prompt(browser: WebDriver) -> Callable[[], Alert | None]:
    def found() -> Alert | None:
        try:
            prompt = browser.switch_to.alert
            prompt.text  # noqa: B018 - raises while no dialog is open
        except NoAlertPresentException:
            return None
        return prompt

    return found


def test_an_alert_appears_highlighted_and_a_verdict_reaches_kafka(
    browser: WebDriver, bootstrap: str, prefix: str, tmp_path: Path
) -> None:
    env = quick_env(bootstrap, prefix)
    with (
        running_worker(env, free_port(), tmp_path) as worker,
        running_desk(worker.env, tmp_path) as desk,
    ):
        browser.get(f"{desk}/")
        wait_for(
            lambda: browser.find_element(By.ID, "status").text == "live",
            20,
            "the page's event stream",
        )
        replayed = run_newsmon(worker.env, "replay", "seeds/")
        assert replayed.returncode == 0, replayed.stderr
        ended = time.monotonic()
        # The bound: on the open page within 10 s of the replay's end.
        wait_for(
            lambda: browser.find_elements(By.CSS_SELECTOR, ".alert"), 10, "an alert on the page"
        )
        appeared = time.monotonic() - ended
        alerts = wait_for(lambda: get_json(f"{desk}/api/alerts"), 10, "the alerts")
        wait_for(
            lambda: len(browser.find_elements(By.CSS_SELECTOR, ".alert")) == len(alerts),
            10,
            "every alert on the page",
        )
        print(f"desk in chromium: the first alert appeared {appeared:.2f} s after the replay")
        browser.save_screenshot(str(tmp_path / "desk.png"))

        for alert in alerts:
            node = browser.find_element(By.ID, f"alert-{alert['alert_id']}")
            shown = [m.text for m in node.find_elements(By.CSS_SELECTOR, ".snippet mark")]
            expected = [m["snippet"][m["mark"][0] : m["mark"][1]] for m in alert["matches"][:5]]
            assert shown == expected, alert["alert_id"]
            assert node.find_element(By.CSS_SELECTOR, ".title").text == alert["article"]["title"]

        judged = alerts[0]
        node = browser.find_element(By.ID, f"alert-{judged['alert_id']}")
        node.find_element(By.CSS_SELECTOR, "button[data-verdict='not_relevant']").click()
        wait_for(
            lambda: (
                "local: not relevant"
                in browser.find_element(By.CSS_SELECTOR, f"#alert-{judged['alert_id']} .given").text
            ),
            10,
            "the verdict shown on the alert",
        )
        records = [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}news.feedback")]
        assert [(r["alert_id"], r["user"], r["verdict"]) for r in records] == [
            (judged["alert_id"], "local", "not_relevant")
        ]

        # Triage: "assign…" asks whom and for a note (two prompts), then the state shows
        # on the alert and the record is on news.triage.
        node.find_element(By.CSS_SELECTOR, ".triage button[data-state='assigned']").click()
        for answer in ("dana", "checking the second source"):
            prompt = wait_for(_open_prompt(browser), 10, "the desk's prompt")
            prompt.send_keys(answer)
            prompt.accept()
        state = f"#alert-{judged['alert_id']} .triage .state"
        wait_for(
            lambda: (
                browser.find_element(By.CSS_SELECTOR, state).text
                == "assigned to dana (by local) — checking the second source"
            ),
            10,
            "the triage state shown on the alert",
        )
        [moved] = [json.loads(v) for v in kcat_read(bootstrap, f"{prefix}news.triage")]
        assert (moved["alert_id"], moved["state"], moved["assignee"], moved["by"]) == (
            judged["alert_id"],
            "assigned",
            "dana",
            "local",
        )
