"""The browser tier: headless Chromium (Debian's `chromium` and `chromium-driver`) driven by
Selenium, on pages the project serves on loopback. Every console error a page logs fails its
test unless the test lists it with its reason; every request a page makes is recorded, so
that a test can show none leaves the machine."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.live.conftest import live_models  # noqa: F401 (a fixture: the live tier's models)

INSTALL = "Debian: apt-get install -y chromium chromium-driver (.ci/run does)"
SCREENSHOTS_ENV = "RIDE_DURATION_SCREENSHOTS"  # a folder to keep the tests' screenshots in


def _binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        found = (("chromium", chromium), ("chromedriver", driver))
        missing = " and ".join(name for name, path in found if not path)
        pytest.skip(f"the browser tier: {missing} not installed ({INSTALL})")
    return chromium, driver


class Browser:
    """One headless Chromium window; ``console_errors()`` and ``requests()`` since the last
    ``open``."""

    def __init__(self, folder: Path):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        chromium, driver = _binaries()
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,1000",
            f"--user-data-dir={folder / 'profile'}",
        ):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        self.driver = webdriver.Chrome(service=Service(driver), options=options)
        self.driver.set_page_load_timeout(60)

    def open(self, url: str) -> None:
        self.logs()  # what came before belongs to the page before
        self.driver.get(url)

    def logs(self) -> tuple[list[dict], list[dict]]:
        return self.driver.get_log("browser"), self.driver.get_log("performance")

    def collect(self) -> tuple[list[str], list[str]]:
        """(console errors, URLs requested) since the last call."""
        console, performance = self.logs()
        errors = [e["message"] for e in console if e["level"] == "SEVERE"]
        urls = []
        for entry in performance:
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
        return errors, urls

    def wait(self, condition, seconds: float = 30):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, seconds, poll_frequency=0.2).until(condition)

    def screenshot(self, path: Path) -> Path:
        self.driver.save_screenshot(str(path))
        keep = os.environ.get(SCREENSHOTS_ENV)
        if keep:
            shutil.copy(path, Path(keep) / path.name)
        return path

    def quit(self) -> None:
        self.driver.quit()


def assert_no_console_errors(errors: list[str], allowed: dict[str, str] | None = None) -> None:
    """``allowed``: a fragment of an error message the page may log, and why."""
    unexpected = [e for e in errors if not any(f in e for f in (allowed or {}))]
    assert not unexpected, unexpected


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    pytest.importorskip("selenium", reason="the browser tier: selenium not installed")
    _binaries()
    opened = Browser(tmp_path_factory.mktemp("browser"))
    yield opened
    opened.quit()
