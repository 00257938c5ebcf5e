"""Library versions as a dimension, end to end: studies over ONNX Runtime releases and over the
probe backend's own library, run by ``request-dse tune`` with the local executor."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from request_dse.envs import environments
from request_dse.results import TrialRecord
from request_dse.search import load_existing, records
from request_dse.study import load_plan
from request_dse.testing.index import LocalIndex

VERSIONS = ["1.20.1", "1.24.4", "1.32.0"]
MODEL = {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8], "model.precision": ["fp32"]}


def measured(path: Path) -> list[TrialRecord]:
    plan = load_plan(path)
    return [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]


def ort_study(write_study: Callable[..., Path], name: str, trials: int, tmp_path: Path) -> Path:
    return write_study(name, frameworks={"onnxruntime": {"version": VERSIONS,
                                                         "graph_optimization_level": ["disable_all", "all"]}},
                       space={"dimensions": MODEL}, budget={"trials": trials}, sampler={"name": "grid", "seed": 1},
                       work_dir=str(tmp_path / f"work-{name}"), submissions={"dir": str(tmp_path / f"bundles-{name}")})


def env_time(rec: TrialRecord) -> float:
    return float(rec.metrics["env_time_s"])


@pytest.mark.slow
def test_three_onnxruntime_releases_each_in_its_environment_created_once(
        write_study: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    first = ort_study(write_study, "releases", 3, tmp_path)
    assert cli("tune", first).code == 0
    run1 = measured(first)
    made1 = {r.params["onnxruntime.version"]: r.info["environment"]["id"] for r in run1}
    for version in made1:  # made by a trial of this run, in its own timed step
        assert max(env_time(r) for r in run1 if r.params["onnxruntime.version"] == version) > 0
    created = {info.id: info.created for info in environments() if info.id in made1.values()}
    assert set(created) == set(made1.values())

    resumed = ort_study(write_study, "releases", 6, tmp_path)  # the same study, a larger budget: resumed
    assert cli("tune", resumed).code == 0
    recs = measured(resumed)
    assert len(recs) == 6 and {r.status for r in recs} == {"ok"}
    for rec in recs:  # built and recorded with the candidate's own release
        version = rec.params["onnxruntime.version"]
        assert rec.info["onnxruntime"] == version
        assert rec.info["environment"]["label"] == f"onnxruntime {version}"
        assert f"onnxruntime=={version}" in rec.info["environment"]["packages"]
        assert f"\nonnxruntime=={version} --hash=sha256:" in Path(rec.info["environment"]["lock_file"]).read_text()
        if version in made1 and rec.number not in {r.number for r in run1}:
            assert env_time(rec) == 0.0  # reused on resume
    ids = {r.params["onnxruntime.version"]: r.info["environment"]["id"] for r in recs}
    assert len(set(ids.values())) == 3

    second = ort_study(write_study, "again", 6, tmp_path)  # another study of the same releases
    assert cli("tune", second).code == 0
    again = measured(second)
    assert len(again) == 6 and [env_time(r) for r in again] == [0.0] * 6
    now = {info.id: info.created for info in environments() if info.id in ids.values()}
    assert set(now) == set(ids.values()) and all(now[i] == t for i, t in created.items())  # created once

    bundles = sorted((tmp_path / "bundles-releases").iterdir())
    assert bundles
    fresh = tmp_path / "fresh-cache"
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(fresh))  # a validating machine that has built nothing
    for bundle in bundles:
        doc = json.loads((bundle / "submission.json").read_text())
        system = json.loads((bundle / "system.json").read_text())
        version = doc["candidate"]["onnxruntime.version"]
        assert doc["framework"]["version"] == version and doc["files"]["environment_lock"] == "environment.lock"
        assert system["software_environment"]["id"] == ids[version]
        assert f"onnxruntime=={version}" in system["software_environment"]["packages"]
        assert f"\nonnxruntime=={version} --hash=sha256:" in (bundle / "environment.lock").read_text()
        result = cli("validate", bundle, "--tolerance", "20")
        assert result.code == 0, result
        verdict = json.loads((bundle / "validation.json").read_text())
        assert verdict["status"] == "reproduced"
        note = verdict["info"]["software_environment"]
        assert note.startswith(f"measured in the bundle's own environment {ids[version]}") or \
            note.startswith("this installation has every version")
        if version != "1.32.0":  # what request-dse itself has is not created again
            assert (fresh / "envs" / ids[version]).is_dir()


def probe_study(write_study: Callable[..., Path], name: str, tmp_path: Path, trials: int, **probe_flags: Any) -> Path:
    return write_study(name, frameworks={"probe": probe_flags}, space={"dimensions": MODEL},
                       budget={"trials": trials}, sampler={"name": "grid", "seed": 0},
                       work_dir=str(tmp_path / f"work-{name}"), cache=True)


def test_a_release_whose_wheel_is_missing_fails_once_then_is_not_proposed(
        probe: LocalIndex, write_study: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path) -> None:
    path = probe_study(write_study, "missing", tmp_path, 8, version=["1.0", "3.0"], quality=[7, 8, 9])
    assert cli("tune", path).code == 0
    recs = measured(path)
    ok = [r for r in recs if r.status == "ok"]
    failed = [r for r in recs if r.params.get("probe.version") == "3.0"]
    assert {r.params["probe.version"] for r in ok} == {"1.0"} and len(ok) == 3
    assert 1 <= len(failed) <= 2  # those already in flight when the first failed (two at a time)
    for rec in failed:
        assert rec.status == "build_error"
        assert rec.error.startswith("the environment of probe 3.0 could not be created: Failed to download")
        assert "404" in rec.error
    assert probe.requests["/files/request_dse_probe-3.0-py3-none-any.whl"] == 1  # installed once, not per trial
    plan = load_plan(path)
    study = load_existing(plan.storage_url, plan.name)
    skipped = [r for r in records(study) if r.skip == "excluded" and r.params.get("probe.version") == "3.0"]
    assert all("probe 3.0 could not be created" in r.error for r in skipped)

    space = cli("space", path)  # known before any trial from now on
    assert "probe 3.0 left out: the environment of probe 3.0 could not be created" in space.out
    assert cli("tune", probe_study(write_study, "missing", tmp_path, 12, version=["1.0", "3.0"],
                                   quality=[7, 8, 9])).code == 0
    assert len(measured(path)) == len(recs)  # nothing more was measured: 3.0 is excluded, 1.0 is done

    assert cli("env", "prune", "--failed").code == 0  # forgotten: tried again (not answered from the results cache)
    assert cli("tune", probe_study(write_study, "missing", tmp_path, 13, version=["1.0", "3.0"],
                                   quality=[7, 8, 9])).code == 0
    retried = [r for r in measured(path) if r.number not in {x.number for x in recs}]
    assert 1 <= len(retried) <= 2 and {(r.params["probe.version"], r.status, r.cached) for r in retried} == {
        ("3.0", "build_error", False)}
    assert probe.requests["/files/request_dse_probe-3.0-py3-none-any.whl"] == 2


def test_flags_and_values_a_release_lacks_are_never_built_with_it(
        probe: LocalIndex, write_study: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path) -> None:
    path = probe_study(write_study, "since", tmp_path, 5, version=["1.0", "2.0"], turbo=[False, True],
                       mode=["plain", "fancy"])
    plan = load_plan(path)
    combos = sorted((c["probe.version"], c.get("probe.turbo"), c["probe.mode"]) for c in plan.space.enumerate())
    assert combos == [("1.0", None, "plain"), ("2.0", False, "fancy"), ("2.0", False, "plain"),
                      ("2.0", True, "fancy"), ("2.0", True, "plain")]
    assert "turbo" not in plan.flags(next(c for c in plan.space.enumerate() if c["probe.version"] == "1.0"))
    assert cli("tune", path).code == 0
    recs = measured(path)
    assert len(recs) == 5 and {r.status for r in recs} == {"ok"}
    for rec in recs:  # built and measured (the session checks it) with the candidate's own release
        assert rec.info["request-dse-probe"] == rec.params["probe.version"]


def test_validate_refuses_a_bundle_whose_environment_cannot_be_recreated(
        probe: LocalIndex, write_study: Callable[..., Path], cli: Callable[..., Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_study("refused", frameworks={"probe": {"version": ["2.0"]}}, space={"dimensions": MODEL},
                       budget={"trials": 1}, work_dir=str(tmp_path / "work"),
                       submissions={"dir": str(tmp_path / "bundles")})
    assert cli("tune", path).code == 0
    (bundle,) = (tmp_path / "bundles").iterdir()
    monkeypatch.delenv("UV_EXTRA_INDEX_URL")  # a validating machine whose registry lacks request-dse-probe
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "fresh-cache"))
    result = cli("validate", bundle)
    (line,) = [ln for ln in result.out.splitlines() if "(badges:" in ln]
    assert result.code == 1 and "functional" not in line.split("(badges:")[1]
    verdict = json.loads((bundle / "validation.json").read_text())
    assert verdict["status"] == "available"
    assert verdict["reason"].startswith("the artifact did not run: run_error: its software environment cannot be "
                                        "recreated here: the environment of probe 2.0 could not be created")
    assert "this installation lacks request-dse-probe==2.0 (not installed)" in verdict["reason"]
