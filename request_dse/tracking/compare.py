"""Two studies side by side: their Pareto fronts on a shared reference point, and which points
of each the other dominates. Only studies of the same workload and objectives compare; a caller
holding confirmed figures passes those fronts (``given``) instead of the search's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from request_dse.errors import UserError
from request_dse.results import fronts, study_front


@dataclass(frozen=True)
class Side:
    name: str
    front: list[Any]              # TrialRecords on the study's own front
    hypervolume: float            # on the shared reference point
    dominated_by: dict[int, list[int]]  # trial number -> numbers of the other front's trials that dominate it


@dataclass(frozen=True)
class Comparison:
    names: tuple[str, ...]
    directions: tuple[str, ...]
    reference: list[float]
    a: Side
    b: Side


def _objectives(plan: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(o.metric for o in plan.study.objectives), tuple(o.direction for o in plan.study.objectives)


def _points(front: Sequence[Any], names: Sequence[str]) -> np.ndarray:
    return np.array([[r.metrics[m] for m in names] for r in front], dtype=float).reshape(-1, len(names))


def workload_of(plan: Any) -> tuple[str, str]:
    """What a study measures: the workload's name and, for a user's ONNX file, its model's sha256."""
    workload = getattr(plan, "workload", None)
    if workload is None:
        return "", ""
    described = workload.describe()
    return str(described.get("name", workload.name)), str(described.get("sha256", ""))


def check_comparable(plan_a: Any, plan_b: Any) -> None:
    """Raise :class:`UserError` (one line) unless both studies measure the same workload and
    optimize the same objectives."""
    wa, wb = workload_of(plan_a), workload_of(plan_b)
    if wa != wb:
        shown = [f"{w[0]}" + (f" (model sha256 {w[1][:12]})" if w[1] and wa[0] == wb[0] else "") for w in (wa, wb)]
        raise UserError(f"studies {plan_a.name!r} and {plan_b.name!r} measure different workloads ({shown[0]} vs "
                        f"{shown[1]}); their fronts cannot be compared")
    names, directions = _objectives(plan_a)
    if _objectives(plan_b) != (names, directions):
        raise UserError(f"studies {plan_a.name!r} and {plan_b.name!r} optimize different objectives "
                        f"({', '.join(f'{d} {m}' for m, d in zip(names, directions))} vs "
                        f"{', '.join(f'{d} {m}' for m, d in zip(*_objectives(plan_b)))}); they cannot share a front")


def compare(plan_a: Any, records_a: Sequence[Any], plan_b: Any, records_b: Sequence[Any], *,
            given: tuple[Sequence[Any] | None, Sequence[Any] | None] = (None, None)) -> Comparison:
    """Compare two studies of the same workload that optimize the same objectives; ``given``:
    either study's front to use instead of the one its records give (records with the figures
    to compare, e.g. confirmed ones)."""
    check_comparable(plan_a, plan_b)
    names, directions = _objectives(plan_a)
    front_a = list(given[0]) if given[0] is not None else study_front(plan_a, records_a)[0]
    front_b = list(given[1]) if given[1] is not None else study_front(plan_b, records_b)[0]
    pa, pb = _points(front_a, names), _points(front_b, names)
    ref_a, ref_b = plan_a.study.reference_point, plan_b.study.reference_point
    if all(m in ref_a for m in names) and [ref_a[m] for m in names] == [ref_b.get(m) for m in names]:
        reference = [float(ref_a[m]) for m in names]
    else:
        both = np.vstack([pa, pb]) if len(pa) + len(pb) else np.zeros((0, len(names)))
        reference = fronts.reference_point(both, directions) if len(both) else [0.0] * len(names)
    return Comparison(names, directions, reference,
                      Side(plan_a.name, front_a, fronts.hypervolume(pa, directions, reference),
                           _dominated(front_a, pa, front_b, pb, directions)),
                      Side(plan_b.name, front_b, fronts.hypervolume(pb, directions, reference),
                           _dominated(front_b, pb, front_a, pa, directions)))


def _dominated(front: Sequence[Any], points: np.ndarray, other: Sequence[Any], other_points: np.ndarray,
               directions: Sequence[str]) -> dict[int, list[int]]:
    mine, theirs = fronts.to_minimization(points, directions), fronts.to_minimization(other_points, directions)
    return {r.number: [o.number for o, q in zip(other, theirs) if fronts.dominates(q, p)] for r, p in zip(front, mine)}
