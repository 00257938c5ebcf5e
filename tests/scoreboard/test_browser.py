"""The scoreboard page in a real headless Chromium: loads cleanly, redraws, filters, stays offline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from request_dse.scoreboard import Entry, compute, known_axes
from request_dse.scoreboard.historical import read_track
from tests.scoreboard._browser import choose, console_problems, frontier_ids, keep_screenshot, open_page

AXES = known_axes()


def expected_front(entries: Sequence[Entry], x: str, y: str) -> set[str]:
    return set(compute(entries, [AXES[x], AXES[y]]).front)


def shown_hypervolumes(driver: Any) -> dict[str, float]:
    rows = driver.find_elements("css selector", "#hv-table tbody tr")
    return {r.get_attribute("data-participant"): float(r.find_element("css selector", "td.hv").get_attribute("data-hv"))
            for r in rows}


@pytest.fixture(scope="module")
def historical_page(tmp_path_factory: pytest.TempPathFactory, asplos18_csv: Path) -> Path:
    from request_dse.cli import main

    out = tmp_path_factory.mktemp("page") / "scoreboard.html"
    with pytest.raises(SystemExit) as done:
        main(["scoreboard", "--import-csv", str(asplos18_csv), "-o", str(out)])
    assert done.value.code == 0
    return out


def imagenet(asplos18_csv: Path) -> list[Entry]:
    """The 2018 rows of the workload the page opens on (7 rows record no data set: another workload)."""
    return [e for e in read_track(asplos18_csv).entries if e.workload == "ImageNet"]


def test_page_loads_cleanly_and_changing_axes_redraws_the_frontier(browser: Any, historical_page: Path,
                                                                   asplos18_csv: Path, tmp_path: Path) -> None:
    entries = imagenet(asplos18_csv)
    open_page(browser, historical_page)
    assert console_problems(browser) == []
    x = browser.find_element("id", "x-axis").get_attribute("value")
    y = browser.find_element("id", "y-axis").get_attribute("value")
    assert (x, y) == ("latency_mean_ms", "accuracy_top1")
    first = frontier_ids(browser)
    first_d = browser.find_element("id", "frontier-path").get_attribute("d")
    assert first == expected_front(entries, x, y) and first_d.startswith("M")
    python = compute(entries, [AXES[x], AXES[y]])
    assert shown_hypervolumes(browser) == pytest.approx(python.hypervolume, rel=1e-9)
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == 62  # every row, missing values too
    assert len(browser.find_elements("css selector", "#points .pt")) == len(python.considered)

    choose(browser, "x-axis", "throughput_ips")
    second = frontier_ids(browser)
    assert second == expected_front(entries, "throughput_ips", "accuracy_top1") and second != first
    assert browser.find_element("id", "frontier-path").get_attribute("d") != first_d

    choose(browser, "y-axis", "platform_peak_power_w")
    assert frontier_ids(browser) == expected_front(entries, "throughput_ips", "platform_peak_power_w")
    # the rows that record no data set are ranked apart: iot-farm has no accuracy, but has power
    others = [e for e in read_track(asplos18_csv).entries if e.workload != "ImageNet"]
    choose(browser, "workload", "(dataset not recorded)")
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == len(others) == 7
    choose(browser, "y-axis", "platform_peak_power_w")
    plotted = {p.get_attribute("data-participant") for p in browser.find_elements("css selector", "#points .pt")}
    assert "iot-farm" in plotted and plotted <= {e.participant for e in others}
    assert frontier_ids(browser) == expected_front(others, browser.find_element("id", "x-axis").get_attribute("value"),
                                                   "platform_peak_power_w")
    assert console_problems(browser) == []


def test_filters_recompute_the_frontier(browser: Any, historical_page: Path, asplos18_csv: Path,
                                        tmp_path: Path) -> None:
    entries = imagenet(asplos18_csv)
    open_page(browser, historical_page)
    browser.find_element("css selector", 'input[data-facet="precision"][value="fp32"]').click()
    rest = [e for e in entries if e.precision != "fp32"]
    assert frontier_ids(browser) == expected_front(rest, "latency_mean_ms", "accuracy_top1")
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == len(rest)
    assert shown_hypervolumes(browser) == pytest.approx(
        compute(rest, [AXES["latency_mean_ms"], AXES["accuracy_top1"]]).hypervolume, rel=1e-9)
    browser.find_element("css selector", 'input[data-facet="precision"][value="fp32"]').click()
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == 62
    assert "eb7a0d22d6c5791eb37129245e2dd20135573afa" in browser.find_element("id", "provenance").text
    assert console_problems(browser) == []
    keep_screenshot(browser, tmp_path, "scoreboard-asplos18.png")


def test_ties_and_duplicates_match_the_python_frontier(browser: Any, tmp_path: Path) -> None:
    import numpy as np

    from request_dse.scoreboard.page import build_page, write_html

    rng = np.random.default_rng(3)
    grid = rng.integers(0, 6, (80, 3)).astype(float)  # many ties and duplicates
    entries = [Entry(id=f"e{i}", participant=f"team{i % 4}", study="s", track="live", workload="w", model="m",
                     target="t", framework="f", precision="fp32", baseline=i % 9 == 0, badge="", source="generated",
                     metrics={"latency_p90_ms": x, "accuracy_top1": y / 5, "throughput_ips": z if i % 7 else None})
               for i, (x, y, z) in enumerate(grid)]
    out = write_html(build_page(entries), tmp_path / "ties.html")
    open_page(browser, out)
    for x, y in (("latency_p90_ms", "accuracy_top1"), ("throughput_ips", "accuracy_top1"),
                 ("throughput_ips", "latency_p90_ms")):
        if browser.find_element("id", "x-axis").get_attribute("value") != x:
            choose(browser, "x-axis", x)
        if browser.find_element("id", "y-axis").get_attribute("value") != y:
            choose(browser, "y-axis", y)
        python = compute(entries, [AXES[x], AXES[y]])
        assert frontier_ids(browser) == set(python.front), (x, y)
        assert shown_hypervolumes(browser) == pytest.approx(python.hypervolume, rel=1e-9)
    assert console_problems(browser) == []


def test_a_long_table_lists_the_frontier_first_and_everything_on_request(browser: Any, tmp_path: Path) -> None:
    from request_dse.scoreboard.page import build_page, write_html

    entries = [Entry(id=f"e{i}", participant="p", study="s", track="live", workload="w", model="m", target="t",
                     framework="f", precision="fp32", baseline=False, badge="", source="generated",
                     metrics={"latency_p90_ms": float(i % 37 + 1), "accuracy_top1": float((i * 7919) % 101) / 100})
               for i in range(350)]
    out = write_html(build_page(entries), tmp_path / "long.html")
    open_page(browser, out)
    rows = browser.find_elements("css selector", "#entries tbody tr")
    front = set(compute(entries, [AXES["latency_p90_ms"], AXES["accuracy_top1"]]).front)
    assert len(rows) == 300 and "350 of 350 entries of workload w pass the filters" in browser.find_element("id", "table-note").text
    assert {r.get_attribute("data-id") for r in rows[:len(front)]} == front  # ranked first
    browser.find_element("id", "show-all-rows").click()
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == 350
    assert console_problems(browser) == []


def test_the_page_fetches_nothing(browser: Any, historical_page: Path) -> None:
    open_page(browser, historical_page)
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
    html = historical_page.read_text()
    for needle in ("<link rel=\"stylesheet\"", "src=\"http", "href=\"http", "@import", "url("):
        assert needle not in html


def test_the_console_check_sees_errors(browser: Any, tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body data-rendered='1'>"
                    "<script>console.error('broken on purpose'); undefinedFunction();</script></body></html>")
    open_page(browser, page)
    problems = console_problems(browser)
    assert any("broken on purpose" in p for p in problems) and any("undefinedFunction" in p for p in problems)


def test_hostile_text_in_a_table_stays_text(browser: Any, asplos18_csv: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    hostile = "</script><img src=x onerror=console.error('injected')>"
    lines = asplos18_csv.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace(",caffe-intel,", ',"' + hostile + '",', 1)
    (tmp_path / "points.csv").write_text("".join(lines))
    out = tmp_path / "hostile.html"
    result = cli("scoreboard", "--import-csv", tmp_path / "points.csv", "-o", out)
    assert result.code == 0, result
    open_page(browser, out)
    assert console_problems(browser) == []
    assert browser.find_elements("css selector", "img") == []
    assert hostile in browser.find_element("id", "entries").text


def test_each_workload_is_ranked_apart_and_only_reproduced_entries_are_starred(browser: Any, tmp_path: Path) -> None:
    from request_dse.scoreboard import per_workload
    from request_dse.scoreboard.page import build_page, write_html

    def entry(i: int, workload: str, badge: str = "", claimed: str = "") -> Entry:
        return Entry(id=f"{workload}-{i}", participant=f"team{i % 2}", study="s", track="live", workload=workload,
                     model="m", target="t", framework="f", precision="fp32", baseline=False, badge=badge,
                     claimed=claimed, source=f"subs/{workload}-{i}",
                     metrics={"latency_p90_ms": float(1 + i), "accuracy_top1": 0.5 + 0.04 * i})
    digits = [entry(i, "digits", badge="reproduced" if i % 2 else "", claimed="" if i % 2 else "reproduced")
              for i in range(6)]
    mlp = [entry(i, "my-mlp", badge="reproduced") for i in range(3)]
    entries = digits + mlp
    out = write_html(build_page(entries), tmp_path / "workloads.html")
    open_page(browser, out)
    assert browser.find_element("id", "workload").get_attribute("value") == "digits"  # the most bundles
    fronts = per_workload(entries, {w: [AXES["latency_p90_ms"], AXES["accuracy_top1"]] for w in ("digits", "my-mlp")})
    assert frontier_ids(browser) == set(fronts["digits"].front) == {e.id for e in digits}
    rows = {r.get_attribute("data-id"): r for r in browser.find_elements("css selector", "#entries tbody tr")}
    assert set(rows) == {e.id for e in digits}                # one workload at a time
    for e in digits:
        front_cell = rows[e.id].find_element("css selector", "td").text
        badge = rows[e.id].find_element("css selector", ".badge").text
        if e.badge == "reproduced":
            assert front_cell == "★" and badge == "reproduced"
        else:
            assert front_cell == "☆ not validated" and badge == "claimed: reproduced"
    assert set(fronts["digits"].unvalidated) == {e.id for e in digits if not e.badge}
    unstarred = browser.find_elements("css selector", "#points .pt.on-front.unvalidated")
    assert {p.get_attribute("data-id") for p in unstarred} == set(fronts["digits"].unvalidated)
    choose(browser, "workload", "my-mlp")
    assert frontier_ids(browser) == set(fronts["my-mlp"].front)
    assert {r.get_attribute("data-id") for r in browser.find_elements("css selector", "#entries tbody tr")} == \
        {e.id for e in mlp}
    assert console_problems(browser) == []
    keep_screenshot(browser, tmp_path, "scoreboard-workloads.png")
