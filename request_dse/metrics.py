"""The metrics a trial reports, and the derived ones (energy, cost, footprint).

Every metric a study may name in its objectives or constraints is declared in :data:`METRICS`
with its unit and the direction that is better, so a typo in a study file is caught at load.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Objective:
    """A metric and the direction a study optimizes it in."""

    metric: str
    direction: str  # "minimize" | "maximize"


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    better: Literal["minimize", "maximize"]
    description: str


def _m(name: str, unit: str, better: str, description: str) -> tuple[str, Metric]:
    return name, Metric(name, unit, better, description)  # type: ignore[arg-type]


METRICS: Mapping[str, Metric] = dict([
    _m("accuracy_top1", "fraction", "maximize", "top-1 accuracy of the built candidate on the held-out split"),
    _m("accuracy_top5", "fraction", "maximize", "top-5 accuracy on the held-out split"),
    _m("latency_p50_ms", "ms", "minimize", "median latency of one batch"),
    _m("latency_p90_ms", "ms", "minimize", "90th percentile latency of one batch"),
    _m("latency_p99_ms", "ms", "minimize", "99th percentile latency of one batch"),
    _m("latency_mean_ms", "ms", "minimize", "mean latency of one batch"),
    _m("latency_std_ms", "ms", "minimize", "standard deviation of the batch latency"),
    _m("latency_cv", "ratio", "minimize", "coefficient of variation of the batch latency"),
    _m("latency_p50_ci_low_ms", "ms", "minimize", "lower end of the 95% confidence interval of the median"),
    _m("latency_p50_ci_high_ms", "ms", "minimize", "upper end of the 95% confidence interval of the median"),
    _m("latency_per_sample_ms", "ms", "minimize", "median batch latency divided by the batch size"),
    _m("throughput_ips", "inferences/s", "maximize", "samples per second at the measured batch size"),
    _m("energy_mj_per_inference", "mJ", "minimize", "energy per sample (measured, or estimated from the target's power model)"),
    _m("cost_usd_per_1m", "USD", "minimize", "cost of one million inferences at the target's hourly price"),
    _m("model_size_bytes", "bytes", "minimize", "size of the model file the candidate was built from"),
    _m("artifact_size_bytes", "bytes", "minimize", "size of what the backend built"),
    _m("memory_peak_mb", "MB", "minimize", "peak resident memory added by loading and running the candidate"),
    _m("params", "count", "minimize", "number of model parameters"),
    _m("flops", "count", "minimize", "multiply-accumulates per sample"),
    _m("build_time_s", "s", "minimize", "time to build the candidate (tuning included)"),
    _m("tuning_time_s", "s", "minimize", "time spent auto-tuning schedules during the build"),
    _m("env_time_s", "s", "minimize", "time to create the candidate's software environment (0 when it existed)"),
    _m("load_time_s", "s", "minimize", "time to load the built artifact for inference"),
    _m("measure_time_s", "s", "minimize", "wall time of the measurement sessions"),
    _m("samples", "count", "maximize", "number of timed runs behind the latency figures"),
    # The loadgen protocol (MLPerf LoadGen): figures LoadGen itself reports, per scenario (LOADGEN_METRICS).
    _m("loadgen_p50_ms", "ms", "minimize", "LoadGen: median latency of a query"),
    _m("loadgen_p90_ms", "ms", "minimize", "LoadGen: 90th percentile latency of a query"),
    _m("loadgen_p99_ms", "ms", "minimize", "LoadGen: 99th percentile latency of a query"),
    _m("loadgen_mean_ms", "ms", "minimize", "LoadGen: mean latency of a query"),
    _m("loadgen_p90_estimate_ms", "ms", "minimize",
       "LoadGen: early-stopping estimate of the 90th percentile (the SingleStream result)"),
    _m("loadgen_p99_estimate_ms", "ms", "minimize",
       "LoadGen: early-stopping estimate of the 99th percentile (the MultiStream result)"),
    _m("server_qps", "queries/s", "maximize", "LoadGen: the highest Server QPS found whose run met the p99 bound"),
    _m("offline_ips", "inferences/s", "maximize", "LoadGen: samples per second in the Offline scenario"),
    _m("loadgen_score", "queries/s", "maximize",
       "LoadGen: the scenario's result as a rate (1/latency estimate for SingleStream and MultiStream, "
       "samples per second for Server and Offline), as MLPerf's compliance checks compare runs"),
    _m("loadgen_valid", "boolean", "maximize",
       "LoadGen: 1 when LoadGen judged the run valid (duration, query count, early stopping, latency bound)"),
])

_STREAMS = ("single_stream", "multi_stream")
_ALL = ("single_stream", "multi_stream", "server", "offline")
#: The scenarios in which LoadGen reports each loadgen metric.
LOADGEN_METRICS: Mapping[str, tuple[str, ...]] = {
    "loadgen_p50_ms": _STREAMS + ("server",), "loadgen_p90_ms": _STREAMS + ("server",),
    "loadgen_p99_ms": _STREAMS + ("server",), "loadgen_mean_ms": _STREAMS + ("server",),
    "loadgen_p90_estimate_ms": ("single_stream",), "loadgen_p99_estimate_ms": _STREAMS,
    "server_qps": ("server",), "offline_ips": ("offline",), "loadgen_score": _ALL, "loadgen_valid": _ALL,
}


def derive(latency_mean_s: float, batch_size: int, threads: int, *, cost_per_hour_usd: float | None,
           idle_w: float | None, per_core_w: float | None, measured_energy_j: float | None = None) -> dict[str, float]:
    """Energy and cost per inference from a mean batch latency and the target's models.

    ``measured_energy_j`` (joules per batch) wins over the power model when a counter was read.
    """
    per_sample_s = latency_mean_s / batch_size
    out: dict[str, float] = {}
    if measured_energy_j is not None:
        out["energy_mj_per_inference"] = measured_energy_j / batch_size * 1e3
    elif idle_w is not None and per_core_w is not None:
        out["energy_mj_per_inference"] = (idle_w + per_core_w * threads) * per_sample_s * 1e3
    if cost_per_hour_usd is not None:
        out["cost_usd_per_1m"] = cost_per_hour_usd / 3600.0 * per_sample_s * 1e6
    return out
