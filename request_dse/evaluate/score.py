"""Scoring a measured candidate: the outputs checked against the reference, accuracy, latency
statistics and derived metrics. The one place a measurement becomes metrics -- for a search
trial, a confirmation and a validation alike."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import BuildResult
from request_dse.evaluate._base import TrialJob
from request_dse.evaluate.loadgen import loadgen_result
from request_dse.evaluate.stats import latency_stats, session_spread
from request_dse.metrics import derive
from request_dse.results import TrialResult, save_samples
from request_dse.targets import MeasureResult
from request_dse.workloads import PreparedModel

#: Top-k predictions of the scored session on the held-out split, beside samples.npz.
PREDICTIONS = "predictions.npy"


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


def built_metrics(build: BuildResult) -> dict[str, float]:
    """What an ok build alone determines: the artifact's and the model's size, parameters, FLOPs."""
    prepared = build.prepared
    assert prepared is not None and build.artifact_dir is not None  # an ok build has both
    out = {"artifact_size_bytes": float(_dir_size(build.artifact_dir))}
    if prepared.onnx_path.is_file():
        out["model_size_bytes"] = float(prepared.onnx_path.stat().st_size)
    if prepared.params is not None:
        out["params"] = float(prepared.params)
    if prepared.flops is not None:
        out["flops"] = float(prepared.flops)
    return out


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
        "build_time_s": build.build_time_s, "tuning_time_s": build.tuning_time_s,
        "load_time_s": float(np.median([s.load_time_s for s in measured.sessions])),
        "memory_peak_mb": float(max(s.memory_peak_mb for s in measured.sessions)),
        "measure_time_s": measured.wall_s,
    })
    metrics.update(built_metrics(build))
    info: dict[str, Any] = {**build.info, "model_id": prepared.model_id, "model_sha256": prepared.sha256,
                            "energy_source": "measured" if energies else "estimated from the target's power model"
                            if power else "none"}
    spread = session_spread(measured.sessions)
    if spread is not None:
        info["session_spread"] = round(spread, 4)  # the between-session noise early stopping allows for
    loadgen_metrics, loadgen_info, wrong = loadgen_result(measured.sessions, job.trial_dir)
    metrics.update(loadgen_metrics)
    if loadgen_info:
        info["loadgen"] = loadgen_info
    mismatch = mismatch or wrong
    status, error = ("wrong_answer", mismatch) if mismatch else ("ok", "")
    return TrialResult(job.candidate, status, metrics, error, build.artifact_dir, samples, log, info,
                       job.trial_dir / "measure.log", dict(timings))
