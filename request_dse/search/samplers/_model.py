"""The model of the ``default`` sampler: features of candidates, tree ensembles of each objective,
and the expected hypervolume improvement they predict (see :mod:`.default`)."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from request_dse.results import hypervolume_min, nondominated
from request_dse.space import Candidate, SearchSpace


class Features:
    """Numeric features of candidates: one-hot per categorical value, plus an ordinal column
    for numeric dimensions (log-scaled when positive), zero where a dimension is inactive."""

    def __init__(self, space: SearchSpace) -> None:
        self.columns: list[tuple[str, Any]] = []
        self.numeric: dict[str, tuple[float, float, bool]] = {}
        for dim in space.dimensions:
            values = dim.values()
            if dim.kind == "categorical":
                self.columns.extend((dim.name, v) for v in values)
            nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
            if len(nums) == len(values) and len(values) > 1:
                log = min(nums) > 0
                t = [math.log(v) if log else float(v) for v in nums]
                self.numeric[dim.name] = (min(t), max(t) - min(t) or 1.0, log)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._num = {name: len(self.columns) + i for i, name in enumerate(self.numeric)}
        self.width = len(self.columns) + len(self.numeric)

    def matrix(self, candidates: Sequence[Candidate]) -> np.ndarray:
        x = np.zeros((len(candidates), self.width))
        for r, cand in enumerate(candidates):
            for name, value in cand.items:
                j = self._index.get((name, value))
                if j is not None:
                    x[r, j] = 1.0
                if name in self._num:
                    lo, span, log = self.numeric[name]
                    x[r, self._num[name]] = 0.5 + ((math.log(value) if log else value) - lo) / span
        return x


def hv_improvement(points: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume improvement of each of ``points`` (..., 2) over ``front`` (k, 2), minimization."""
    front = front[np.all(front < ref, axis=1)] if len(front) else front
    if len(front):
        order = np.argsort(front[:, 0], kind="stable")
        front = front[order]
        keep = front[:, 1] < np.minimum.accumulate(np.concatenate([[np.inf], front[:-1, 1]]))
        front = front[keep]
    # staircase: on [xs[k], xs[k+1]) the front dominates everything above heights[k]
    xs = np.concatenate([[-np.inf], front[:, 0], [ref[0]]]) if len(front) else np.array([-np.inf, ref[0]])
    heights = np.concatenate([[ref[1]], front[:, 1]]) if len(front) else np.array([ref[1]])
    px = points[..., 0:1]
    py = points[..., 1:2]
    width = np.clip(np.minimum(xs[1:], ref[0]) - np.maximum(xs[:-1], px), 0.0, None)
    height = np.clip(heights - py, 0.0, None)
    return np.sum(width * height, axis=-1)


def _nondominated_min(points: np.ndarray) -> np.ndarray:
    return points[nondominated(points)] if len(points) else points


