"""A study's ``measure:``: its fields, and the record it becomes.

``measure.protocol`` picks who times a candidate (``request-dse``, the default, or ``loadgen``);
with ``loadgen``, ``measure.scenario`` is one of LoadGen's scenarios or a list of them (then the
scenario is a dimension of the study, and the Pareto front is kept per scenario), and
``measure.loadgen`` holds the scenario's settings. Every rule that ties the protocol to the
study's objectives and constraints is checked here, when the study is read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from request_dse.fields import AnyOf, Bool, Choice, Ctx, Field, Float, Int, ListOf, Record
from request_dse.metrics import LOADGEN_METRICS
from request_dse.protocol import PROTOCOLS, SCENARIOS, EarlyStopConfig, LoadGenConfig, MeasureConfig

_POSITIVE = Float(low=0, low_exclusive=True)

MEASURE = Record({
    "warmup_runs": Field(Int(low=0), 10), "min_runs": Field(Int(low=1), 64),
    "min_time_s": Field(Float(low=0), 0.2), "max_runs": Field(Int(low=1), 10_000),
    "max_time_s": Field(_POSITIVE, 5.0), "repeats": Field(Int(low=1, high=100), 3),
    "timeout_s": Field(_POSITIVE, 120.0),
    "memory_limit_mb": Field(Int(low=64), 4096),
    "early_stop": Field(Record({"enabled": Field(Bool(), False), "first_runs": Field(Int(low=2), 16),
                                "first_time_s": Field(Float(low=0), 0.01),
                                "margin": Field(Float(low=0), 0.1),
                                "confirm_within": Field(Float(low=0), 0.5),
                                "defer": Field(Int(low=0, high=10_000), 0)}), None),
    "protocol": Field(Choice(PROTOCOLS), "request-dse"),
    "scenario": Field(AnyOf(((lambda v: isinstance(v, list), ListOf(Choice(SCENARIOS), min_len=1, unique=True)),
                             (lambda v: True, Choice(SCENARIOS))),
                            hint="a LoadGen scenario or a list of them"), None),
    "loadgen": Field(Record({
        "min_duration_ms": Field(Int(low=1), 1000), "min_query_count": Field(Int(low=1), None),
        "target_latency_ms": Field(_POSITIVE, None), "target_qps": Field(_POSITIVE, None),
        "samples_per_query": Field(Int(low=1, high=4096), 8),
        "performance_sample_count": Field(Int(low=1), None),
        "server_search_s": Field(_POSITIVE, 30.0), "confirm_min_duration_ms": Field(Int(low=1), None),
    }), None),
    "session_tolerance": Field(Float(low=0), 0.05),
    "max_extra_sessions": Field(Int(low=0, high=20), 3),
    "settle_span_s": Field(Float(low=0, high=60), 0.0),
})


def measure_config(doc: Mapping[str, Any] | None, ctx: Ctx) -> tuple[MeasureConfig, tuple[str, ...]]:
    """The protocol record of a validated ``measure:`` document, and the scenarios it lists
    (empty unless the protocol is ``loadgen``)."""
    doc = dict(doc or {})
    plain = {k: v for k, v in doc.items() if v is not None and k not in ("early_stop", "scenario", "loadgen")}
    measure = MeasureConfig(**plain)
    if doc.get("early_stop"):
        measure = replace(measure, early_stop=EarlyStopConfig(**doc["early_stop"]))
    if measure.min_runs > measure.max_runs:
        raise ctx.error(f"`min_runs <= max_runs` must hold; got min_runs={measure.min_runs}, "
                        f"max_runs={measure.max_runs}")
    if measure.min_time_s > measure.max_time_s:
        raise ctx.error(f"`min_time_s <= max_time_s` must hold; got min_time_s={measure.min_time_s}, "
                        f"max_time_s={measure.max_time_s}")
    settings = LoadGenConfig(**{k: v for k, v in (doc.get("loadgen") or {}).items() if v is not None})
    if not measure.uses_loadgen:  # the defaults are accepted: what a protocol record writes out reads back
        for key, default in (("scenario", doc.get("scenario") in (None, "single_stream")),
                             ("loadgen", settings == LoadGenConfig())):
            if not default:
                raise ctx.at(key).error("applies to the loadgen protocol only (set `protocol: loadgen`)")
        return measure, ()
    scenario = doc.get("scenario") or "single_stream"
    scenarios = tuple(scenario) if isinstance(scenario, list) else (scenario,)
    if "server" in scenarios and settings.target_latency_ms is None:
        raise ctx.at("loadgen").at("target_latency_ms").error(
            "is required with the server scenario (the p99 latency bound the served QPS must meet)")
    if len(scenarios) > 1 and measure.early_stop.enabled:
        raise ctx.at("early_stop").error("compares a candidate with one front; a study with several scenarios "
                                         "keeps one front per scenario (list one scenario, or turn it off)")
    return replace(measure, scenario=scenarios[0], loadgen=settings), scenarios


def check_metrics(measure: MeasureConfig, scenarios: Sequence[str], named: Sequence[tuple[Ctx, str]]) -> None:
    """Every LoadGen metric an objective or constraint names is one the study's protocol and
    every one of its scenarios report."""
    for ctx, metric in named:
        if metric not in LOADGEN_METRICS:
            continue
        if not measure.uses_loadgen:
            raise ctx.error(f"{metric} is measured by MLPerf LoadGen: set `measure.protocol: loadgen`")
        missing = [s for s in scenarios if s not in LOADGEN_METRICS[metric]]
        if missing:
            raise ctx.error(f"{metric} is reported in the {' and '.join(LOADGEN_METRICS[metric])} scenario(s) only, "
                            f"not in {', '.join(missing)} (measure.scenario)")
