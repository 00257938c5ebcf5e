"""The ``default`` sampler: a space-aware, model-based search over the study's own candidates.

Bare Optuna samplers see a define-by-run space one parameter at a time: they propose
inactive combinations, duplicates and candidates a constraint excludes, and none of them
starts from what is already known. This sampler works on the space itself:

1. **Space-aware.** It enumerates the valid candidates once (conditional dimensions are
   active only where their condition holds; space constraints are applied), and only ever
   proposes one of those that is not measured or in flight -- never a duplicate, never an
   excluded candidate, never an inactive knob.
2. **Warm start.** The first proposals are, per backend, the candidate with every flag at
   its catalog default and the workload's and target's default model, batch and threads (the
   configuration a user would try first); then the Pareto-optimal candidates of recorded
   tables of the same workload (option ``warm_start``: table paths written by
   ``request-dse export-table``, separated by ``,``) that this space contains; then, up to
   ``n_startup`` measurements, candidates with default flags spread over the other
   dimensions (farthest first).
3. **Model-based.** Each objective is modelled by a randomized-tree ensemble on one-hot and
   ordinal features of the knobs (log scale for latencies); each tree is one plausible
   outcome, and a candidate's score is its hypervolume improvement over the current front
   averaged over the trees, in the objectives' own units around the front (reference point
   ``margin`` of the front's range beyond its nadir), with the study's metric constraints on
   objectives applied per tree. A second ensemble learns which candidates fail (build
   errors, wrong answers) and discounts look-alikes.
4. **Explore, then exploit.** While the front still moves, predictions are shifted by
   ``kappa`` standard deviations of the trees towards better (optimism: exploration);
   once the hypervolume has grown less than 1% over the last trials, ``kappa`` drops to 0
   and the score is the plain expected improvement (exploitation). When no candidate is
   expected to improve the front, the most uncertain one is measured.

Spaces too large to enumerate (or with continuous dimensions) fall back to NSGA-II.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from optuna.samplers import BaseSampler

from request_dse.space import Candidate, SearchSpace

#: Largest space the sampler enumerates; larger ones use NSGA-II.
MAX_CANDIDATES = 50_000


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
    from request_dse.pareto import nondominated

    return points[nondominated(points)] if len(points) else points


def hv_improvement_nd(points: np.ndarray, front: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Hypervolume improvement for any number of objectives (exact, slower)."""
    from request_dse.pareto import _hv

    base = _hv(_nondominated_min(front), ref) if len(front) else 0.0
    flat = points.reshape(-1, points.shape[-1])
    out = np.zeros(len(flat))
    for i, p in enumerate(flat):
        if np.all(p < ref) and not (len(front) and np.any(np.all(front <= p, axis=1))):
            pts = np.vstack([front, p[None]]) if len(front) else p[None]
            out[i] = _hv(_nondominated_min(pts), ref) - base
    return out.reshape(points.shape[:-1])


