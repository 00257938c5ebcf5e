"""LoadGen drives every backend's session in every scenario, on the zoo, with short settings; its
accuracy log agrees with the scored answers; TEST04 catches a backend that caches results."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from request_dse.metrics import LOADGEN_METRICS
from request_dse.protocol import SCENARIOS, LoadGenConfig, MeasureConfig
from request_dse.study import REPO_ROOT, compatible
from request_dse.sysinfo import gpu
from request_dse.targets import load_target, make_target, option_specs
from request_dse.targets.loadgen import ACCURACY, DETAIL, SESSION_FILE, SUMMARY, LogError, figures, measure_session
from request_dse.targets.loadgen.logs import detail, responses
from request_dse.testing.backend_conformance import build_inline, candidates, conformance_backends, plan_for
from tests.conftest import FAST_MEASURE, study_doc

NO_GPU = gpu.unavailable(0)
SHORT = MeasureConfig(warmup_runs=5, repeats=1, protocol="loadgen",
                      loadgen=LoadGenConfig(min_duration_ms=200, target_latency_ms=50.0, server_search_s=6.0))


@pytest.fixture(scope="module", params=conformance_backends("fp32"))
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """One small zoo candidate (batch 1) of each backend, built once."""
    tmp = tmp_path_factory.mktemp(f"lg-{request.param}")
    plan = plan_for(tmp, request.param, "local-cpu")
    candidate = next(c for c in candidates(plan) if c["batch_size"] == 1 and c["model.family"] == "mobilenet")
    job, build = build_inline(plan, candidate, tmp)
    assert build.status == "ok", build.error
    return job, build


def session_request(built: tuple[Any, Any], log_dir: Path, **protocol: Any) -> Any:
    job, build = built
    return dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                               protocol=dataclasses.replace(SHORT, **protocol), score=True, log_dir=log_dir)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_scenario_measures_every_backend(built: tuple[Any, Any], scenario: str, tmp_path: Path) -> None:
    result = measure_session(session_request(built, tmp_path, scenario=scenario))
    doc = result.loadgen
    assert doc is not None and doc["scenario"] == scenario
    folder = Path(doc["dir"])
    assert folder.parent == tmp_path and json.loads((folder / SESSION_FILE).read_text())["scenario"] == scenario
    for name in (SUMMARY, DETAIL, ACCURACY, "user.conf"):
        assert (folder / "performance" / "run_1" / name).is_file(), name
        assert (folder / "accuracy" / (name if name != "user.conf" else "accuracy.txt")).is_file(), name
    # LoadGen's accuracy log: every held-out sample, each the class the candidate scored
    labels = np.load(built[1].prepared.data_path)["y_eval"]
    accuracy = doc["accuracy"]
    assert accuracy["samples"] == len(labels) and accuracy["disagree"] == 0
    assert accuracy["accuracy_top1"] == pytest.approx(float(np.mean(result.top5[:, 0] == labels)))
    found = doc["figures"]
    assert found["loadgen_valid"] == 1.0, (found, doc.get("error"))
    assert set(found) == {m for m, scenarios in LOADGEN_METRICS.items() if scenario in scenarios
                          and (m != "loadgen_p99_estimate_ms" or m in found)}
    assert found == figures(folder / "performance" / "run_1", scenario)
    assert len(result.samples_ns) > 0 and np.all(result.samples_ns > 0)
    if scenario == "server":
        tried = doc["server_search"]
        assert any(t["valid"] for t in tried) and found["server_qps"] > 0
        assert (folder / "search").is_dir() and len(list((folder / "search").iterdir())) == len(tried)
    if scenario in ("single_stream", "multi_stream"):
        assert found["loadgen_p50_ms"] <= found["loadgen_p90_ms"] <= found["loadgen_p99_ms"]
        assert found["loadgen_score"] > 0


def test_user_conf_states_the_run_in_mlperf_format(built: tuple[Any, Any], tmp_path: Path) -> None:
    result = measure_session(session_request(built, tmp_path, scenario="multi_stream"))
    folder = Path(result.loadgen["dir"]) / "performance" / "run_1"
    conf = dict(line.split(" = ") for line in (folder / "user.conf").read_text().splitlines() if " = " in line)
    values = detail(folder / DETAIL)
    assert conf["*.MultiStream.samples_per_query"] == "8" == str(values["effective_samples_per_query"])
    assert conf["*.MultiStream.min_duration"] == "200" == str(values["effective_min_duration_ms"])
    assert int(conf["*.MultiStream.min_query_count"]) == 662 == values["effective_min_query_count"]
    assert values["effective_sample_index_rng_seed"] == 2747215439041700203  # MLPerf's official seed
    assert not (folder / "audit.config").exists()


def test_compliance_tests_pass_for_an_honest_backend(built: tuple[Any, Any], tmp_path: Path) -> None:
    """The request-dse protocol times the candidate; TEST01 and TEST04 follow under LoadGen."""
    job, build = built
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  protocol=MeasureConfig(warmup_runs=2, min_runs=10, min_time_s=0.0, repeats=1),
                                  score=True, log_dir=tmp_path, compliance=True)
    result = measure_session(request)
    assert len(result.samples_ns) >= 10 and "figures" not in result.loadgen
    outcome = result.loadgen["compliance"]
    assert outcome["TEST01"]["passed"] and outcome["TEST01"]["logged"] > 0, outcome
    assert outcome["TEST04"]["passed"], outcome
    folder = Path(result.loadgen["dir"])
    assert (folder / "TEST01" / "verify_accuracy.txt").read_text().strip().endswith("TEST PASS")
    assert "Found Audit Config file" in (folder / "TEST04" / "performance" / "run_1" / DETAIL).read_text()


def test_a_backend_that_caches_results_fails_test04(tmp_path: Path) -> None:
    plan = plan_for(tmp_path, "faults", "local-cpu", flags={"fault": ["caching"]})
    job, build = build_inline(plan, next(c for c in candidates(plan) if c["batch_size"] == 1), tmp_path)
    assert build.status == "ok", build.error
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  protocol=MeasureConfig(warmup_runs=2, min_runs=10, min_time_s=0.0, repeats=1),
                                  score=True, log_dir=tmp_path / "logs", compliance=True)
    outcome = measure_session(request).loadgen["compliance"]
    assert outcome["TEST01"]["passed"], outcome  # its answers are right...
    assert not outcome["TEST04"]["passed"] and outcome["TEST04"]["ratio"] > 1.5, outcome  # ...and cached
    assert "cache of results" in outcome["TEST04"]["detail"]


def test_logs_are_read_defensively(tmp_path: Path) -> None:
    (tmp_path / DETAIL).write_text(':::MLLOG {"key": "result_validity", "value": "VALID"}\n'
                                   ":::MLLOG {not json\nnoise\n"
                                   ':::MLLOG {"key": "error_invalid_config", "value": "x"}\n')
    values = detail(tmp_path / DETAIL)
    assert values["result_validity"] == "VALID" and values["error_count"] == 1
    (tmp_path / ACCURACY).write_text('[{"qsl_idx": 3, "data": "07000000"}, {"qsl_idx": "x"}, '
                                     '{"qsl_idx": 4, "data": "zz"}]')
    assert responses(tmp_path / ACCURACY) == {3: bytes([7, 0, 0, 0])}
    (tmp_path / "big.json").write_bytes(b" " * (64 * 2**20 + 1))
    with pytest.raises(LogError, match="larger than 64 MiB"):
        responses(tmp_path / "big.json")
    with pytest.raises(LogError, match="missing"):
        detail(tmp_path / "nope.txt")


@pytest.mark.skipif(NO_GPU is not None, reason=f"no GPU: {NO_GPU}")
def test_a_study_on_the_gpu_under_loadgen(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every backend that runs on the GPU here, under LoadGen, in two scenarios."""
    from request_dse.backends import get_backend

    spec = load_target(REPO_ROOT / "targets" / "cuda.yaml", option_specs(), expected_name="cuda")
    target = make_target(spec)
    frameworks = {name: {} for name in ("onnxruntime", "tvm", "torch")
                  if compatible(get_backend(name), target) is None
                  and get_backend(name).unavailable(target.capabilities) is None}
    assert frameworks
    doc = study_doc("gpu-lg", target="cuda", frameworks=frameworks, sampler={"name": "grid"},
                    space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                          "model.resolution": [8], "model.precision": ["fp32"]}},
                    objectives=[{"maximize": "accuracy_top1"}, {"maximize": "loadgen_score"}],
                    measure={**FAST_MEASURE, "protocol": "loadgen", "scenario": ["single_stream", "offline"],
                             "loadgen": {"min_duration_ms": 300}}, budget={"trials": 2 * len(frameworks)})
    path = tmp_path / "gpu.yaml"
    path.write_text(yaml.safe_dump(doc))
    result = cli("tune", path, "-q", "--no-export")
    assert result.code == 0, result
    trials = json.loads(cli("report", path, "--json").out)["trials"]
    assert len(trials) == 2 * len(frameworks) and all(t["status"] == "ok" for t in trials), trials
    assert all(t["metrics"]["loadgen_valid"] == 1.0 and t["info"]["loadgen"]["accuracy_log"]["disagree"] == 0
               for t in trials)
