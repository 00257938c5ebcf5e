"""The path of one candidate: build, measure, check, score, derive.

    BuildRequest --runtime.build--> BuildResult --runtime.measure--> MeasureResult
                 --check against the reference, accuracy, statistics--> TrialResult

:func:`run_trial` is the same for every executor; the runtime decides where each step runs.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from request_dse import early_stop
from request_dse.config import BuildConfig
from request_dse.execute._base import TrialJob
from request_dse.measure import latency_stats, save_samples, session_spread
from request_dse.metrics import derive
from request_dse.records import BuildRequest, BuildResult, MeasureResult, SessionRequest, TrialResult
from request_dse.targets import Target, make_target
from request_dse.workloads._base import PreparedModel


class Runtime(Protocol):
    def build(self, request: BuildRequest, config: BuildConfig, log_path: Path | None) -> BuildResult: ...

    def measure(self, target: Target, request: SessionRequest, log_path: Path | None = None) -> MeasureResult: ...


#: Top-k predictions of the scored session on the held-out split, beside samples.npz.
PREDICTIONS = "predictions.npy"


def run_trial(job: TrialJob, runtime: Runtime) -> TrialResult:
    """Build, measure and score one candidate. ``timings`` records each step's wall-clock span
    (``build_start``/``build_end``/``measure_start``/``measure_end``, epoch seconds) and length."""
    replaying = make_target(job.target)
    if replaying.replays:  # recorded results: nothing to build or measure
        return replaying.replay(job.candidate)
    timings: dict[str, float] = {"build_start": time.time()}
    t0 = time.perf_counter()
    log = job.trial_dir / "build.log"
    build = job.reuse if job.reuse is not None else runtime.build(job.build, job.build_config, log)
    timings["build"] = time.perf_counter() - t0
    timings["build_end"] = time.time()
    if build.status != "ok":
        return TrialResult(job.candidate, build.status, error=build.error, build_log=log, timings=timings,
                           metrics={"build_time_s": build.build_time_s})
    target = make_target(job.target)
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared)
    t1 = time.perf_counter()
    timings["measure_start"] = time.time()
    measured, ended = _measure(job, build, runtime, target, request, timings, log)
    timings["measure"] = time.perf_counter() - t1
    timings["measure_end"] = time.time()
    if ended is not None:
        return dataclasses.replace(ended, timings=dict(timings))
    if measured.status != "ok":
        return TrialResult(job.candidate, measured.status, error=_explain(measured.error, build), artifact_dir=build.artifact_dir,
                           build_log=log, info=dict(build.info), measure_log=job.trial_dir / "measure.log",
                           timings=timings)
    return score(job, build, measured, timings, log)


def _measure(job: TrialJob, build: BuildResult, runtime: Runtime, target: Target, request: SessionRequest,
             timings: dict[str, float], log: Path) -> tuple[MeasureResult, TrialResult | None]:
    """The measurement protocol. With early stopping, a scored judging session first (the protocol's
    first session, or a short one when it has only one): a candidate the job's front snapshot
    beats by more than the noise (or that gives a wrong answer) ends there."""
    measure_log = job.trial_dir / "measure.log"
    if not early_stop.wanted(job.front, request.protocol):
        return runtime.measure(target, request, measure_log), None
    first = runtime.measure(target, early_stop.short_request(request), measure_log)
    timings["measure_first_s"] = first.wall_s  # the short session's part of measure_time_s
    if first.status != "ok":
        return first, None
    estimate = score(job, build, first, timings, log)
    if estimate.status != "ok":
        return first, estimate
    stopped = early_stop.stop(estimate, first, job.front, request.protocol.early_stop.margin)  # type: ignore[arg-type]
    if stopped is not None:
        return first, stopped
    rest = runtime.measure(target, early_stop.rest_request(request), measure_log)
    return early_stop.combine(first, rest, early_stop.reuses_first(request.protocol)), None


def _explain(error: str, build: BuildResult) -> str:
    """A crash on an illegal instruction names the code generation flags that caused it."""
    codegen = build.info.get("codegen")
    if "SIGILL" in error and codegen:
        head, _, rest = error.partition("\n")
        return (f"{head} -- the code was generated for {codegen}, which uses an instruction this CPU lacks; "
                f"pick another -mcpu/-mattr (or list the feature under `needs` in the backend catalog)"
                + (f"\n{rest}" if rest else ""))
    return error


def check_outputs(outputs: np.ndarray | None, prepared: PreparedModel) -> str | None:
    """Why ``outputs`` differ from the reference beyond tolerance, or None."""
    reference = np.load(prepared.reference_path)
    if outputs is None:
        return "no outputs were produced for the check inputs"
    if outputs.shape != reference.shape:
        return f"output shape {outputs.shape} differs from the reference {reference.shape}"
    if not np.all(np.isfinite(outputs)):
        return "outputs contain NaN or infinity"
    atol, rtol = prepared.tolerance
    scale = float(np.max(np.abs(reference))) or 1.0
    diff = np.abs(outputs.astype(np.float64) - reference)
    allowed = atol * scale + rtol * np.abs(reference)
    if np.any(diff > allowed):
        worst = float(np.max(diff))
        return (f"outputs differ from the ONNX Runtime reference: max abs diff {worst:.3g} > tolerance "
                f"(atol {atol:g} x {scale:.3g} + rtol {rtol:g}); {prepared.precision} on {len(reference)} check inputs")
    return None


def accuracy(top5: np.ndarray | None, prepared: PreparedModel) -> dict[str, float]:
    with np.load(prepared.data_path) as data:
        if "y_eval" not in data.files or top5 is None:
            return {}
        labels = data["y_eval"]
    out = {"accuracy_top1": float(np.mean(top5[:, 0] == labels))}
    if top5.shape[1] >= 5:
        out["accuracy_top5"] = float(np.mean(np.any(top5 == labels[:, None], axis=1)))
    return out


def _dir_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def score(job: TrialJob, build: BuildResult, measured: MeasureResult, timings: Mapping[str, float],
          log: Path) -> TrialResult:
    prepared = build.prepared
    assert prepared is not None and build.artifact_dir is not None  # an ok build has both
    first = measured.sessions[0]
    mismatch = check_outputs(first.check_outputs, prepared)
    samples = save_samples(job.trial_dir / "samples.npz", measured.sessions)
    if first.top5 is not None:  # the accuracy log of submissions: top-k class indices per eval sample
        np.save(job.trial_dir / PREDICTIONS, first.top5)
    batch, threads = job.session.batch_size, job.session.threads
    metrics: dict[str, float] = latency_stats(measured.sessions, batch)
    metrics.update(accuracy(first.top5, prepared))
    energies = [s.energy_j for s in measured.sessions if s.energy_j is not None]
    power = job.target.power
    metrics.update(derive(metrics["latency_mean_ms"] / 1e3, batch, threads,
                          cost_per_hour_usd=job.target.cost_per_hour_usd,
                          idle_w=power.idle_w if power else None, per_core_w=power.per_core_w if power else None,
                          measured_energy_j=float(np.median(energies)) if energies else None))
    metrics.update({
        "model_size_bytes": float(prepared.onnx_path.stat().st_size),
        "artifact_size_bytes": float(_dir_size(build.artifact_dir)),
        "build_time_s": build.build_time_s, "tuning_time_s": build.tuning_time_s,
        "load_time_s": float(np.median([s.load_time_s for s in measured.sessions])),
        "memory_peak_mb": float(max(s.memory_peak_mb for s in measured.sessions)),
        "measure_time_s": measured.wall_s,
    })
    if prepared.params is not None:
        metrics["params"] = float(prepared.params)
    if prepared.flops is not None:
        metrics["flops"] = float(prepared.flops)
    info: dict[str, Any] = {**build.info, "model_id": prepared.model_id, "model_sha256": prepared.sha256,
                            "energy_source": "measured" if energies else "estimated from the target's power model"
                            if power else "none"}
    spread = session_spread(measured.sessions)
    if spread is not None:
        info["session_spread"] = round(spread, 4)  # the between-session noise early stopping allows for
    status, error = ("wrong_answer", mismatch) if mismatch else ("ok", "")
    return TrialResult(job.candidate, status, metrics, error, build.artifact_dir, samples, log, info,
                       job.trial_dir / "measure.log", dict(timings))
