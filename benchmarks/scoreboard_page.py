"""How the scoreboard page scales: build time, page size, first render and redraw in headless Chromium.

    python benchmarks/scoreboard_page.py [--sizes 0,1000,5000]

Each size adds that many generated entries (random points of 5 participants, a tenth of them
missing one metric) to the 69 rows of the ReQuEST@ASPLOS'18 table. Needs /usr/bin/chromium and
/usr/bin/chromedriver (tests/setup-system.sh) and selenium.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import REPO, machine, tempdir  # noqa: E402

CSV = REPO.parent / "shared" / "data" / "request-asplos18" / "points.csv"


def generated(n: int, seed: int = 0) -> list:  # type: ignore[type-arg]
    from request_dse.scoreboard import Entry

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        metrics: dict[str, float | None] = {"accuracy_top1": float(rng.uniform(0.3, 0.99)),
                                            "latency_mean_ms": float(rng.lognormal(1.0, 1.5)),
                                            "latency_p90_ms": float(rng.lognormal(1.2, 1.5)),
                                            "throughput_ips": float(rng.lognormal(3.0, 1.0))}
        if i % 10 == 0:
            metrics["accuracy_top1"] = None
        out.append(Entry(id=f"gen-{i}", participant=f"team-{i % 5}", study="generated", track="live",
                         workload="digits", model="m", target="t", framework="f", precision="fp32",
                         baseline=i % 50 == 0, badge="", metrics=metrics, source="generated"))
    return out


def browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def measure(driver, n: int, tmp: Path) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from request_dse.scoreboard.historical import read_track
    from request_dse.scoreboard.page import build_page, write_html

    track = read_track(CSV)
    t0 = time.perf_counter()
    page = build_page([*generated(n), *track.entries], tracks=[track])
    out = write_html(page, tmp / f"board-{n}.html")
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    driver.get(out.as_uri())
    WebDriverWait(driver, 120).until(lambda d: d.find_element("tag name", "body").get_attribute("data-rendered"))
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    Select(driver.find_element("id", "x-axis")).select_by_value("throughput_ips")
    redraw_s = time.perf_counter() - t0
    return {"entries": n + track.rows, "build_s": build_s, "size_kb": out.stat().st_size / 1024, "load_s": load_s,
            "redraw_s": redraw_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,1000,5000")
    args = parser.parse_args()
    driver = browser()
    try:
        with tempdir() as tmp:
            rows = [measure(driver, int(n), Path(tmp)) for n in args.sizes.split(",")]
    finally:
        driver.quit()
    print(f"machine: {machine()}")
    print("| entries | build + write (s) | page size (KiB) | load + first render (s) | redraw on axis change (s) |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['entries']} | {r['build_s']:.3f} | {r['size_kb']:.0f} | {r['load_s']:.2f} | {r['redraw_s']:.2f} |")


if __name__ == "__main__":
    main()
