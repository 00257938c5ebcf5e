"""Helpers for driving the scoreboard page in the browser fixture (see conftest.py)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from request_dse.study import REPO_ROOT

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"


def open_page(driver: Any, path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(path.resolve().as_uri())
    WebDriverWait(driver, 20).until(lambda d: d.find_element("tag name", "body").get_attribute("data-rendered"))


def frontier_ids(driver: Any) -> set[str]:
    return set(driver.find_element("id", "frontier-path").get_attribute("data-ids").split())


def choose(driver: Any, select_id: str, metric: str) -> None:
    from selenium.webdriver.support.ui import Select

    before = driver.find_element("tag name", "body").get_attribute("data-rendered")
    Select(driver.find_element("id", select_id)).select_by_value(metric)
    assert driver.find_element("tag name", "body").get_attribute("data-rendered") != before


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
