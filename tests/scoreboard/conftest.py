"""Fixtures for the scoreboard: the ReQuEST@ASPLOS'18 table and a real headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from request_dse.config import REPO_ROOT

ASPLOS18 = REPO_ROOT.parent / "shared" / "data" / "request-asplos18" / "points.csv"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def asplos18_csv() -> Path:
    if not ASPLOS18.is_file():
        pytest.skip(f"{ASPLOS18} is not beside this checkout")
    return ASPLOS18


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Chromium driven through chromedriver, with the console captured."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("headless Chromium is not installed: run tests/setup-system.sh (as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1700", "--disable-extensions", "--no-first-run"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def console_problems(driver: Any) -> list[str]:
    """Errors and warnings the page logged since the last call (uncaught exceptions included)."""
    return [f"{e['level']}: {e['message']}" for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]


def keep_screenshot(driver: Any, tmp_path: Path, name: str) -> Path:
    """A full-page screenshot in the test's tmp dir, and a copy in tests/artifacts/ (git-ignored)."""
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1400, min(max(int(height), 800), 6000))
    shot = tmp_path / name
    assert driver.save_screenshot(str(shot)), "the screenshot was not written"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, ARTIFACTS / name)
    return shot
