"""The live scoreboard in headless Chromium: the example tournament's page updates by itself while a
bundle sent with ``request-dse submit`` is validated, its entry page shows claimed next to measured
figures, and text from a bundle stays text."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from request_dse.testing.service import ServerProcess
from tests.scoreboard._browser import console_problems, keep_screenshot
from tests.service.conftest import add_token, run_cli, variant, write_tournament

pytestmark = pytest.mark.slow  # two real validations watched in a browser


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The shipped example tournament (state in a temporary folder; a wide latency tolerance, as this
    machine is shared by other test runs)."""
    tournament = write_tournament(tmp_path_factory.mktemp("board"), validation={"tolerance": 3.0})
    token = add_token(tournament, "alice")
    server = ServerProcess(tournament).start()
    try:
        yield {"server": server, "token": token}
    finally:
        server.stop()


def badges(driver: Any) -> list[str]:
    return [b.text for b in driver.find_elements("css selector", "#entries tbody .badge")]


def test_the_page_updates_by_itself_as_a_submitted_bundle_is_validated(served: dict[str, Any], browser: Any,
                                                                        tiny_bundles: list[Path],
                                                                        tmp_path: Path) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    server = served["server"]
    browser.get(server.url + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-live-revision"))
    assert "No entries yet" in browser.page_source
    sent = run_cli("submit", tiny_bundles[0], "--server", server.url, "--token", served["token"])
    assert sent.code == 0 and "accepted as entry" in sent.out, sent
    entry = sent.out.split("accepted as entry ")[1].split()[0]
    # nothing but the page itself reloads it from here on
    WebDriverWait(browser, 60).until(lambda d: badges(d) in (["pending"], ["reproduced"]))
    WebDriverWait(browser, 180, poll_frequency=0.5).until(lambda d: badges(d) == ["reproduced"])
    assert browser.execute_script("return performance.getEntriesByType('navigation')[0].type") == "reload"
    standing = browser.find_element("css selector", '#tournament .standing[data-track="digits-cpu"]')
    assert "1 reproduced" in standing.text and "alice" in standing.text
    link = browser.find_element("css selector", f'#tournament ul.frontier a[href="entries/{entry}"]')
    assert console_problems(browser) == []
    keep_screenshot(browser, tmp_path, "service-board.png")
    link.click()
    WebDriverWait(browser, 30).until(lambda d: d.find_element("id", "badge").text == "reproduced")
    rows = {r.find_elements("tag name", "td")[0].text: [c.text for c in r.find_elements("tag name", "td")]
            for r in browser.find_elements("css selector", "table.figures tbody tr")}
    assert rows["accuracy_top1"][-1] == "holds" and rows["latency_p90_ms"][-1] == "holds"
    assert rows["accuracy_top1"][1] == rows["accuracy_top1"][3]  # claimed == measured, exactly
    assert "no network" in browser.find_element("tag name", "body").text
    assert console_problems(browser) == []


def test_text_from_a_bundle_stays_text_in_the_browser(served: dict[str, Any], browser: Any,
                                                       tiny_bundles: list[Path], tmp_path: Path) -> None:
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.support.ui import WebDriverWait

    def hostile(doc: dict[str, Any], system: dict[str, Any]) -> None:
        doc["label"] = '<img src=x onerror="document.title=\'owned\'"><script>alert(1)</script>'
        system["system_name"] = "<b id=injected>bold</b>"

    server = served["server"]
    bundle = variant(tiny_bundles[-1], tmp_path, "xss", hostile)
    sent = run_cli("submit", bundle, "--server", server.url, "--token", served["token"])
    assert sent.code == 0, sent
    entry = sent.out.split("accepted as entry ")[1].split()[0]
    for url in (server.url + "/", f"{server.url}/entries/{entry}"):
        browser.get(url)
        WebDriverWait(browser, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-rendered"))
        assert browser.execute_script("return document.querySelectorAll('img[src=\"x\"], #injected').length") == 0
        assert browser.title != "owned"
        with pytest.raises(NoAlertPresentException):
            browser.switch_to.alert.text  # noqa: B018 - raises when no alert is open
        assert "<script>alert(1)</script>" in browser.find_element("tag name", "body").text
        assert console_problems(browser) == []
