"""A study as validated frozen records: what to explore, what to optimize, how to measure it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.expr import MetricConstraint
from request_dse.metrics import Objective
from request_dse.protocol import SPAN_S, MeasureConfig
from request_dse.workloads import WorkloadRef

SAMPLERS = ("default", "nsga2", "nsga3", "tpe", "gp", "random", "grid")
EXECUTORS = ("inline", "local", "ray")
#: Option names each sampler accepts from ``sampler.options`` (others are rejected, not dropped).
SAMPLER_OPTIONS: dict[str, tuple[str, ...]] = {
    "default": ("population_size", "warm_start", "n_startup", "n_trees", "kappa", "margin"),
    "nsga2": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "nsga3": ("population_size", "mutation_prob", "crossover_prob", "swapping_prob"),
    "tpe": ("n_startup_trials", "n_ei_candidates", "multivariate", "group", "constant_liar"),
    "gp": ("n_startup_trials", "deterministic_objective"),
    "random": (),
    "grid": (),
}


@dataclass(frozen=True)
class BuildConfig:
    timeout_s: float = 600.0
    memory_limit_mb: int = 8192
    workers: int | None = None  # None: one per build core


@dataclass(frozen=True)
class SamplerConfig:
    name: str = "default"
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackingConfig:
    enabled: bool = True
    uri: str | None = None
    experiment: str | None = None
    cpu_share: float = 0.05    # the most of one core the sending process uses while the study runs


@dataclass(frozen=True)
class ConfirmConfig:
    enabled: bool = True
    repeats: int = 3
    span_s: float = SPAN_S     # the wall time a confirmation's sessions spread over, at least


@dataclass(frozen=True)
class Study:
    name: str
    source: Path
    workload: WorkloadRef
    target: str
    frameworks: Mapping[str, Mapping[str, Any]]  # backend -> flag overrides
    space_include: tuple[str, ...]
    space_dimensions: Mapping[str, Any]
    space_constraints: tuple[str, ...]
    objectives: tuple[Objective, ...]
    constraints: tuple[MetricConstraint, ...]
    reference_point: Mapping[str, float]
    trials: int
    time_budget_s: float | None
    sampler: SamplerConfig
    measure: MeasureConfig
    build: BuildConfig
    storage: str | None
    work_dir: Path
    executor: str
    executor_options: Mapping[str, Any]
    tracking: TrackingConfig
    confirm: ConfirmConfig
    submissions_dir: Path | None
    cache: bool
    description: str = ""
    environment_extra: Mapping[str, str] = field(default_factory=dict)  # package -> version or specifier
    #: LoadGen scenarios when the study lists several: the dimension ``measure.scenario``.
    scenarios: tuple[str, ...] = ()

    @property
    def metric_names(self) -> tuple[str, ...]:
        return tuple(o.metric for o in self.objectives)
