"""The version dimension: listed releases checked against the registry before any trial,
flags and values a release does not know left out for it, and each candidate's environment."""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import pytest

from request_dse.space import Candidate
from request_dse.study import load_plan

ORT = metadata.version("onnxruntime")
MODEL = {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8], "model.precision": ["fp32"]}


def ort(**flags: object) -> dict[str, object]:
    return {"frameworks": {"onnxruntime": flags}, "space": {"dimensions": MODEL}}


def one_line_error(result: object, *parts: str) -> str:
    assert result.code == 2, result  # type: ignore[attr-defined]
    lines = result.err.strip().splitlines()  # type: ignore[attr-defined]
    assert len(lines) == 1 and "Traceback" not in result.err, result.err  # type: ignore[attr-defined]
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("versions, field, rule", [
    ([1.21], "version[0]", "must be a version string such as '1.20.1' (quote it: YAML reads 1.21 as a float)"),
    (["latest"], "version[0]", "must be a release version such as '1.20.1'; got 'latest'"),
    (["1.20.1", "1.20.1"], "version[1]", "repeats '1.20.1'"),
    ([], "version", "must list at least one version"),
])
def test_a_bad_version_value_is_one_line(versions: list[object], field: str, rule: str,
                                         write_study: Callable[..., Path], cli: Callable[..., object]) -> None:
    path = write_study("v", **ort(version=versions))
    one_line_error(cli("space", path), f"frameworks.onnxruntime.{field}: {rule}")


def test_a_backend_without_a_library_on_the_registry_has_no_versions(write_study: Callable[..., Path],
                                                                     cli: Callable[..., object]) -> None:
    path = write_study("v", frameworks={"noop": {"version": ["1.0"]}}, space={"dimensions": MODEL})
    one_line_error(cli("space", path), "frameworks.noop.version: backend noop names no library on the registry")


@pytest.mark.parametrize("command", ["space", "tune"])
def test_a_version_the_registry_lacks_is_refused_before_any_trial(command: str, write_study: Callable[..., Path],
                                                                  cli: Callable[..., object], tmp_path: Path) -> None:
    path = write_study("v", work_dir=str(tmp_path / "work"), **ort(version=["1.20.1", "9.9.9"]))
    one_line_error(cli(command, path), "frameworks.onnxruntime.version[1]: onnxruntime 9.9.9 cannot be installed here",
                   "there is no version of onnxruntime==9.9.9")
    assert not (tmp_path / "work" / "study.journal").exists()


def test_a_version_without_a_wheel_for_this_python_is_refused(write_study: Callable[..., Path],
                                                              cli: Callable[..., object]) -> None:
    one_line_error(cli("space", write_study("v", **ort(version="1.14.1"))),
                   "frameworks.onnxruntime.version: onnxruntime 1.14.1 cannot be installed here",
                   "no wheels with a matching Python ABI tag (e.g., `cp311`)")


def test_a_value_a_release_lacks_is_excluded_for_that_release(write_study: Callable[..., Path]) -> None:
    plan = load_plan(write_study("v", **ort(version=["1.20.1", "1.24.4"], graph_optimization_level=["all", "layout"])))
    pairs = {(c["onnxruntime.version"], c["onnxruntime.graph_optimization_level"]) for c in plan.space.enumerate()}
    assert pairs == {("1.20.1", "all"), ("1.24.4", "all"), ("1.24.4", "layout")}
    reasons = [c.reason for c in plan.space.constraints if "layout" in c.reason]
    assert reasons == ["onnxruntime.graph_optimization_level='layout' exists since onnxruntime 1.23, not in 1.20.1"]


def test_a_value_no_listed_release_has_is_an_error(write_study: Callable[..., Path],
                                                   cli: Callable[..., object]) -> None:
    path = write_study("v", **ort(version=["1.20.1"], graph_optimization_level=["all", "layout"]))
    one_line_error(cli("space", path), "frameworks.onnxruntime.graph_optimization_level: 'layout' exists since "
                                       "onnxruntime 1.23; none of the versions listed")


def test_each_candidate_runs_in_the_environment_of_its_version(write_study: Callable[..., Path]) -> None:
    plan = load_plan(write_study("v", **ort(version=["1.20.1", "1.24.4"], graph_optimization_level=["all"])))
    candidates = {c["onnxruntime.version"]: c for c in plan.space.enumerate()}
    locks = {v: plan.environment(c) for v, c in candidates.items()}
    assert {v: lock.pins()["onnxruntime"] for v, lock in locks.items() if lock} == {"1.20.1": "1.20.1",
                                                                                  "1.24.4": "1.24.4"}
    assert "version" not in plan.flags(candidates["1.20.1"])
    assert plan.trial_key(candidates["1.20.1"]) != plan.trial_key(candidates["1.24.4"])
    assert plan.version(candidates["1.20.1"]) == "1.20.1"


def test_without_versions_or_pins_candidates_run_in_request_dses_own_environment(
        write_study: Callable[..., Path]) -> None:
    plan = load_plan(write_study("v", **ort(graph_optimization_level=["all", "layout"])))
    candidate = next(iter(plan.space.enumerate()))
    assert plan.environment(candidate) is None and plan.version(candidate) == ORT and not plan.locks


def test_extra_pins_give_every_candidate_an_environment(write_study: Callable[..., Path]) -> None:
    plan = load_plan(write_study("v", environment={"extra": {"numpy": "1.26.4"}}, **ort()))
    lock = plan.environment(Candidate.of({**{k: v[0] for k, v in MODEL.items()}, "batch_size": 1,
                                          "target.threads": 1, "framework": "onnxruntime"}))
    assert lock is not None and lock.pins()["numpy"] == "1.26.4" and lock.pins()["onnxruntime"] == ORT


@pytest.mark.parametrize("extra, rule", [({"numpy": ">>2"},
                                          "environment.extra.numpy: '>>2' is neither a version such as '1.26.4' nor"),
                                         ({"numpy": 2}, "environment.extra.numpy: must be a non-empty string"),
                                         ({"num py": "1.0"}, "must be a package name")])
def test_a_bad_pin_is_one_line(extra: dict[str, object], rule: str, write_study: Callable[..., Path],
                               cli: Callable[..., object]) -> None:
    one_line_error(cli("space", write_study("v", environment={"extra": extra}, **ort())), rule)
