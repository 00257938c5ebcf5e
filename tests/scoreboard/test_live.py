"""Live bundles from a real tiny study on the scoreboard, beside the ReQuEST@ASPLOS'18 track."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.scoreboard import compute, known_axes
from request_dse.scoreboard.bundles import read_live
from request_dse.scoreboard.historical import read_track
from request_dse.submission import read_bundle
from request_dse.submission.store import ValidationStore
from tests.conftest import study_doc
from tests.scoreboard._browser import choose, console_problems, frontier_ids, keep_screenshot, open_page

AXES = known_axes()
pytestmark = pytest.mark.slow  # one real study (about 20 s) feeds every test here


def run_cli(*args: str | Path) -> int:
    from request_dse.cli import main

    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose tiny study ran; its Pareto set was written as bundles by ``tune``."""
    root = tmp_path_factory.mktemp("project")
    study = root / "studies" / "board.yaml"
    study.parent.mkdir()
    study.write_text(yaml.safe_dump(study_doc("board", budget={"trials": 4}, sampler={"name": "grid"})))
    assert run_cli("tune", study) == 0
    assert list((root / "submissions" / "board").glob("*/submission.json"))
    return root


@pytest.fixture(scope="module")
def baselines(project: Path) -> Path:
    """Default-flags baseline bundles of one of the study's models, written by ``baseline``."""
    out = project / "baselines"
    assert run_cli("baseline", "--workload", "digits", "--backend", "onnxruntime", "--model", "mobilenet-w0.5-r8",
                   "--precision", "fp32", "--repeats", "1", "--min-runs", "10", "--min-time-s", "0", "--out", out) == 0
    return out


def test_bundles_become_entries(project: Path) -> None:
    live = read_live([project / "submissions"])
    assert live.rejected == () and live.entries
    for e in live.entries:
        assert e.source.startswith("submissions/board/")  # named under the folder given, not by an absolute path
        doc = json.loads((project / e.source / "submission.json").read_text())
        assert e.id == doc["id"] and e.participant == "board" == e.study and not e.baseline and not e.read_only
        assert e.workload == "digits" and e.precision == "fp32" and e.framework.startswith("onnxruntime")
        assert e.metrics == {k: v["value"] for k, v in doc["metrics"].items()}
        assert e.badge == ""  # never validated


