"""MetaSchedule tuning as a dimension of the tvm backend: tuned once per model and target, reused,
and a tuning failure is a build_error that carries the log tail.

The study's own catalog (``backends/tvm.yaml`` next to the study file) is the repository's with
a small trial budget and a small evolutionary population, so the test tunes in seconds of CPU.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.study import REPO_ROOT, BuildConfig

pytestmark = pytest.mark.slow

TRIALS = 4


def _plan(tmp_path: Path, tvm_flags: dict[str, Any], cost_model: str = "xgb") -> Any:
    from request_dse.study import load_plan

    catalog = yaml.safe_load((REPO_ROOT / "backends" / "tvm.yaml").read_text())
    catalog["flags"]["tuning_trials"]["choices"] = [0, TRIALS]
    catalog["flags"]["tuning_cost_model"]["choices"] = [cost_model]
    catalog["flags"]["tuning_cost_model"]["default"] = cost_model
    catalog["flags"]["tuning_population"] = {"description": "EvolutionarySearch population", "choices": [16],
                                             "default": 16, "apply": {"tuning": "population_size"}}
    catalog["flags"]["tuning_min_unmeasured"] = {"description": "EvolutionarySearch init_min_unmeasured",
                                                 "choices": [4], "default": 4,
                                                 "apply": {"tuning": "init_min_unmeasured"}}
    catalog["flags"]["tuning_evolve_iters"] = {"description": "EvolutionarySearch genetic_num_iters",
                                               "choices": [1], "default": 1, "apply": {"tuning": "genetic_num_iters"}}
    (tmp_path / "backends").mkdir(parents=True, exist_ok=True)
    (tmp_path / "backends" / "tvm.yaml").write_text(yaml.safe_dump(catalog))
    study = {
        "name": "tuning", "workload": "digits", "target": "local-cpu", "frameworks": {"tvm": tvm_flags},
        "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                                 "model.precision": ["fp32"]}},
        "objectives": [{"minimize": "latency_p50_ms"}], "budget": {"trials": 2},
        "measure": {"warmup_runs": 2, "min_runs": 10, "min_time_s": 0.0, "repeats": 1},
        "tracking": {"enabled": False}, "cache": False,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return load_plan(path)


def _build(plan: Any, candidate: Any, out: Path) -> Any:
    from request_dse.evaluate import make_job
    from request_dse.execute import LocalRuntime, ProcessRunner

    job = make_job(plan, 0, candidate)
    request = dataclasses.replace(job.build, out_dir=out / "artifact")
    runtime = LocalRuntime(ProcessRunner(plan.preload()), 1, ())
    return job, runtime.build(request, BuildConfig(timeout_s=900), out / "build.log")


def test_tuned_database_is_reused_across_flags_and_studies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from request_dse.evaluate import check_outputs
    from request_dse.targets.session import run_session

    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "cache"))
    plan = _plan(tmp_path / "a", {"tuning_trials": [TRIALS], "opt_level": [2, 3]})
    first, second = sorted(plan.space.enumerate(), key=lambda c: c["tvm.opt_level"])
    job, tuned = _build(plan, first, tmp_path / "first")
    assert tuned.status == "ok", tuned.error
    assert tuned.tuning_time_s > 0 and tuned.info["tuning_reused"] is False
    database = Path(tuned.info["tuning_database"])
    assert database.parent == tmp_path / "cache" / "metaschedule"
    assert (database / "tuning.json").is_file() and (database / "database_tuning_record.json").stat().st_size > 0
    # the tuned library is correct
    request = dataclasses.replace(job.session, artifact_dir=tuned.artifact_dir, prepared=tuned.prepared)
    assert check_outputs(run_session(request).check_outputs, tuned.prepared) is None

    # another candidate (other flags), then a second study: no tuning time at all
    _, again = _build(plan, second, tmp_path / "second")
    assert again.status == "ok", again.error
    assert again.tuning_time_s == 0.0 and again.info["tuning_reused"] is True
    other_study = _plan(tmp_path / "b", {"tuning_trials": [TRIALS], "vectorize": [False]})
    (candidate,) = other_study.space.enumerate()
    _, reused = _build(other_study, candidate, tmp_path / "third")
    assert reused.status == "ok", reused.error
    assert reused.tuning_time_s == 0.0 and reused.info["tuning_database"] == str(database)


def test_metaschedule_failure_is_a_build_error_with_the_log_tail(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "cache"))
    plan = _plan(tmp_path, {"tuning_trials": [TRIALS]}, cost_model="no-such-model")
    (candidate,) = plan.space.enumerate()
    _, result = _build(plan, candidate, tmp_path / "build")
    assert result.status == "build_error"
    assert "MetaSchedule tuning failed" in result.error
    assert "Unknown CostModel: no-such-model" in result.error  # MetaSchedule's own words, from the log tail
    assert not list((tmp_path / "cache" / "metaschedule").glob("*/tuning.json"))  # nothing half-tuned is reused
