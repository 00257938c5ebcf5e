"""The measurement protocol and its statistics."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binom

from request_dse.evaluate.stats import binom_ppf, latency_stats, median_ci
from request_dse.metrics import derive
from request_dse.protocol import MeasureConfig
from request_dse.results import load_samples, save_samples
from request_dse.targets import SessionResult
from request_dse.targets.session import run_session
from request_dse.testing.backend_conformance import build_inline, candidates, plan_for


def _session(ms: list[float]) -> SessionResult:
    return SessionResult(np.asarray(np.array(ms) * 1e6, dtype=np.int64), 0.0, 0.0, 0.0)


def test_percentiles_mean_cv_and_throughput() -> None:
    stats = latency_stats([_session(list(range(1, 101)))], batch_size=4)
    assert stats["latency_p50_ms"] == pytest.approx(50.5)
    assert stats["latency_p90_ms"] == 90 and stats["latency_p99_ms"] == 99
    assert stats["latency_mean_ms"] == pytest.approx(50.5)
    assert stats["latency_cv"] == pytest.approx(np.std(np.arange(1, 101), ddof=1) / 50.5)
    assert stats["throughput_ips"] == pytest.approx(4 / 0.0505)
    assert stats["latency_per_sample_ms"] == pytest.approx(50.5 / 4)
    assert stats["samples"] == 100


def test_median_ci_covers_the_median_at_its_level() -> None:
    """Order-statistic intervals: over many samples of a skewed distribution, ~95% coverage."""
    rng = np.random.default_rng(0)
    true_median = np.log(2)  # exponential(1)
    hits = 0
    for _ in range(400):
        lo, hi = median_ci(np.sort(rng.exponential(size=64)))
        hits += lo <= true_median <= hi
    assert 0.92 <= hits / 400 <= 0.99
    n = 64
    assert binom.cdf(int(binom.ppf(0.975, n, 0.5)), n, 0.5) >= 0.975


@pytest.mark.parametrize("q", [0.5, 0.9, 0.99])
def test_binomial_quantile_is_scipys(q: float) -> None:
    """Measurement workers judge a candidate without importing SciPy (0.7 s): the same order statistics."""
    for n in [*range(1, 200), 1000, 4096, 65536]:
        for p in (0.025, 0.975):
            assert binom_ppf(p, n, q) == int(binom.ppf(p, n, q)), (p, n, q)
    assert binom_ppf(0.5, 0, q) == 0 and binom_ppf(0.5, 10, 0.0) == 0 and binom_ppf(0.5, 10, 1.0) == 10


def test_ci_widens_to_cover_every_session_median() -> None:
    fast, slow = _session([1.0] * 50), _session([1.5] * 50)
    stats = latency_stats([fast, slow], batch_size=1)
    assert stats["latency_p50_ci_low_ms"] <= 1.0 and stats["latency_p50_ci_high_ms"] >= 1.5


def test_samples_round_trip(tmp_path: Path) -> None:
    sessions = [_session([1.0, 2.0]), _session([3.0])]
    path = save_samples(tmp_path / "s.npz", sessions)
    loaded = load_samples(path)
    assert [list(s) for s in loaded] == [[1_000_000, 2_000_000], [3_000_000]]


def test_derived_energy_and_cost() -> None:
    out = derive(0.002, batch_size=2, threads=2, cost_per_hour_usd=3.6, idle_w=10, per_core_w=5)
    assert out["energy_mj_per_inference"] == pytest.approx((10 + 5 * 2) * 0.001 * 1e3)
    assert out["cost_usd_per_1m"] == pytest.approx(3.6 / 3600 * 0.001 * 1e6)
    measured = derive(0.002, 2, 2, cost_per_hour_usd=None, idle_w=10, per_core_w=5, measured_energy_j=0.05)
    assert measured == {"energy_mj_per_inference": pytest.approx(25.0)}


@pytest.mark.parametrize(("min_runs", "min_time_s", "max_runs"), [(30, 0.0, 1000), (5, 0.3, 100000), (10, 5.0, 40)])
def test_protocol_stops_when_both_minimums_are_met(tmp_path: Path, min_runs: int, min_time_s: float,
                                                   max_runs: int) -> None:
    plan = plan_for(tmp_path, "onnxruntime", "local-cpu")
    job, build = build_inline(plan, candidates(plan)[0], tmp_path)
    protocol = MeasureConfig(warmup_runs=3, min_runs=min_runs, min_time_s=min_time_s, max_runs=max_runs,
                             max_time_s=5.0, repeats=1)
    request = dataclasses.replace(job.session, artifact_dir=build.artifact_dir, prepared=build.prepared,
                                  protocol=protocol, score=False)
    result = run_session(request)
    n = len(result.samples_ns)
    total_s = result.samples_ns.sum() / 1e9
    assert n <= max_runs
    if n < max_runs:
        assert n >= min_runs and total_s >= min_time_s * 0.9  # the rest is loop overhead between runs
    assert result.check_outputs is None and result.top5 is None  # score=False: timing only
