"""Statistics of what the measurement sessions of a candidate timed.

:func:`latency_stats` pools the sessions: p50/p90/p99, mean, standard deviation, coefficient
of variation, throughput, and a distribution-free 95% confidence interval of the median
(order statistics), widened to cover the spread of the per-session medians.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from request_dse.targets import SessionResult


def binom_ppf(p: float, n: int, q: float) -> int:
    """The ``p`` quantile of the binomial distribution B(``n``, ``q``): the smallest k with
    P(X <= k) >= p (``scipy.stats.binom.ppf``, without importing SciPy in a measurement worker)."""
    if n <= 0 or q <= 0.0:
        return 0
    if q >= 1.0:
        return n
    k = np.arange(n + 1)
    log_factorial = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    log_pmf = log_factorial[n] - log_factorial - log_factorial[::-1] + k * math.log(q) + (n - k) * math.log1p(-q)
    cdf = np.cumsum(np.exp(log_pmf))
    return int(min(n, np.searchsorted(cdf, p - 1e-12)))


def quantile_ci(sorted_ms: np.ndarray, q: float, level: float = 0.95) -> tuple[float, float]:
    """Order-statistic confidence interval of the ``q`` quantile (the whole range below 6 samples)."""
    n = len(sorted_ms)
    if n < 6:
        return float(sorted_ms[0]), float(sorted_ms[-1])
    alpha = (1 - level) / 2
    lo = binom_ppf(alpha, n, q)
    hi = binom_ppf(1 - alpha, n, q)
    return float(sorted_ms[max(lo - 1, 0)]), float(sorted_ms[min(hi, n - 1)])


def median_ci(sorted_ms: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics."""
    return quantile_ci(sorted_ms, 0.5, level)


def nearest_rank(sorted_ms: np.ndarray, p: float) -> float:
    """The smallest sample at or above fraction ``p`` of all samples (nearest-rank percentile)."""
    n = len(sorted_ms)
    return float(sorted_ms[min(n - 1, max(0, math.ceil(p * n) - 1))])


def latency_stats(sessions: Sequence[SessionResult], batch_size: int) -> dict[str, float]:
    """Latency metrics of one candidate over all its sessions (milliseconds per batch).

    p90 and p99 are nearest-rank percentiles (a sample that was actually observed); p50 is
    the interpolated median."""
    per_session = [s.samples_ns / 1e6 for s in sessions]
    ms = np.sort(np.concatenate(per_session))
    mean = float(ms.mean())
    std = float(ms.std(ddof=1)) if len(ms) > 1 else 0.0
    lo, hi = median_ci(ms)
    medians = [float(np.median(s)) for s in per_session]
    p50 = float(np.percentile(ms, 50))
    return {
        "latency_p50_ms": p50,
        "latency_p90_ms": nearest_rank(ms, 0.90),
        "latency_p99_ms": nearest_rank(ms, 0.99),
        "latency_mean_ms": mean,
        "latency_std_ms": std,
        "latency_cv": std / mean if mean > 0 else 0.0,
        "latency_p50_ci_low_ms": min(lo, *medians),
        "latency_p50_ci_high_ms": max(hi, *medians),
        "latency_per_sample_ms": p50 / batch_size,
        "throughput_ips": batch_size / (mean / 1e3) if mean > 0 else 0.0,
        "samples": float(len(ms)),
    }


def session_spread(sessions: Sequence[SessionResult]) -> float | None:
    """How far apart a candidate's sessions landed: the slowest session's p90 over the fastest's,
    minus one (0.3: 30% apart); None with fewer than two sessions."""
    p90s = [nearest_rank(np.sort(s.samples_ns), 0.90) for s in sessions if len(s.samples_ns)]
    if len(p90s) < 2 or min(p90s) <= 0:
        return None
    return float(max(p90s) / min(p90s) - 1.0)
