"""Confirmations, and the noise-aware front they make: what the confirm phase measured, stored in
the study, and how the final front is judged on it (ranks, ties, "dominated within noise").

See :mod:`.confirm` for the phase itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from request_dse import sysinfo
from request_dse.evaluate import Interval, loadgen_intervals, metric_intervals, objective_bounds
from request_dse.protocol import SCENARIO_DIMENSION, MeasureConfig
from request_dse.results import TrialRecord, load_samples, noisy_front
from request_dse.space import Candidate
from request_dse.study import Plan

ATTR_PREFIX = "confirmed:"
#: Rounds of confirm-then-recompute before giving up (each round confirms every new front member).
MAX_ROUNDS = 10


@dataclass(frozen=True)
class Confirmation:
    """The fresh measurement of one candidate, as stored in the study."""

    hash: str
    trial: int
    status: str
    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    trial_dir: str
    sessions: int
    fingerprint: str
    protocol: str
    error: str = ""
    created: str = ""
    artifact: str = ""

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Confirmation:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in doc.items() if k in fields}
        values["intervals"] = {k: (float(v[0]), float(v[1]), str(v[2])) for k, v in doc.get("intervals", {}).items()}
        return cls(**values)

    @property
    def samples_path(self) -> Path:
        return Path(self.trial_dir) / "samples.npz"


@dataclass(frozen=True)
class Point:
    """One candidate of the final analysis: its figures (confirmed or not) and where it stands."""

    record: TrialRecord
    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    confirmation: Confirmation | None
    rank: int = 0
    dominated_within_noise_by: tuple[int, ...] = ()   # trial numbers
    ties: tuple[int, ...] = ()                         # trial numbers

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None

    @property
    def artifact_dir(self) -> Path | None:
        if self.confirmation is not None and self.confirmation.artifact:
            return Path(self.confirmation.artifact)
        path = self.record.paths.get("artifact")
        return Path(path) if path else None

    @property
    def samples_path(self) -> Path | None:
        if self.confirmation is not None:
            return self.confirmation.samples_path
        path = self.record.paths.get("samples")
        return Path(path) if path else None


@dataclass
class ConfirmOutcome:
    """The front after the confirm phase (``front``: rank-1 points, confirmed where enabled)."""

    front: list[Point] = field(default_factory=list)
    confirmed: list[Confirmation] = field(default_factory=list)    # measured in this run
    dropped: list[tuple[TrialRecord, str]] = field(default_factory=list)  # taken off the front, and why
    enabled: bool = True


def machine_fingerprint() -> str:
    """CPU, ISA features, library versions and the machine's CPU count: what must match for a
    stored confirmation to stand (not the cores this process is pinned to at the moment)."""
    return sysinfo.fingerprint({**sysinfo.environment(), "cores": os.cpu_count()})


def confirm_protocol(protocol: MeasureConfig, repeats: int, span_s: float = 0.0) -> MeasureConfig:
    """What the confirm phase measures with: ``repeats`` sessions spread over ``span_s`` of wall
    time at least (:mod:`request_dse.evaluate.repeatability`) and, with LoadGen, the study's full
    run length (``loadgen.confirm_min_duration_ms``)."""
    settings = protocol.loadgen
    if protocol.uses_loadgen and settings.confirm_min_duration_ms is not None:
        settings = dataclasses.replace(settings, min_duration_ms=settings.confirm_min_duration_ms)
    return dataclasses.replace(protocol, repeats=repeats, loadgen=settings).spread(span_s)


def protocol_key(plan: Plan, repeats: int) -> str:
    return repr(confirm_protocol(plan.study.measure, repeats, plan.study.confirm.span_s))


def stored(study: Any) -> dict[str, Confirmation]:
    """The confirmations kept in a study's storage, by candidate hash."""
    out = {}
    for key, value in study.user_attrs.items():
        if key.startswith(ATTR_PREFIX) and isinstance(value, Mapping):
            try:
                out[key[len(ATTR_PREFIX):]] = Confirmation.from_json(value)
            except (TypeError, ValueError, KeyError, IndexError):
                continue
    return out


def load_sessions(path: Path | None) -> list[np.ndarray] | None:
    """The raw samples of a trial's sessions, or None when they are gone or unreadable."""
    if path is None or not path.is_file():
        return None
    try:
        return load_samples(path)
    except (OSError, ValueError, KeyError, IndexError):
        return None


def original_intervals(plan: Plan, rec: TrialRecord) -> dict[str, Interval]:
    """The intervals of a search trial's figures, from its raw samples (none when they are gone)."""
    path = rec.paths.get("samples")
    sessions = load_sessions(Path(path) if path else None)
    out = metric_intervals(sessions, rec.metrics, plan.batch_size(Candidate.of(rec.params)))
    return {**out, **loadgen_intervals(Path(path).parent)} if path else out


def violated(plan: Plan, metrics: Mapping[str, float]) -> str | None:
    for c in plan.study.constraints:
        value = metrics.get(c.metric)
        if value is None or c.violation(value) > 0:
            return f"violates {c} (confirmed {c.metric} = {value})"
    return None


def analyse(plan: Plan, figures: Sequence[tuple[TrialRecord, Mapping[str, float], Mapping[str, Interval],
                                                Confirmation | None]]) -> list[Point]:
    """Noise-aware ranks, ties and 'dominated within noise' of candidates with their figures (within
    each LoadGen scenario, when the study measures several)."""
    groups: dict[Any, list[Any]] = {}
    for figure in figures:
        groups.setdefault(figure[0].params.get(SCENARIO_DIMENSION), []).append(figure)
    if len(groups) > 1:
        return [point for group in groups.values() for point in analyse(plan, group)]
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    if not figures:
        return []
    bounds = [objective_bounds(m, iv, names) for _, m, iv, _ in figures]
    analysis = noisy_front(np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds]),
                                  np.array([b[2] for b in bounds]), directions)
    points = []
    for i, (rec, metrics, intervals, confirmation) in enumerate(figures):
        points.append(Point(rec, metrics, intervals, confirmation, int(analysis.ranks[i]),
                            tuple(figures[j][0].number for j in analysis.dominated_within_noise_by[i]),
                            tuple(figures[j][0].number for j in analysis.ties[i])))
    return points
