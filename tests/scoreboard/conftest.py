"""Fixtures for the scoreboard: the ReQuEST@ASPLOS'18 table and a real headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: The validated ReQuEST@ASPLOS'18 results (CC BY 4.0), shipped with the scoreboard as its historical track.
ASPLOS18 = Path(__file__).resolve().parents[2] / "request_dse" / "scoreboard" / "data" / "request-asplos18" / "points.csv"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def asplos18_csv() -> Path:
    assert ASPLOS18.is_file(), f"{ASPLOS18} is missing from this checkout"
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
