"""The contract every backend meets on every target it runs on, as a reusable pytest suite.

Subclass :class:`BackendConformance` and provide the ``backend`` and ``target`` fixtures
(parametrize them over everything you have); each check runs the real backend:

* a build writes an artifact folder with its ``meta.json`` and the files it lists;
* the loaded artifact's outputs on the check inputs match the ONNX Runtime reference,
  at batch 1 and at a larger batch, in fp32 and (where the backend takes it) int8;
* held-out accuracy is that of the model (within a point of the zoo's figure);
* a measurement session obeys the protocol (min runs, raw samples kept);
* a full trial through isolated worker processes ends ``ok`` with every metric;
* failures are values: a missing artifact fails to load; a build that fails in its worker
  ends ``build_error`` and a damaged artifact ends ``run_error``, each with the reason, and a
  measurement worker that dies on a signal ends ``crashed``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from request_dse.backends import backends, build_candidate, bundled_catalog, get_backend, load_catalog
from request_dse.evaluate import check_outputs, make_job
from request_dse.execute import LocalRuntime, ProcessRunner, make_executor, run_measurement
from request_dse.protocol import MeasureConfig
from request_dse.study import REPO_ROOT, BuildConfig, find_data_file, load_plan
from request_dse.targets import load_target, make_target, option_specs
from request_dse.targets.session import run_session

PROTOCOL = MeasureConfig(warmup_runs=2, min_runs=12, min_time_s=0.0, max_time_s=2.0, repeats=2, timeout_s=120)


def conformance_backends(precision: str = "fp32") -> list[str]:
    """The built-in backends (the modules of :mod:`request_dse.backends`) whose catalog admits
    ``precision``: what the suite runs, derived from the registry."""
    out = []
    for name, cls in backends().items():
        if not cls.__module__.startswith("request_dse.backends."):
            continue
        path = find_data_file("backends", name) or bundled_catalog(name)
        if path is None:
            continue
        catalog = load_catalog(path, cls.apply_kinds, expected_backend=name)
        values = {"framework": name, "model.precision": precision}
        if all(rule.expression.evaluate(values) for rule in catalog.requires):
            out.append(name)
    return out


def conformance_targets() -> list[str]:
    """The repository's targets that are local devices available on this machine."""
    out = []
    for path in sorted((REPO_ROOT / "targets").glob("*.yaml")):
        target = make_target(load_target(path, option_specs(), expected_name=path.stem))
        if "local" in target.capabilities and target.unavailable() is None:
            out.append(target.name)
    return out


def plan_for(tmp_path: Path, backend: str, target: str, precisions: tuple[str, ...] = ("fp32",),
             extra_target: dict[str, Any] | None = None, flags: dict[str, Any] | None = None,
             families: tuple[str, ...] = ("mobilenet", "resnet")) -> Any:
    study = {
        "name": f"conformance-{backend}", "workload": "digits", "target": target,
        "frameworks": {backend: dict(flags or {})},
        "space": {"dimensions": {"model.family": list(families), "model.width": [0.25],
                                 "model.depth": [8], "model.resolution": [8],
                                 "model.precision": list(precisions), "batch_size": [1, 4]}},
        "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
        "budget": {"trials": 1}, "measure": dataclasses.asdict(PROTOCOL), "tracking": {"enabled": False},
        "cache": False,
    }
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(study))
    return load_plan(path)


def candidates(plan: Any) -> list[Any]:
    return list(plan.space.enumerate())


def build_inline(plan: Any, candidate: Any, tmp_path: Path) -> Any:
    """Build one candidate in this process (the backend code is the same as in a worker)."""
    job = make_job(plan, 0, candidate)
    job = dataclasses.replace(job, build=dataclasses.replace(job.build, out_dir=tmp_path / candidate.hash))
    return job, build_candidate(job.build)