def hv_improvement_nd(points: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume improvement for any number of objectives (exact, slower)."""
    base = hypervolume_min(front, ref) if len(front) else 0.0
    flat = points.reshape(-1, points.shape[-1])
    out = np.zeros(len(flat))
    for i, p in enumerate(flat):
        if np.all(p < ref) and not (len(front) and np.any(np.all(front <= p, axis=1))):
            pts = np.vstack([front, p[None]]) if len(front) else p[None]
            out[i] = hypervolume_min(pts, ref) - base
    return out.reshape(points.shape[:-1])


class HypervolumeModel:
    """Chooses the candidate with the largest expected hypervolume improvement (see :mod:`.default`)."""

    def __init__(self, directions: Sequence[str], *, n_trees: int, kappa: float, margin: float,
                 constraints: Sequence[tuple[int, Any]]) -> None:
        self.directions = list(directions)
        self.n_trees = n_trees
        self.kappa = kappa
        self.margin = margin
        self.constraints = list(constraints)  # (objective index, MetricConstraint)
        self.phase = "explore"

    def choose(self, rng: random.Random, x: np.ndarray, idx: list[int], y: np.ndarray, feasible: np.ndarray,
               pool: list[int], failed: set[int]) -> int:
        """The pool index to measure next, from the measured ``idx`` with objectives ``y`` (minimized)."""
        self.rng, self.x, self.failed = rng, x, failed
        return self._model_choice(idx, y, feasible, pool)

    def _transform(self, y: np.ndarray) -> tuple[np.ndarray, list[bool]]:
        """Objectives (minimized) on a scale trees fit well: log for positive-only latencies."""
        logs = []
        out = y.copy()
        for j, d in enumerate(self.directions):
            col = y[:, j]
            log = d == "minimize" and bool(np.all(col > 0)) and col.max() / col.min() > 20
            logs.append(log)
            if log:
                out[:, j] = np.log(col)
        return out, logs

    def _failure_probability(self, ok: list[int], pool: list[int]) -> np.ndarray:
        from sklearn.ensemble import ExtraTreesRegressor

        failed = sorted(self.failed)
        x = self.x[ok + failed]
        y = np.r_[np.zeros(len(ok)), np.ones(len(failed))]
        model = ExtraTreesRegressor(n_estimators=8, min_samples_leaf=2, random_state=self.rng.randrange(2**31))
        model.fit(x, y)
        return np.clip(model.predict(self.x[pool]), 0.0, 1.0)

    def _model_choice(self, idx: list[int], y: np.ndarray, feasible: np.ndarray, pool: list[int]) -> int:
        """The pool candidate with the largest expected hypervolume improvement.

        Trees model each objective on a scale they fit well (log latency); the improvement is
        scored in the objectives' own units, normalized by the current front's range, with the
        reference point ``margin`` of that range beyond the front's nadir -- so it rewards what
        the front lacks, not volume far from it."""
        from sklearn.ensemble import ExtraTreesRegressor

        z, logs = self._transform(y)
        lo, hi = z.min(axis=0), z.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        zn = (z - lo) / span
        x_train, x_pool = self.x[idx], self.x[pool]
        preds = []
        for j in range(z.shape[1]):
            model = ExtraTreesRegressor(n_estimators=self.n_trees, min_samples_leaf=1, max_features=0.8,
                                        bootstrap=True, random_state=self.rng.randrange(2**31))
            model.fit(x_train, zn[:, j])
            preds.append(np.stack([tree.predict(x_pool) for tree in model.estimators_]))  # (T, P)
        samples = np.stack(preds, axis=-1)  # (T, P, M), normalized model scale
        std = samples.std(axis=0)
        stable = self._front_stable(y, feasible)
        self.phase = "exploit" if stable else "explore"
        kappa = 0.0 if stable else self.kappa
        if kappa:  # optimism while the front still moves: every tree shifted towards better
            samples = samples - kappa * std[None]

        def own_units(v: np.ndarray) -> np.ndarray:
            out = v * span + lo
            for j, log in enumerate(logs):
                if log:
                    out[..., j] = np.exp(out[..., j])
            return out

        pred = own_units(samples)
        front_pts = _nondominated_min(y[feasible]) if feasible.any() else y[:0]
        if len(front_pts) == 0:
            front_pts = _nondominated_min(y)
        ideal, nadir = front_pts.min(axis=0), front_pts.max(axis=0)
        scale = np.where(nadir > ideal, nadir - ideal, np.maximum(np.abs(nadir) * 0.1, 1e-9))
        ref = np.full(y.shape[1], 1.0 + self.margin)
        hvi_fn = hv_improvement if y.shape[1] == 2 else hv_improvement_nd
        gain = hvi_fn((pred - ideal) / scale, (front_pts - ideal) / scale, ref)  # (T, P)
        if self.constraints:
            ok_tree = np.ones(gain.shape, bool)
            for j, constraint in self.constraints:
                raw = -pred[..., j] if self.directions[j] == "maximize" else pred[..., j]
                ok_tree &= np.vectorize(lambda v, c=constraint: c.violation(float(v)) <= 0)(raw)
            gain = np.where(ok_tree, gain, 0.0)
        score = gain.mean(axis=0)
        if self.failed:  # candidates like those that failed (build error, wrong answer) are worth less
            score = score * (1.0 - self._failure_probability(idx, pool))
        if score.max() <= 1e-12:  # nothing expected to improve the front: the most uncertain candidate
            score = std.sum(axis=-1)
        best = np.flatnonzero(score >= score.max() - 1e-12)
        return pool[int(self.rng.choice(list(best)))]

    def _front_stable(self, y: np.ndarray, feasible: np.ndarray) -> bool:
        """True when the front has stopped moving: < 1% hypervolume growth over the last trials."""
        n = len(y)
        window = max(5, n // 8)
        if n < 2 * window or not feasible.any():
            return False
        pts = y[feasible]
        front_pts = _nondominated_min(pts)
        ideal, nadir = front_pts.min(axis=0), front_pts.max(axis=0)
        scale = np.where(nadir > ideal, nadir - ideal, 1.0)
        ref = np.full(y.shape[1], 1.0 + self.margin)
        order = np.flatnonzero(feasible)

        def hv(k: int) -> float:
            p = (y[order[order < k]] - ideal) / scale
            p = p[np.all(p < ref, axis=1)]
            return hypervolume_min(p, ref) if len(p) else 0.0

        now, before = hv(n), hv(n - window)
        return now > 0 and (now - before) / now < 0.01
