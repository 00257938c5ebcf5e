"""The settings of one LoadGen run, as plain values, as LoadGen's ``TestSettings`` and as the
``user.conf`` lines an MLPerf submission states them with."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from request_dse.protocol import MLPERF_SEEDS, LoadGenConfig

#: LoadGen's names of the scenarios.
SCENARIO_NAMES = {"single_stream": "SingleStream", "multi_stream": "MultiStream", "server": "Server",
                  "offline": "Offline"}
#: The accuracy log sampling seed of MLPerf's TEST01 audit configuration.
TEST01_SEED = 720381539243781796


@dataclass(frozen=True)
class RunSettings:
    """One LoadGen run: the scenario, the mode and the values LoadGen needs (times in ns / ms)."""

    scenario: str                     # single_stream | multi_stream | server | offline
    min_duration_ms: int
    min_query_count: int
    samples_per_query: int
    performance_sample_count: int
    expected_latency_ns: int          # single/multi stream: sizes the queries LoadGen pre-generates
    target_qps: float                 # server: the load; offline: the expected throughput
    target_latency_ns: int = 0        # server: the p99 bound
    mode: str = "performance"         # performance | accuracy

    @property
    def loadgen_scenario(self) -> str:
        return SCENARIO_NAMES[self.scenario]

    def at(self, **changes: Any) -> RunSettings:
        return dataclasses.replace(self, **changes)


def run_settings(config: LoadGenConfig, scenario: str, *, batch_time_s: float, batch_size: int,
                 samples: int, min_duration_ms: int | None = None) -> RunSettings:
    """The settings of ``scenario`` from the study's ``config`` and a warm-up estimate of one batch's
    run time (LoadGen pre-generates queries from the expected latency and throughput)."""
    per_sample_s = max(batch_time_s / batch_size, 1e-7)
    spq = config.samples_per_query if scenario == "multi_stream" else 1
    batches_per_query = -(-spq // batch_size)
    if config.target_qps is not None:
        qps = config.target_qps
    elif scenario == "offline":
        qps = 1.2 / per_sample_s      # a little over the estimate: LoadGen then issues enough samples
    else:
        qps = 0.5 / per_sample_s      # the server search starts well below the estimated capacity
    return RunSettings(
        scenario=scenario, min_duration_ms=min_duration_ms or config.min_duration_ms,
        min_query_count=config.min_queries(scenario), samples_per_query=spq,
        performance_sample_count=min(config.performance_sample_count or samples, samples),
        expected_latency_ns=max(1, int(0.5 * batches_per_query * batch_time_s * 1e9)),
        target_qps=float(qps),
        target_latency_ns=int((config.target_latency_ms or 0.0) * 1e6))


def test_settings(lg: Any, run: RunSettings) -> Any:
    """LoadGen's ``TestSettings`` for ``run`` (MLPerf's official seeds)."""
    s = lg.TestSettings()
    s.scenario = getattr(lg.TestScenario, run.loadgen_scenario)
    s.mode = lg.TestMode.AccuracyOnly if run.mode == "accuracy" else lg.TestMode.PerformanceOnly
    s.min_duration_ms = run.min_duration_ms
    s.min_query_count = run.min_query_count
    s.performance_sample_count_override = run.performance_sample_count
    for name, seed in MLPERF_SEEDS.items():
        setattr(s, name, seed)
    s.single_stream_expected_latency_ns = run.expected_latency_ns
    s.multi_stream_expected_latency_ns = run.expected_latency_ns
    s.multi_stream_samples_per_query = run.samples_per_query
    if run.scenario == "server":
        s.server_target_qps = run.target_qps
        s.server_target_latency_ns = run.target_latency_ns
    if run.scenario == "offline":
        s.offline_expected_qps = run.target_qps
    return s


def user_conf(run: RunSettings) -> str:
    """The run's settings as MLPerf's ``user.conf`` (``model.scenario.key = value``, times in ms)."""
    name = f"*.{run.loadgen_scenario}"
    lines = ["# The settings of this run, in LoadGen's user.conf format (times in ms).",
             f"{name}.min_duration = {run.min_duration_ms}", f"{name}.min_query_count = {run.min_query_count}",
             f"{name}.performance_sample_count_override = {run.performance_sample_count}"]
    if run.scenario in ("single_stream", "multi_stream"):
        lines.append(f"{name}.target_latency = {run.expected_latency_ns / 1e6:g}")
    if run.scenario == "multi_stream":
        lines.append(f"{name}.samples_per_query = {run.samples_per_query}")
    if run.scenario in ("server", "offline"):
        lines.append(f"{name}.target_qps = {run.target_qps:g}")
    if run.scenario == "server":
        lines.append(f"{name}.target_latency = {run.target_latency_ns / 1e6:g}")
    return "\n".join(lines) + "\n"


def audit_config(test: str, samples: int) -> str:
    """The audit configuration of compliance test ``test`` (TEST01, TEST04), as MLPerf ships it."""
    head = "# The format of this config file is 'key = value' (MLPerf Inference compliance test " + test + ").\n"
    if test == "TEST01":
        return head + (f"*.*.mode = 2\n*.*.accuracy_log_rng_seed = {TEST01_SEED}\n"
                       f"*.*.accuracy_log_sampling_target = {min(256, samples)}\n")
    index = 3 if samples > 3 else 0
    return head + ("*.*.mode = 2\n*.*.performance_issue_unique = 0\n*.*.performance_issue_same = 1\n"
                   f"*.*.performance_issue_same_index = {index}\n")
