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


#: The held-out rows a scored candidate got wrong (top-1) that its record keeps, at most: they
#: order the scoring of later judging sessions (:mod:`request_dse.targets.scoring`).
MISCLASSIFIED_KEPT = 256


def labels_of(prepared: PreparedModel) -> np.ndarray | None:
    """The held-out split's labels, or None where the workload has none."""
    with np.load(prepared.data_path) as data:
        return data["y_eval"] if "y_eval" in data.files else None


def accuracy_bounds(top5: np.ndarray, labels: np.ndarray,
                    scored: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Top-1 (and top-5) accuracy on the whole split, as bounds: exact (``lo == hi``) when every
    row is scored (``scored`` None: ``top5`` holds the split in order); after ``k`` of ``N`` rows
    with ``c`` right, ``[c / N, (c + N - k) / N]`` -- the other rows can only add to it."""
    n = len(labels)
    truth = labels if scored is None else labels[scored]
    left = 0 if scored is None else n - len(truth)
    hits = {"accuracy_top1": int(np.sum(top5[:, 0] == truth))}
    if top5.shape[1] >= 5:
        hits["accuracy_top5"] = int(np.sum(np.any(top5 == truth[:, None], axis=1)))
    return {m: (c / n, (c + left) / n) for m, c in hits.items()} if n else {}


def accuracy(top5: np.ndarray | None, prepared: PreparedModel, scored: np.ndarray | None = None,
             labels: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy on the held-out split (``labels``: its labels, read when not given); where only
    the rows ``scored`` were (a judging session its judge ended), the most it can be
    (:func:`accuracy_bounds`)."""
    labels = labels_of(prepared) if labels is None else labels
    if labels is None or top5 is None:
        return {}
    return {m: hi for m, (_, hi) in accuracy_bounds(top5, labels, scored).items()}


def misclassified(top5: np.ndarray, labels: np.ndarray) -> list[int]:
    """The held-out rows whose top-1 class is wrong (the first :data:`MISCLASSIFIED_KEPT`)."""
    return [int(i) for i in np.flatnonzero(top5[:, 0] != labels)[:MISCLASSIFIED_KEPT]]


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
    if first.top5 is not None and first.scored is None:  # the accuracy log of submissions: top-k per eval sample
        np.save(job.trial_dir / PREDICTIONS, first.top5)
    batch, threads = job.session.batch_size, job.session.threads
    metrics: dict[str, float] = latency_stats(measured.sessions, batch)
    labels = labels_of(prepared) if first.top5 is not None else None
    metrics.update(accuracy(first.top5, prepared, first.scored, labels))
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
    if labels is not None and first.scored is not None:  # its judge ended the scoring: accuracy at most
        info["scored"] = {"rows": int(len(first.scored)), "of": int(len(labels))}
    elif labels is not None and first.top5 is not None and len(first.top5) == len(labels):
        info["misclassified"] = misclassified(first.top5, labels)  # scored first by later judging sessions
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
