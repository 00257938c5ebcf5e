"""Pareto fronts, non-dominated ranks, hypervolume and reference points.

Points are given in the objectives' own units with their directions; internally every
objective is turned into one to minimize (maximized ones are negated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def to_minimization(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions])
    return np.asarray(points, dtype=float).reshape(-1, len(directions)) * signs


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """``a`` is no worse than ``b`` everywhere and better somewhere (minimization)."""
    return bool(np.all(a <= b) and np.any(a < b))


def nondominated(points_min: np.ndarray) -> np.ndarray:
    """Boolean mask of the points no other point dominates (duplicates are all kept)."""
    pts = np.asarray(points_min, dtype=float)
    n = len(pts)
    mask = np.ones(n, dtype=bool)
    for i in range(n):
        if not mask[i]:
            continue
        dominated_by_i = np.all(pts[i] <= pts, axis=1) & np.any(pts[i] < pts, axis=1)
        mask &= ~dominated_by_i
    return mask


def ranks(points_min: np.ndarray) -> np.ndarray:
    """Non-dominated sorting: 1 for the front, 2 for the front of the rest, ..."""
    pts = np.asarray(points_min, dtype=float)
    if pts.ndim == 2 and pts.shape[1] == 2:
        return _ranks_2d(pts)
    out = np.zeros(len(pts), dtype=int)
    remaining = np.arange(len(pts))
    rank = 1
    while len(remaining):
        mask = nondominated(pts[remaining])
        out[remaining[mask]] = rank
        remaining = remaining[~mask]
        rank += 1
    return out


def _ranks_2d(pts: np.ndarray) -> np.ndarray:
    """Two objectives in O(n log n): in (f1, f2) order, a point joins the first front whose last
    point does not dominate it (those last points are sorted, so a binary search finds it)."""
    import bisect

    out = np.zeros(len(pts), dtype=int)
    lasts: list[tuple[float, float]] = []   # per front: (f2, f1) of the point added last
    for i in np.lexsort((pts[:, 1], pts[:, 0])):
        key = (float(pts[i, 1]), float(pts[i, 0]))
        k = bisect.bisect_left(lasts, key)   # the first front whose last point is not below it
        if k == len(lasts):
            lasts.append(key)
        else:
            lasts[k] = key
        out[i] = k + 1
    return out


def front(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    """Indices of the non-dominated points, in input order."""
    if len(points) == 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(nondominated(to_minimization(points, directions)))


def _hv(points: np.ndarray, ref: np.ndarray) -> float:
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(ref[0] - points[:, 0].min())
    if points.shape[1] == 2:
        pts = points[np.lexsort((points[:, 1], points[:, 0]))]
        volume, best_y = 0.0, ref[1]
        for x, y in pts:
            if y < best_y:
                volume += (ref[0] - x) * (best_y - y)
                best_y = y
        return float(volume)
    pts = points[np.argsort(points[:, -1])]
    volume = 0.0
    for i in range(len(pts)):
        upper = pts[i + 1, -1] if i + 1 < len(pts) else ref[-1]
        if upper > pts[i, -1]:
            slice_pts = pts[: i + 1, :-1]
            slice_pts = slice_pts[nondominated(slice_pts)]
            volume += (upper - pts[i, -1]) * _hv(slice_pts, ref[:-1])
    return float(volume)


def hypervolume(points: np.ndarray, directions: Sequence[str], reference: Sequence[float]) -> float:
    """Volume dominated by ``points`` and bounded by ``reference`` (objectives' own units)."""
    if len(points) == 0:
        return 0.0
    pts = to_minimization(points, directions)
    ref = to_minimization(np.asarray(reference, dtype=float), directions)[0]
    pts = pts[np.all(pts < ref, axis=1)]
    if len(pts) == 0:
        return 0.0
    return _hv(pts[nondominated(pts)], ref)


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


# -- noise-aware comparison ----------------------------------------------------------------------
# Each point comes with a 95% interval per objective. One point *certainly* dominates another
# when its worst end is no worse than the other's best end everywhere and better somewhere;
# point estimates that dominate only inside the noise do not rank two candidates.


def intervals_to_minimization(lows: np.ndarray, highs: np.ndarray,
                              directions: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(best, worst) ends of each point's intervals, as objectives to minimize."""
    lo = to_minimization(lows, directions)
    hi = to_minimization(highs, directions)
    return np.minimum(lo, hi), np.maximum(lo, hi)


def certainly_dominates(worst_a: np.ndarray, best_b: np.ndarray) -> bool:
    """``a`` beats ``b`` beyond the noise: a's worst end is no worse than b's best end everywhere,
    and better somewhere (minimization)."""
    return bool(np.all(worst_a <= best_b) and np.any(worst_a < best_b))


def overlap(best_a: np.ndarray, worst_a: np.ndarray, best_b: np.ndarray, worst_b: np.ndarray) -> bool:
    """The two points' intervals overlap in every objective: they cannot be told apart."""
    return bool(np.all(best_a <= worst_b) and np.all(best_b <= worst_a))


def noisy_ranks(best: np.ndarray, worst: np.ndarray) -> np.ndarray:
    """Non-dominated sorting with certain dominance: rank 1 for the points no other point
    certainly dominates (the front *within measurement noise*), 2 for the next layer, ..."""
    n = len(best)
    out = np.zeros(n, dtype=int)
    remaining = list(range(n))
    rank = 1
    while remaining:
        layer = [i for i in remaining
                 if not any(certainly_dominates(worst[j], best[i]) for j in remaining if j != i)]
        for i in layer:
            out[i] = rank
        remaining = [i for i in remaining if i not in layer]
        rank += 1
    return out


@dataclass(frozen=True)
class NoisyFront:
    """The front of points with intervals.

    ``ranks``: noise-aware ranks (1: no point certainly dominates it). ``point_front``: the
    plain front of the point estimates. ``dominated_within_noise_by[i]``: points whose estimates
    dominate point i, but not beyond the noise. ``ties[i]``: points whose intervals overlap
    point i's in every objective (they cannot be ranked against each other)."""

    ranks: np.ndarray
    point_front: np.ndarray
    dominated_within_noise_by: list[list[int]]
    ties: list[list[int]]

    @property
    def front(self) -> np.ndarray:
        """Indices of the points on the front within noise (rank 1)."""
        return np.flatnonzero(self.ranks == 1)


def noisy_front(values: np.ndarray, lows: np.ndarray, highs: np.ndarray, directions: Sequence[str]) -> NoisyFront:
    """Noise-aware Pareto analysis of ``values`` with intervals ``[lows, highs]`` (objectives' units)."""
    n = len(values)
    if n == 0:
        return NoisyFront(np.zeros(0, dtype=int), np.zeros(0, dtype=bool), [], [])
    points = to_minimization(values, directions)
    best, worst = intervals_to_minimization(np.asarray(lows, float).reshape(n, -1),
                                            np.asarray(highs, float).reshape(n, -1), directions)
    best, worst = np.minimum(best, points), np.maximum(worst, points)
    within: list[list[int]] = [[] for _ in range(n)]
    ties: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for j in range(n):
            if i == j:
                continue
            if dominates(points[j], points[i]) and not certainly_dominates(worst[j], best[i]):
                within[i].append(j)
            if overlap(best[i], worst[i], best[j], worst[j]):
                ties[i].append(j)
    return NoisyFront(noisy_ranks(best, worst), nondominated(points), within, ties)