def test_the_badge_is_the_organizers_own_verdict(project: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    bundles = sorted((project / "submissions" / "board").glob("*/"))
    bundle, forged = tmp_path / "one", tmp_path / "forged"
    shutil.copytree(bundles[0], bundle)
    store = tmp_path / "organizer" / "validations.jsonl"
    checked = cli("validate", bundle, "--tolerance", "10", "--store", store)
    assert checked.code in (0, 1), checked
    badges = json.loads((bundle / "validation.json").read_text())["badges"]
    assert "functional" in badges
    (entry,) = read_live([bundle], ValidationStore(store)).entries
    assert entry.badge == ("reproduced" if "reproduced" in badges else "functional") and entry.claimed == ""
    # a participant's own validation.json, claiming every badge for content nobody validated
    shutil.copytree(bundles[-1], forged)
    digest = read_live([forged], ValidationStore(store)).entries[0].details["digest"]
    (forged / "validation.json").write_text(json.dumps({"bundle_digest": read_bundle(forged).digest, "status": "reproduced",
                                                        "badges": ["available", "functional", "reproduced"]}))
    (claimed,) = read_live([forged], ValidationStore(store)).entries
    assert claimed.badge == "" and claimed.claimed == "reproduced" and digest == claimed.details["digest"]
    out = tmp_path / "board.html"
    assert cli("scoreboard", bundle, forged, "-o", out, "--validations", store).code == 0
    html = out.read_text()
    assert f'"badge":"{entry.badge}"' in html and '"badge":"","claimed":"reproduced"' in html
    assert str(tmp_path) not in html and str(project) not in html  # no path of this machine is published


def test_a_tampered_bundle_is_listed_not_ranked(project: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    subs = tmp_path / "subs"
    shutil.copytree(project / "submissions", subs)
    victim = sorted(subs.glob("board/*/submission.json"))[0]
    doc = json.loads(victim.read_text())
    doc["metrics"]["accuracy_top1"]["value"] = 1.0
    victim.write_text(json.dumps(doc))
    out = tmp_path / "board.html"
    result = cli("scoreboard", subs, "-o", out)
    assert result.code == 0, result
    assert f"subs/board/{victim.parent.name}: rejected (tampered)" in result.err
    assert "1 bundle(s) rejected" in result.out and "rejected (tampered)" in out.read_text()
    strict = cli("scoreboard", subs, "-o", tmp_path / "strict.html", "--strict")
    assert strict.code == 2 and "rejected (tampered)" in strict.err and not (tmp_path / "strict.html").exists()


def test_live_and_historical_on_one_page(browser: Any, project: Path, asplos18_csv: Path, tmp_path: Path,
                                         cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scoreboard.html"
    result = cli("scoreboard", project / "submissions", "--import-csv", asplos18_csv, "-o", out)
    assert result.code == 0, result
    live = list(read_live([project / "submissions"]).entries)
    entries = live + list(read_track(asplos18_csv).entries)
    open_page(browser, out)
    assert console_problems(browser) == []
    # digits and the 2018 ImageNet rows are never ranked together: the page opens on the study's workload
    assert browser.find_element("id", "workload").get_attribute("value") == "digits"
    assert browser.find_element("id", "x-axis").get_attribute("value") == "latency_p90_ms"
    plotted = {p.get_attribute("data-id") for p in browser.find_elements("css selector", "#points .pt")}
    assert plotted == {e.id for e in live}
    assert frontier_ids(browser) == set(compute(live, [AXES["latency_p90_ms"], AXES["accuracy_top1"]]).front)
    assert len(browser.find_elements("css selector", "#entries tbody tr")) == len(live)
    assert all(c.text == "☆ not validated" for c in browser.find_elements("css selector", "#entries tr.on-front td:first-child"))
    choose(browser, "workload", "ImageNet")
    imagenet = [e for e in entries if e.workload == "ImageNet"]
    assert browser.find_element("id", "x-axis").get_attribute("value") == "latency_mean_ms"
    assert {p.get_attribute("data-participant") for p in browser.find_elements("css selector", "#points .pt")} \
        <= {e.participant for e in imagenet}
    assert frontier_ids(browser) == set(compute(imagenet, [AXES["latency_mean_ms"], AXES["accuracy_top1"]]).front)
    assert all(c.text == "★" for c in browser.find_elements("css selector", "#entries tr.on-front td:first-child"))
    assert console_problems(browser) == []
    keep_screenshot(browser, tmp_path, "scoreboard-live-and-2018.png")


def test_study_and_baselines_are_both_drawn(browser: Any, project: Path, baselines: Path, tmp_path: Path,
                                            cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "scoreboard.html"
    result = cli("scoreboard", project / "submissions", baselines, "-o", out)
    assert result.code == 0, result
    entries = read_live([project / "submissions", baselines]).entries
    assert {e.participant for e in entries} == {"board", "baseline (onnxruntime)"}
    assert [e.baseline for e in entries].count(True) == 1
    open_page(browser, out)
    assert console_problems(browser) == []
    assert browser.find_element("id", "x-axis").get_attribute("value") == "latency_p90_ms"  # the study's objectives
    drawn = {p.get_attribute("data-id"): p.get_attribute("class") for p in browser.find_elements("css selector", "#points .pt")}
    assert set(drawn) == {e.id for e in entries}
    assert all(("baseline" in drawn[e.id].split()) == e.baseline for e in entries)  # drawn distinctly
    assert frontier_ids(browser) == set(compute(entries, [AXES["latency_p90_ms"], AXES["accuracy_top1"]]).front)
    hv_rows = browser.find_elements("css selector", "#hv-table tbody tr")
    assert {r.get_attribute("data-participant") for r in hv_rows} == {"board", "baseline (onnxruntime)"}
    browser.find_element("css selector", 'input[data-facet="kind"][value="baseline"]').click()  # hide baselines
    assert {p.get_attribute("data-participant") for p in browser.find_elements("css selector", "#points .pt")} == {"board"}
    assert console_problems(browser) == []
    keep_screenshot(browser, tmp_path, "scoreboard.png")


def test_a_bundle_the_organizer_rejected_is_listed_not_ranked(project: Path, tmp_path: Path) -> None:
    bundle = sorted((project / "submissions" / "board").glob("*/"))[0]
    store = ValidationStore(tmp_path / "v.jsonl")
    store.add({"bundle_digest": read_bundle(bundle).digest, "status": "rejected", "badges": [],
               "validated": "2026-12-01T00:00:00+00:00",
               "reason": f"/home/organizer/in/{bundle.name}: rejected (unsafe_settings): artifact/session.json: ..."})
    live = read_live([project / "submissions"], store)
    assert bundle.name not in {e.id for e in live.entries}
    assert live.rejected == (f"submissions/board/{bundle.name}: rejected (unsafe_settings): artifact/session.json: ... "
                             "(when validated, 2026-12-01T00:00:00+00:00)",)
