"""95% intervals of a candidate's metrics, from its raw samples: what "within noise" means.

* latency percentiles (p50/p90/p99): distribution-free confidence interval of the quantile
  from order statistics of the pooled samples, widened to cover the same percentile of every
  session (a process can land in a slow mode that no number of runs inside it reveals);
* mean latency: normal interval of the mean over the samples, widened to the t interval over
  the sessions' means (sessions are the independent units) and to every session's mean;
* throughput, energy and cost follow the mean latency they are computed from;
* accuracy is exact: the same artifact on the same data gives the same answer.

Intervals are ``(low, high, method)`` in the metric's own units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from request_dse.evaluate.stats import quantile_ci

Interval = tuple[float, float, str]

QUANTILES = {"latency_p50_ms": 0.50, "latency_p90_ms": 0.90, "latency_p99_ms": 0.99}
EXACT = ("accuracy_top1", "accuracy_top5", "model_size_bytes", "artifact_size_bytes", "params", "flops")
Z95 = 1.959963984540054


def _session_quantile(ms: np.ndarray, q: float) -> float:
    if q == 0.5:
        return float(np.median(ms))
    s = np.sort(ms)
    return float(s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))])


def latency_intervals(sessions_ns: Sequence[np.ndarray], metrics: Mapping[str, float],
                      batch_size: int) -> dict[str, Interval]:
    """Intervals of the latency-derived metrics in ``metrics`` from the samples they came from."""
    per_session = [np.asarray(s, dtype=np.float64) / 1e6 for s in sessions_ns if len(s)]
    if not per_session:
        return {}
    ms = np.sort(np.concatenate(per_session))
    many = len(per_session) > 1
    out: dict[str, Interval] = {}
    for name, q in QUANTILES.items():
        if name not in metrics:
            continue
        lo, hi = quantile_ci(ms, q)
        if many:
            per = [_session_quantile(s, q) for s in per_session]
            lo, hi = min(lo, *per), max(hi, *per)
        value = metrics[name]
        out[name] = (min(lo, value), max(hi, value),
                     f"95% order-statistic CI of the {round(q * 100)}th percentile over {len(ms)} samples"
                     + (f", widened to {len(per_session)} sessions" if many else ""))
    if "latency_p50_ms" in out and "latency_per_sample_ms" in metrics:
        lo, hi, _ = out["latency_p50_ms"]
        out["latency_per_sample_ms"] = (lo / batch_size, hi / batch_size, "the median's interval per sample")
    mean = float(ms.mean())
    half = Z95 * (float(ms.std(ddof=1)) if len(ms) > 1 else 0.0) / math.sqrt(len(ms))
    lo, hi = mean - half, mean + half
    if many:  # sessions are the independent units: samples within one share its load and its mode
        from scipy.stats import t

        means = np.array([float(s.mean()) for s in per_session])
        half_sessions = float(t.ppf(0.975, len(means) - 1)) * float(means.std(ddof=1)) / math.sqrt(len(means))
        lo, hi = min(lo, mean - half_sessions, *means), max(hi, mean + half_sessions, *means)
    lo, hi = max(lo, float(ms[0])), min(hi, float(ms[-1]))  # a mean lies between the extremes
    if "latency_mean_ms" in metrics:
        out["latency_mean_ms"] = (lo, hi, f"95% normal CI of the mean over {len(ms)} samples"
                                  + (f", widened to {len(per_session)} sessions" if many else ""))
    ratio_lo, ratio_hi = lo / mean, hi / mean
    if "throughput_ips" in metrics:
        v = metrics["throughput_ips"]
        out["throughput_ips"] = (v / ratio_hi, v / ratio_lo, "from the mean latency's interval")
    for name in ("energy_mj_per_inference", "cost_usd_per_1m"):
        if name in metrics:
            v = metrics[name]
            out[name] = (v * ratio_lo, v * ratio_hi, "scaled with the mean latency's interval")
    return out


def metric_intervals(sessions_ns: Sequence[np.ndarray] | None, metrics: Mapping[str, float],
                     batch_size: int) -> dict[str, Interval]:
    """Intervals of every metric that has one: exact for accuracy, measured for latency."""
    out: dict[str, Interval] = {m: (metrics[m], metrics[m], "exact: deterministic for the same artifact and data")
                                for m in EXACT if m in metrics}
    if sessions_ns:
        out.update(latency_intervals(sessions_ns, metrics, batch_size))
    return out


def objective_bounds(metrics: Mapping[str, float], intervals: Mapping[str, Interval],
                     names: Sequence[str]) -> tuple[list[float], list[float], list[float]]:
    """(values, lows, highs) of the objectives; an objective without an interval is exact."""
    values = [float(metrics[n]) for n in names]
    lows = [float(intervals[n][0]) if n in intervals else v for n, v in zip(names, values)]
    highs = [float(intervals[n][1]) if n in intervals else v for n, v in zip(names, values)]
    return values, lows, highs