class BackendConformance:
    """Checks shared by every backend x target pair. Provide ``backend`` and ``target`` fixtures."""
    precisions: tuple[str, ...] = ("fp32",)

    @pytest.fixture
    def plan(self, tmp_path: Path, backend: str, target: str) -> Any:
        return plan_for(tmp_path, backend, target, self.precisions)

    def test_build_writes_a_self_describing_artifact(self, plan: Any, tmp_path: Path) -> None:
        _, build = build_inline(plan, candidates(plan)[0], tmp_path)
        assert build.status == "ok"
        meta = json.loads((build.artifact_dir / "meta.json").read_text())
        assert meta["backend"] == candidates(plan)[0]["framework"]
        for name in meta["files"]:
            assert (build.artifact_dir / name).is_file()

    def test_its_own_artifacts_pass_its_settings_check(self, plan: Any, tmp_path: Path) -> None:
        """Whatever a build applies at load time is what the catalog allows (a bundle of it validates)."""
        candidate = candidates(plan)[0]
        _, build = build_inline(plan, candidate, tmp_path)
        assert build.status == "ok", build.error
        name = candidate["framework"]
        get_backend(name).check_artifact(build.artifact_dir, plan.catalogs[name])

    def test_outputs_match_the_reference(self, plan: Any, tmp_path: Path) -> None:
        for candidate in candidates(plan):
            job, build = build_inline(plan, candidate, tmp_path)
            assert build.status == "ok", build.error
            request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                          protocol=PROTOCOL, score=True)
            session = run_session(request)
            assert check_outputs(session.check_outputs, build.prepared) is None, candidate.label()
            entry_accuracy = build.prepared.info.get("zoo_accuracy")
            labels = np.load(build.prepared.data_path)["y_eval"]
            accuracy = float(np.mean(session.top5[:, 0] == labels))
            if entry_accuracy is not None and build.prepared.precision == "fp32":
                assert accuracy == pytest.approx(entry_accuracy, abs=0.01), candidate.label()
            assert len(session.samples_ns) >= PROTOCOL.min_runs
            assert session.samples_ns.dtype == np.int64 and np.all(session.samples_ns > 0)

    def test_full_trial_in_worker_processes(self, plan: Any) -> None:
        executor = make_executor(plan, "local")
        try:
            candidate = candidates(plan)[-1]
            executor.submit(make_job(plan, 0, candidate))
            results = []
            while not results:
                results = executor.wait(timeout=1.0)
        finally:
            executor.shutdown()
        (_, result), = results
        assert result.status == "ok", result.error
        for metric in ("accuracy_top1", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_cv",
                       "latency_p50_ci_low_ms", "latency_p50_ci_high_ms", "throughput_ips", "model_size_bytes",
                       "artifact_size_bytes", "build_time_s", "load_time_s"):
            assert metric in result.metrics, metric
        m = result.metrics
        assert m["latency_p50_ci_low_ms"] <= m["latency_p50_ms"] <= m["latency_p50_ci_high_ms"]
        assert m["latency_p50_ms"] <= m["latency_p90_ms"] <= m["latency_p99_ms"]
        assert m["samples"] >= PROTOCOL.min_runs * PROTOCOL.repeats
        assert result.samples_path is not None and result.samples_path.exists()

    def test_missing_artifact_fails_to_load(self, plan: Any, tmp_path: Path) -> None:
        backend = get_backend(candidates(plan)[0]["framework"])
        (tmp_path / "empty").mkdir()
        with pytest.raises(Exception):  # noqa: B017 - any error: the worker turns it into run_error
            backend.load(tmp_path / "empty", 1)

    def test_failed_build_is_a_build_error(self, plan: Any, tmp_path: Path) -> None:
        job = make_job(plan, 0, candidates(plan)[0])
        (tmp_path / "occupied").write_text("a file where the artifact folder should go")
        request = dataclasses.replace(job.build, out_dir=tmp_path / "occupied" / "artifact")
        runtime = LocalRuntime(ProcessRunner(plan.preload()), 1, ())
        result = runtime.build(request, BuildConfig(timeout_s=300), tmp_path / "build.log")
        assert result.status == "build_error", result
        assert "occupied" in result.error and result.artifact_dir is None

    def test_damaged_artifact_is_a_run_error(self, plan: Any, tmp_path: Path) -> None:
        job, build = build_inline(plan, candidates(plan)[0], tmp_path)
        assert build.status == "ok", build.error
        meta = json.loads((build.artifact_dir / "meta.json").read_text())
        for name in meta["files"]:
            (build.artifact_dir / name).write_bytes(b"not what the backend wrote\n")
        request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                      protocol=PROTOCOL)
        target = plan.target
        measured = run_measurement(ProcessRunner(plan.preload()), target, request, tmp_path / "measure.log")
        assert measured.status == "run_error", measured
        assert measured.error and not measured.sessions

    def test_measurement_worker_killed_by_a_signal_is_crashed(self, plan: Any, tmp_path: Path) -> None:
        """A worker that dies mid-measurement (here: SIGILL, as code for a CPU feature the host
        lacks would) ends ``crashed`` with the signal named."""
        job, build = build_inline(plan, candidates(plan)[0], tmp_path)
        assert build.status == "ok", build.error
        request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                      protocol=dataclasses.replace(PROTOCOL, max_time_s=60.0, min_time_s=30.0,
                                                                   max_runs=10**9))
        runner = ProcessRunner(plan.preload())
        outcome: list[Any] = []
        thread = threading.Thread(target=lambda: outcome.append(run_measurement(runner, plan.target, request, None)))
        thread.start()
        deadline = time.monotonic() + 120
        while not runner.running().get("measure") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)
        with runner._lock:
            pids = list(runner._running)
        for pid in pids:
            os.kill(pid, signal.SIGILL)
        thread.join(timeout=120)
        (measured,) = outcome
        assert measured.status == "crashed", measured
        assert "SIGILL" in measured.error and "illegal instruction" in measured.error