class SpaceAwareSampler(BaseSampler):
    """Optuna sampler choosing whole candidates of an enumerable space.

    The first parameter a trial asks for fixes the whole candidate; every later parameter of
    that trial is answered from it, so define-by-run ``space.suggest`` walks exactly the
    candidate's active dimensions.
    """

    def __init__(self, space: SearchSpace, directions: Sequence[str], *, seed: int = 0, budget: int = 0,
                 defaults: Sequence[Mapping[str, Any]] = (), flag_defaults: Mapping[str, Any] | None = None,
                 warm_start: Sequence[Candidate] = (),
                 constraints: Sequence[tuple[int, Any]] = (), n_startup: int | None = None, n_trees: int = 24,
                 kappa: float = 1.0, margin: float = 0.3) -> None:
        self.space = space
        self.directions = list(directions)
        self.seed = seed
        self.rng = random.Random(seed)
        self.candidates = list(space.enumerate())
        self.features = Features(space)
        self.x = self.features.matrix(self.candidates)
        self.index = {c.hash: i for i, c in enumerate(self.candidates)}
        n = len(self.candidates)
        self.n_startup = n_startup if n_startup is not None else int(min(12, max(6, n // 50)))
        self.n_trees = n_trees
        self.kappa = kappa
        self.margin = margin
        self.constraints = list(constraints)  # (objective index, MetricConstraint)
        self.budget = budget
        self._chosen: dict[int, Candidate] = {}
        self._trial_index: dict[int, int] = {}  # finished trial number -> candidate index (-1: none)
        self.failed: set[int] = set()  # candidates whose measurement failed
        self._warm = self._warm_start(defaults, warm_start)
        flag_defaults = dict(flag_defaults or {})
        self.default_flags = {i for i, c in enumerate(self.candidates)
                              if all(flag_defaults.get(k, v) == v for k, v in c.items)}
        self.phase = "startup"

    # -- Optuna's sampler interface ---------------------------------------------------------------
    def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
        return {}

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> dict[str, Any]:
        return {}

    def before_trial(self, study: Any, trial: Any) -> None:
        pass

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self._chosen.pop(trial.number, None)

    def reseed_rng(self) -> None:
        self.rng = random.Random(self.rng.randrange(2**31))

    def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
        candidate = self._chosen.get(trial.number)
        if candidate is None:
            candidate = self._chosen[trial.number] = self.choose(study)
        if param_name in candidate:
            value = candidate[param_name]
            try:
                if param_distribution._contains(param_distribution.to_internal_repr(value)):
                    return value
            except ValueError:
                pass
        # not a dimension of this candidate (a foreign suggest): any valid value
        choices = getattr(param_distribution, "choices", None)
        return self.rng.choice(choices) if choices else param_distribution.low

    # -- choosing -----------------------------------------------------------------------------------
    def _warm_start(self, defaults: Sequence[Mapping[str, Any]], recorded: Sequence[Candidate]) -> list[int]:
        """Indices of the warm-start candidates, in order: default flags first (spread), then recorded."""
        out: list[int] = []
        for wanted in defaults:  # one exact "all defaults" candidate per backend, where valid
            for i, cand in enumerate(self.candidates):
                params = cand.params
                if all(params.get(k, v) == v for k, v in wanted.items()) and i not in out:
                    out.append(i)
                    break
        for cand in recorded:
            i = self.index.get(cand.hash)
            if i is not None and i not in out:
                out.append(i)
        return out

    def _observed(self, study: Any) -> tuple[list[int], np.ndarray, np.ndarray, set[int]]:
        """Measured candidates (index, objective values minimized, feasible) and taken indices;
        candidates whose measurement failed (a build error, a wrong answer) go to ``self.failed``."""
        from optuna.trial import TrialState

        from request_dse.storage import SKIP, STATUS

        idx: list[int] = []
        values: list[list[float]] = []
        feasible: list[bool] = []
        taken: set[int] = set()
        seen: set[int] = set()
        for number, cand in self._chosen.items():
            i = self.index.get(cand.hash)
            if i is not None:
                taken.add(i)
        for t in study.get_trials(deepcopy=False):
            if not t.params:
                continue
            i = self._trial_index.get(t.number, -2)
            if i == -2 or (i == -1 and t.state == TrialState.RUNNING):
                try:
                    i = self.index.get(self.space.candidate(t.params).hash, -1)
                except ValueError:
                    i = -1
                if t.state != TrialState.RUNNING:
                    self._trial_index[t.number] = i
            if i < 0:
                continue
            taken.add(i)
            if t.state == TrialState.COMPLETE and t.values is not None and i not in seen:
                seen.add(i)
                idx.append(i)
                values.append([(-v if d == "maximize" else v) for v, d in zip(t.values, self.directions)])
                cons = t.constraints or {}
                feasible.append(all(c <= 0 for c in (cons.values() if isinstance(cons, dict) else cons)))
            elif t.state == TrialState.FAIL and t.user_attrs.get(SKIP) is None \
                    and t.user_attrs.get(STATUS) not in (None, "", "interrupted", "infeasible"):
                self.failed.add(i)
        return idx, np.array(values, dtype=float).reshape(-1, len(self.directions)), np.array(feasible, bool), taken

    def _spread(self, pool: list[int], chosen: list[int]) -> int:
        """The pool candidate farthest (Hamming on features) from everything chosen so far."""
        if not chosen:
            return self.rng.choice(pool)
        x = self.x
        dist = np.min(np.abs(x[pool][:, None, :] - x[chosen][None, :, :]).sum(axis=2), axis=1)
        best = np.flatnonzero(dist == dist.max())
        return pool[int(self.rng.choice(list(best)))]

    def choose(self, study: Any) -> Candidate:
        idx, y, feasible, taken = self._observed(study)
        pool = [i for i in range(len(self.candidates)) if i not in taken]
        if not pool:  # everything measured: any candidate (the search then detects exhaustion)
            return self.candidates[self.rng.randrange(len(self.candidates))]
        for i in self._warm:
            if i not in taken:
                self.phase = "warm start"
                return self.candidates[i]
        if len(idx) < self.n_startup or len(idx) < 2:
            self.phase = "startup"
            preferred = [i for i in pool if i in self.default_flags]
            return self.candidates[self._spread(preferred or pool, sorted(taken))]
        return self.candidates[self._model_choice(idx, y, feasible, pool)]

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
        mean, std = samples.mean(axis=0), samples.std(axis=0)
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
                ok_tree &= np.vectorize(lambda v: constraint.violation(float(v)) <= 0)(raw)
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
        from request_dse.pareto import _hv

        pts = y[feasible]
        front_pts = _nondominated_min(pts)
        ideal, nadir = front_pts.min(axis=0), front_pts.max(axis=0)
        scale = np.where(nadir > ideal, nadir - ideal, 1.0)
        ref = np.full(y.shape[1], 1.0 + self.margin)
        order = np.flatnonzero(feasible)

        def hv(k: int) -> float:
            p = (y[order[order < k]] - ideal) / scale
            p = p[np.all(p < ref, axis=1)]
            return _hv(_nondominated_min(p), ref) if len(p) else 0.0

        now, before = hv(n), hv(n - window)
        return now > 0 and (now - before) / now < 0.01


def load_warm_start(paths: str, space: SearchSpace, metric_names: Sequence[str],
                    directions: Sequence[str]) -> list[Candidate]:
    """The Pareto-optimal candidates of recorded tables that ``space`` contains, best-spread first."""
    from request_dse.pareto import front
    from request_dse.replay import read_table

    rows = []
    for path in [p.strip() for p in paths.split(",") if p.strip()]:
        for row in read_table(Path(path)):
            if row.status != "ok" or any(m not in row.metrics for m in metric_names):
                continue
            try:
                cand = space.candidate(row.knobs)
            except ValueError:
                continue
            if space.excluded_by(cand) is None:
                rows.append((cand, [row.metrics[m] for m in metric_names]))
    if not rows:
        return []
    points = np.array([v for _, v in rows])
    return [rows[i][0] for i in front(points, directions)]


def make_default_sampler(plan: Any, options: Mapping[str, Any], seed: int, budget: int) -> Any:
    """The default sampler for ``plan`` (None when its space is too large to enumerate)."""
    space: SearchSpace = plan.space
    if not space.enumerable or space.count() > MAX_CANDIDATES:
        return None
    study = plan.study
    directions = [o.direction for o in study.objectives]
    defaults = []
    flag_defaults = {f"{name}.{k}": v for name, catalog in plan.catalogs.items() for k, v in catalog.defaults().items()}
    model_defaults = {d.name: v for d, v in plan.workload.dimensions()}
    for name, catalog in plan.catalogs.items():
        wanted = {**model_defaults, "framework": name, "batch_size": 1,
                  "target.threads": plan.target_spec.threads_default}
        wanted.update({f"{name}.{k}": v for k, v in catalog.defaults().items()})
        defaults.append(wanted)
    warm = load_warm_start(str(options["warm_start"]), space, study.metric_names, directions) \
        if options.get("warm_start") else []
    constraints = [(study.metric_names.index(c.metric), c) for c in study.constraints
                   if c.metric in study.metric_names]
    kwargs = {k: options[k] for k in ("n_startup", "n_trees", "kappa", "margin") if k in options}
    return SpaceAwareSampler(space, directions, seed=seed, budget=budget, defaults=defaults,
                             flag_defaults=flag_defaults, warm_start=warm, constraints=constraints, **kwargs)
