"""The noise-aware Pareto front: points with 95% intervals, ranked only where the noise allows.

One point *certainly* dominates another when its worst end is no worse than the other's best
end everywhere and better somewhere; point estimates that dominate only inside the noise do not
rank two candidates. No library offers this; the plain front and hypervolume are moocore's
(:mod:`request_dse.results.fronts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from request_dse.results.fronts import dominates, nondominated, to_minimization


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
