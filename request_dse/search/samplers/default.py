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

import random
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from optuna.samplers import BaseSampler

from request_dse.results import front, read_table
from request_dse.search.samplers._model import Features, HypervolumeModel
from request_dse.search.storage import ESTIMATE, SKIP, STATUS
from request_dse.space import Candidate, SearchSpace

#: Largest space the sampler enumerates; larger ones use NSGA-II.
MAX_CANDIDATES = 50_000


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
        self.model = HypervolumeModel(self.directions, n_trees=n_trees, kappa=kappa, margin=margin,
                                      constraints=self.constraints)
        self.budget = budget
        self._chosen: dict[int, Candidate] = {}
        self._trial_index: dict[int, int] = {}  # finished trial number -> candidate index (-1: none)
        self.failed: set[int] = set()  # candidates whose measurement failed
        self.excluded: set[int] = set()  # candidates an exclusion learned by the study rules out
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

    def exclude(self, matches: Callable[[Mapping[str, Any]], bool]) -> None:
        """Never propose the candidates ``matches`` (an exclusion the study learned) says yes to."""
        self.excluded.update(i for i, c in enumerate(self.candidates) if i not in self.excluded and matches(c.params))

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
        """Measured candidates (index, objective values minimized, feasible), survivors waiting with a
        judging estimate among them (``early_stop.defer``), and taken indices;
        candidates whose measurement failed (a build error, a wrong answer) go to ``self.failed``."""
        from optuna.trial import TrialState

        idx: list[int] = []
        values: list[list[float]] = []
        feasible: list[bool] = []
        taken: set[int] = set()
        seen: set[int] = set()
        for cand in self._chosen.values():
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
            told = t.values if t.state == TrialState.COMPLETE else None
            waiting = t.user_attrs.get(ESTIMATE) if t.state == TrialState.RUNNING else None  # early_stop.defer
            if (told is not None or waiting is not None) and i not in seen:
                seen.add(i)
                idx.append(i)
                values.append([(-v if d == "maximize" else v)
                               for v, d in zip(told or waiting, self.directions, strict=True)])
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
        pool = [i for i in range(len(self.candidates)) if i not in taken and i not in self.excluded]
        if not pool:  # everything measured: any candidate (the search then detects exhaustion)
            return self.candidates[self.rng.randrange(len(self.candidates))]
        for i in self._warm:
            if i not in taken and i not in self.excluded:
                self.phase = "warm start"
                return self.candidates[i]
        if len(idx) < self.n_startup or len(idx) < 2:
            self.phase = "startup"
            preferred = [i for i in pool if i in self.default_flags]
            return self.candidates[self._spread(preferred or pool, sorted(taken))]
        choice = self.model.choose(self.rng, self.x, idx, y, feasible, pool, self.failed)
        self.phase = self.model.phase
        return self.candidates[choice]


def load_warm_start(paths: str, space: SearchSpace, metric_names: Sequence[str],
                    directions: Sequence[str]) -> list[Candidate]:
    """The Pareto-optimal candidates of recorded tables that ``space`` contains, best-spread first."""
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
