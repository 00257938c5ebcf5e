"""Pareto fronts, non-dominated ranks, hypervolume and reference points; the front of a study.

Points are given in the objectives' own units with their directions; internally every
objective is turned into one to minimize (maximized ones are negated). Non-dominated sorting
and hypervolume are moocore's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from request_dse.protocol import SCENARIO_DIMENSION
from request_dse.results.records import TrialRecord

if TYPE_CHECKING:
    from request_dse.study import Plan


def to_minimization(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(points, dtype=float).reshape(-1, len(directions)) * signs


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (minimization)."""
    return bool(np.all(a <= b) and np.any(a < b))


def nondominated(points_min: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (duplicates are all kept)."""
    import moocore

    pts = np.asarray(points_min, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=bool)
    return np.asarray(moocore.is_nondominated(pts, keep_weakly=True), dtype=bool)


def ranks(points_min: np.ndarray) -> np.ndarray:
    """Non-dominated sorting: 1 for the front, 2 for the front of the rest, ..."""
    import moocore

    pts = np.asarray(points_min, dtype=float)
    if len(pts) == 0:
        return np.zeros(0, dtype=int)
    return np.asarray(moocore.pareto_rank(pts), dtype=int) + 1


def front(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Indices of the non-dominated points, in input order."""
    if len(points) == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(nondominated(to_minimization(points, directions)))


def hypervolume_min(points_min: np.ndarray, ref_min: Sequence[float]) -> float:
    """Volume dominated by ``points_min`` and bounded by ``ref_min`` (objectives to minimize);
    points that do not dominate the reference add nothing."""
    import moocore

    pts = np.asarray(points_min, dtype=float)
    if len(pts) == 0:
        return 0.0
    return float(moocore.hypervolume(pts, ref=np.asarray(ref_min, dtype=float)))


def hypervolume(points: np.ndarray, directions: Sequence[str], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (objectives' own units)."""
    if len(points) == 0:
        return 0.0
    ref = to_minimization(np.asarray(reference, dtype=float), directions)[0]
    return hypervolume_min(to_minimization(points, directions), ref)


def reference_point(points: np.ndarray, directions: Sequence[str], margin: float = 0.1) -> list[float]:
    """The worst value of each objective pushed out by ``margin`` of its range (of its size when flat)."""
    pts = np.asarray(points, dtype=float).reshape(-1, len(directions))
    out = []
    for j, direction in enumerate(directions):
        column = pts[:, j]
        span = float(column.max() - column.min()) if len(column) else 0.0
        worst = float(column.min() if direction == "maximize" else column.max()) if len(column) else 0.0
        pad = margin * (span if span > 0 else max(abs(worst), 1e-9))
        out.append(worst - pad if direction == "maximize" else worst + pad)
    return out


def study_front(plan: Plan, all_records: Sequence[TrialRecord]) -> tuple[list[TrialRecord], list[float], float]:
    """The ok trials on the Pareto front, the reference point and the hypervolume.

    A study that measures several LoadGen scenarios keeps one front per scenario (their figures
    are not comparable): the union of the fronts, and the sum of their hypervolumes against one
    reference point."""
    ok = [r for r in all_records if r.measured and r.status == "ok" and r.skip is None]
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    groups = front_groups(ok)
    if len(groups) < 2:
        return front_of(ok, names, directions, plan.study.reference_point)
    _, reference, _ = front_of(ok, names, directions, plan.study.reference_point)
    fixed = dict(zip(names, reference, strict=True))
    chosen: set[int] = set()
    hv = 0.0
    for group in groups.values():
        members, _, group_hv = front_of(group, names, directions, fixed)
        chosen.update(id(r) for r in members)
        hv += group_hv
    return [r for r in ok if id(r) in chosen], reference, hv


def front_groups(records: Sequence[Any]) -> dict[Any, list[Any]]:
    """Records by LoadGen scenario (the dimension ``measure.scenario``; one group without it)."""
    groups: dict[Any, list[Any]] = {}
    for r in records:
        groups.setdefault(r.params.get(SCENARIO_DIMENSION), []).append(r)
    return groups


def front_of(ok: Sequence[Any], names: Sequence[str], directions: Sequence[str],
             fixed_reference: Mapping[str, float]) -> tuple[list[Any], list[float], float]:
    """The front of records with ``metrics``, the reference point (``fixed_reference`` where it
    names a metric, else computed from the points) and the hypervolume."""
    if not ok:
        return [], [fixed_reference.get(m, 0.0) for m in names], 0.0
    points = np.array([[r.metrics[m] for m in names] for r in ok])
    computed = reference_point(points, directions)
    reference = [float(fixed_reference.get(m, computed[j])) for j, m in enumerate(names)]
    idx = front(points, directions)
    hv = hypervolume(points[idx], directions, reference)
    return [ok[i] for i in idx], reference, hv
