"""Pareto fronts, non-dominated ranks, hypervolume and reference points.

Points are given in the objectives' own units with their directions; internally every
objective is turned into one to minimize (maximized ones are negated).
"""

from __future__ import annotations

from collections.abc import Sequence

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
    out = np.zeros(len(pts), dtype=int)
    remaining = np.arange(len(pts))
    rank = 1
    while len(remaining):
        mask = nondominated(pts[remaining])
        out[remaining[mask]] = rank
        remaining = remaining[~mask]
        rank += 1
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
