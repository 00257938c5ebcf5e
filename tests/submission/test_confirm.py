"""The confirm phase: a lucky measurement never becomes a submission; noise-aware ranks and ties."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from request_dse import results as pareto
from request_dse.evaluate import latency_stats
from request_dse.evaluate.intervals import metric_intervals, quantile_ci
from request_dse.execute import make_executor
from request_dse.results import save_samples
from request_dse.search import records
from request_dse.submission.confirm import ConfirmPhase
from request_dse.submission.confirmed import stored
from request_dse.targets import SessionResult
from request_dse.testing.studies import run_study
from tests.conftest import FAST_MEASURE

LUCKY_MS = 0.001


@pytest.fixture(scope="module")
def noisy_study(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Two candidates of the same model: plain, and one with random extra latency (up to 2 ms a run)."""
    import yaml

    from tests.conftest import study_doc

    tmp = tmp_path_factory.mktemp("noisy")
    path = tmp / "noisy.yaml"
    path.write_text(yaml.safe_dump(study_doc(
        "noisy", frameworks={"faults": {"fault": ["none", "noisy"]}}, sampler={"name": "grid"}, budget={"trials": 2},
        space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                              "model.precision": ["fp32"]}},
        measure={**FAST_MEASURE, "min_runs": 20})))
    search = run_study(path)
    done = [r for r in records(search.study) if r.measured]
    assert sorted(r.params["faults.fault"] for r in done) == ["noisy", "none"]
    assert all(r.status == "ok" for r in done)
    return search.plan, search.study, done


def make_lucky(rec, tmp: Path):  # type: ignore[no-untyped-def]
    """The record as if one measurement had been extraordinarily lucky (samples and figures)."""
    samples = np.full(20, int(LUCKY_MS * 1e6), dtype=np.int64)
    path = save_samples(tmp / "lucky-samples.npz", [SessionResult(samples, 0.0, 0.0, 0.0)])
    metrics = {**rec.metrics, **latency_stats([SessionResult(samples, 0.0, 0.0, 0.0)], 1)}
    return dataclasses.replace(rec, metrics=metrics, paths={**rec.paths, "samples": str(path)})


def test_a_lucky_measurement_does_not_become_a_submission(noisy_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    plan, study, done = noisy_study
    noisy = next(r for r in done if r.params["faults.fault"] == "noisy")
    plain = next(r for r in done if r.params["faults.fault"] == "none")
    lucky = make_lucky(noisy, tmp_path)
    figures = [lucky if r.number == noisy.number else r for r in done]

    # without confirmation the lucky figure wins: it certainly dominates the plain candidate
    unconfirmed = ConfirmPhase(plan, study, None).run(figures, enabled=False)
    assert [p.record.number for p in unconfirmed.front] == [noisy.number]

    lines: list[str] = []
    executor = make_executor(plan)
    try:
        outcome = ConfirmPhase(plan, study, executor, repeats=3, echo=lines.append).run(figures)
    finally:
        executor.shutdown()
    confirmed = {c.trial: c for c in outcome.confirmed}
    assert noisy.number in confirmed and confirmed[noisy.number].sessions >= 3   # more where a spell was set aside
    assert confirmed[noisy.number].metrics["latency_p90_ms"] > 100 * LUCKY_MS
    # the plain candidate, hidden by the lucky figure, came back to the front and was confirmed too
    assert plain.number in [p.record.number for p in outcome.front] and plain.number in confirmed
    for point in outcome.front:
        assert point.confirmed
        assert point.metrics == confirmed[point.record.number].metrics
        assert point.metrics["latency_p90_ms"] != lucky.metrics["latency_p90_ms"]
        if point.record.number == noisy.number:
            assert point.metrics["latency_p90_ms"] > 100 * LUCKY_MS
    assert any("confirming" in line for line in lines)

    # stored in the study: a later export reuses them without measuring
    assert {noisy.hash, plain.hash} <= set(stored(study))
    again = ConfirmPhase(plan, study, None, repeats=3).run(figures)
    assert again.confirmed == [] and [p.record.number for p in again.front] == [p.record.number for p in outcome.front]


def test_emitted_without_confirmation_says_so(noisy_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from request_dse.submission import read_bundle
    from request_dse.submission.emit import emit_records

    plan, study, done = noisy_study
    outcome, paths = emit_records(plan, study, done, confirm=False, out=tmp_path / "out")
    assert paths and not outcome.enabled
    for path in paths:
        bundle = read_bundle(path)
        assert bundle.pareto["confirmed"] is False and bundle.submission["measurement"]["confirm"] is None
        assert bundle.submission["measurement"]["sessions"] == 1


def test_noise_aware_ranks_and_ties() -> None:
    directions = ["maximize", "minimize"]
    values = np.array([[0.90, 1.00], [0.90, 1.05], [0.90, 2.00], [0.95, 3.00]])
    lows = np.array([[0.90, 0.90], [0.90, 0.95], [0.90, 1.90], [0.95, 2.90]])
    highs = np.array([[0.90, 1.10], [0.90, 1.15], [0.90, 2.10], [0.95, 3.10]])
    result = pareto.noisy_front(values, lows, highs, directions)
    assert list(result.ranks) == [1, 1, 2, 1]                 # C is beaten beyond the noise; B is not
    assert list(result.point_front) == [True, False, False, True]
    assert result.dominated_within_noise_by[1] == [0]          # B looks worse than A, within noise
    assert result.ties[0] == [1] and result.ties[1] == [0]     # intervals overlap everywhere
    assert result.ties[3] == [] and result.dominated_within_noise_by[3] == []
    assert list(result.front) == [0, 1, 3]


def test_certain_dominance_needs_a_gap() -> None:
    assert pareto.certainly_dominates(np.array([1.0, 1.0]), np.array([1.0, 1.5]))
    assert not pareto.certainly_dominates(np.array([1.0, 1.6]), np.array([1.0, 1.5]))
    assert not pareto.certainly_dominates(np.array([1.0, 1.0]), np.array([1.0, 1.0]))


def test_intervals_from_samples() -> None:
    rng = np.random.default_rng(0)
    sessions = [rng.normal(1e6, 1e4, 400).astype(np.int64), rng.normal(1.2e6, 1e4, 400).astype(np.int64)]
    metrics = {**latency_stats([SessionResult(s, 0, 0, 0) for s in sessions], 1), "accuracy_top1": 0.9}
    iv = metric_intervals(sessions, metrics, 1)
    assert iv["accuracy_top1"][:2] == (0.9, 0.9)
    for name in ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms", "throughput_ips"):
        low, high, how = iv[name]
        assert low <= metrics[name] <= high, name
    # widened to cover each session's median: the slow session's median is inside
    assert iv["latency_p50_ms"][1] >= np.median(sessions[1] / 1e6) - 1e-12
    ms = np.sort(rng.normal(5.0, 1.0, 2000))
    low, high = quantile_ci(ms, 0.9)
    assert low < np.quantile(ms, 0.9) < high and high - low < 0.5
