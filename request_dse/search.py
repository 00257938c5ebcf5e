"""The search: Optuna's ask/tell loop over a plan's space, with an executor measuring candidates.

Per proposal from the sampler:

* a candidate a space constraint excludes is never measured: the trial fails at once
  (``skip: excluded``) and does not count against the budget;
* a candidate already measured in this study is not measured again: its result is told
  again (``skip: duplicate``) so the sampler learns, and it does not count either;
* a candidate in the results cache (same model, flags, target, protocol and environment) is
  told its cached result (``cached: true``);
* anything else is submitted to the executor, up to its capacity at once.

After many proposals in a row that measure nothing (a sampler stuck on a small space), an
unmeasured valid candidate is enqueued directly; when none is left the space is exhausted.
Trials that a killed run left RUNNING are failed as ``interrupted`` and their candidates
re-queued, so re-running a study continues it without measuring anything twice.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from request_dse import early_stop, pareto
from request_dse.cache import ResultsCache
from request_dse.errors import UserError
from request_dse.early_stop import STATUS as DOMINATED_EARLY
from request_dse.early_stop import FrontSnapshot
from request_dse.execute._base import Executor, TrialJob
from request_dse.plan import Plan, make_job
from request_dse.records import TrialResult
from request_dse.samplers import make_sampler
from request_dse.space import Candidate
from request_dse.storage import (CACHED, DUPLICATE_OF, ERROR, HASH, INFO, METRICS, OWNER, PATHS, REQUEUED, SKIP,
                                 STATUS, TIMINGS, TrialRecord, batched, open_storage, owner_alive, owner_id, record)

#: Proposals in a row that measure nothing before an unmeasured candidate is enqueued.
MAX_IDLE_PROPOSALS = 25
MAX_FRUITLESS_PROPOSALS = 20 * MAX_IDLE_PROPOSALS
#: A trial another process has just asked for carries no owner for a moment (the owner is stored
#: with its parameters); only after this long without one is it a dead run's to recover.
OWNERLESS_GRACE_S = 10.0
#: How long a proposal waits for earlier trials of other processes to store their candidate.
SETTLE_S = 5.0


def _just_asked(trial: Any, now: datetime.datetime) -> bool:
    """A trial some process asked for a moment ago and has not stored its owner on yet."""
    return OWNER not in trial.user_attrs and trial.datetime_start is not None \
        and (now - trial.datetime_start).total_seconds() < OWNERLESS_GRACE_S


def _one_write(method: Callable[..., None]) -> Callable[..., None]:
    """Run a telling method with its storage writes appended together."""

    @functools.wraps(method)
    def wrapper(self: Search, *args: Any, **kwargs: Any) -> None:
        with batched(self.study):
            method(self, *args, **kwargs)

    return wrapper


class Observer(Protocol):
    """Watches a search: progress display, tracking. Must not raise."""

    def on_start(self, search: Search) -> None: ...

    def on_trial(self, search: Search, record: TrialRecord) -> None: ...

    def on_tick(self, search: Search) -> None: ...

    def on_end(self, search: Search) -> None: ...


@dataclass
class Counters:
    measured: int = 0
    ok: int = 0
    failed: int = 0
    skipped: int = 0
    cached: int = 0
    in_flight_elsewhere: int = 0
    dominated_early: int = 0   # measured briefly: the front beat them beyond the noise


@dataclass
class Search:
    plan: Plan
    executor: Executor
    observers: Sequence[Observer] = ()
    cache: ResultsCache | None = None
    study: Any = None
    started: float = 0.0
    counters: Counters = field(default_factory=Counters)
    exhausted: bool = False
    stop_reason: str = ""
    _owner: str = ""
    _measured: dict[str, TrialRecord] = field(default_factory=dict)
    _in_flight: dict[str, tuple[Any, TrialJob]] = field(default_factory=dict)
    _held: dict[str, list[tuple[Any, Candidate]]] = field(default_factory=dict)
    _grid: list[Candidate] | None = None
    _rng: random.Random = field(default_factory=random.Random)
    _finished: dict[int, TrialRecord] = field(default_factory=dict)
    _front_memo: tuple[tuple[int, int], Any] | None = None

    # -- set-up ---------------------------------------------------------------------------------
    def open(self) -> Any:
        import optuna

        plan = self.plan
        storage = open_storage(plan.storage_url)
        directions = [o.direction for o in plan.study.objectives]
        sampler = make_sampler(plan.study.sampler, plan.study.trials, plan)
        study = optuna.create_study(study_name=plan.name, storage=storage, directions=directions, sampler=sampler,
                                    load_if_exists=True)
        if [d.name.lower() for d in study.directions] != directions:
            raise UserError(f"study {plan.name!r} in {plan.storage_url} was created with other objectives; "
                            "give the study another name or work_dir")
        names = study.user_attrs.get("objectives")
        if names is None:
            study.set_user_attr("objectives", list(plan.study.metric_names))
        elif list(names) != list(plan.study.metric_names):
            raise UserError(f"study {plan.name!r} in {plan.storage_url} optimizes {', '.join(names)}, not "
                            f"{', '.join(plan.study.metric_names)}; give the study another name or work_dir")
        _check_space_unchanged(plan, study)
        self.study = study
        self._owner = owner_id()
        self._rng = random.Random(plan.study.sampler.seed)
        if plan.study.sampler.name == "grid":
            self._grid = plan.space.shuffled(plan.study.sampler.seed)
        return study

    def recover(self) -> list[int]:
        """Fail the trials a dead run left RUNNING (``interrupted``) and re-queue their candidates."""
        from optuna.trial import TrialState

        recovered = []
        now = datetime.datetime.now()
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if _just_asked(trial, now) or owner_alive(trial.user_attrs.get(OWNER)):
                continue
            storage = self.study._storage
            storage.set_trial_user_attr(trial._trial_id, STATUS, "interrupted")
            storage.set_trial_user_attr(trial._trial_id, ERROR, "the process running this trial stopped before it finished")
            self.study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
            if trial.params and trial.user_attrs.get(SKIP) is None:
                self.study.enqueue_trial(trial.params, user_attrs={REQUEUED: trial.number}, skip_if_exists=True)
            recovered.append(trial.number)
        return recovered

    # -- state ----------------------------------------------------------------------------------
    def records(self) -> list[TrialRecord]:
        """The study's trials as records; a finished trial is read once (it never changes)."""
        out = []
        for trial in self.study.get_trials(deepcopy=False):
            rec = self._finished.get(trial.number)
            if rec is None:
                rec = record(trial)
                if trial.state.is_finished():
                    self._finished[trial.number] = rec
            out.append(rec)
        return out

    def refresh(self) -> None:
        from optuna.trial import TrialState

        counters = Counters()
        measured: dict[str, TrialRecord] = {}
        for rec in self.records():
            if rec.state == "RUNNING" and rec.hash and rec.skip is None and rec.hash not in self._in_flight \
                    and rec.owner != self._owner and owner_alive(rec.owner):
                counters.in_flight_elsewhere += 1
            if rec.skip is not None:
                counters.skipped += 1
            if not rec.measured or rec.state == TrialState.RUNNING.name:
                continue
            counters.measured += 1
            counters.ok += rec.status == "ok"
            counters.failed += rec.status not in ("ok", "infeasible", DOMINATED_EARLY)
            counters.dominated_early += rec.status == DOMINATED_EARLY
            counters.cached += rec.cached
            if rec.hash and rec.hash not in measured:
                measured[rec.hash] = rec
        self.counters = counters
        self._measured = measured

    def running(self) -> list[tuple[int, Candidate]]:
        """The trials being built or measured now: (trial number, candidate)."""
        return [(trial.number, job.candidate) for trial, job in self._in_flight.values()]

    @property
    def budget(self) -> int:
        return self.plan.study.trials

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _out_of_time(self) -> bool:
        limit = self.plan.study.time_budget_s
        return limit is not None and self.elapsed() >= limit

    def _may_ask(self) -> bool:
        taken = self.counters.measured + len(self._in_flight) + self.counters.in_flight_elsewhere
        if taken >= self.budget:
            self.stop_reason = self.stop_reason or "budget reached"
            return False
        if self._out_of_time():
            self.stop_reason = "time budget reached"
            return False
        return not self.exhausted

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> Search:
        if self.study is None:
            self.open()
        self.started = time.monotonic()
        self.recover()
        self.refresh()
        for observer in self.observers:
            observer.on_start(self)
        try:
            while True:
                idle = 0
                while self.executor.in_flight < self.executor.capacity and self._may_ask():
                    idle = 0 if self._propose() else idle + 1
                    if idle >= MAX_IDLE_PROPOSALS and not self._enqueue_unmeasured():
                        self.exhausted = True
                        self.stop_reason = "search space exhausted"
                    elif idle >= MAX_FRUITLESS_PROPOSALS:  # a safety net: never spin on proposals forever
                        self.exhausted = True
                        self.stop_reason = f"no proposal led to a measurement in {idle} tries"
                if self.executor.in_flight == 0 and not self._may_ask():
                    self.recover()  # what a run killed within the grace period left RUNNING
                    break
                for job, result in self.executor.wait(timeout=0.25):
                    self._finish(job, result)
                self.refresh()
                for observer in self.observers:
                    observer.on_tick(self)
        except KeyboardInterrupt:
            for job, result in self.executor.shutdown():
                self._finish(job, result)
            self.stop_reason = "interrupted"
            raise
        finally:
            self.refresh()
            for observer in self.observers:
                observer.on_end(self)
        return self

    def _enqueue_unmeasured(self) -> bool:
        """Put an unmeasured valid candidate at the head of the queue; False when none is left."""
        taken = set(self._measured) | set(self._in_flight)
        space = self.plan.space
        if space.enumerable and space.count() <= 200_000:
            pool = self._grid if self._grid is not None else space.shuffled(self._rng.randrange(2**31))
            choice = next((c for c in pool if c.hash not in taken), None)
        else:
            choice = None
            for _ in range(200):
                c = space.sample(self._rng)
                if c is not None and c.hash not in taken:
                    choice = c
                    break
        if choice is None:
            return False
        self.study.enqueue_trial(choice.params)
        return True

    def _propose(self) -> bool:
        """Ask for one trial; True when it leads to a measurement (or a cached result)."""
        if self._grid is not None and not self._enqueue_unmeasured():
            self.exhausted = True
            self.stop_reason = "every candidate of the grid was measured"
            return False
        trial = self.study.ask()
        try:
            with batched(self.study):  # the owner, the parameters and the hash in one storage write
                trial.set_user_attr(OWNER, self._owner)
                candidate = self.plan.space.suggest(trial)
                trial.set_user_attr(HASH, candidate.hash)
        except ValueError as exc:  # an enqueued value outside the (changed) space
            self._tell_skip(trial, None, "excluded", "infeasible", f"not in the search space: {exc}")
            return False
        excluded = self.plan.space.excluded_by(candidate)
        if excluded is not None:
            self._tell_skip(trial, candidate, "excluded", "infeasible", f"excluded by the space: {excluded.describe()}")
            return False
        if candidate.hash in self._measured:
            self._tell_duplicate(trial, candidate, self._measured[candidate.hash])
            return False
        if candidate.hash in self._in_flight:
            self._held.setdefault(candidate.hash, []).append((trial, candidate))
            return False
        rival, taken = self._claimed_elsewhere(trial, candidate)
        if rival is None and taken >= self.budget:  # other processes took the rest of the budget first
            self._tell_skip(trial, candidate, "budget", "skipped",
                            "the budget was reached by other processes sharing the study")
            self.exhausted, self.stop_reason = True, "budget reached"
            return False
        if rival is not None:
            if rival.measured:
                self._tell_duplicate(trial, candidate, rival)
            else:
                self._tell_skip(trial, candidate, "duplicate", "duplicate",
                                f"trial {rival.number} of another process is measuring this candidate")
            self.study.sampler.reseed_rng()  # stop proposing in lockstep with a process seeded alike
            return False
        if self.cache is not None and self.plan.study.cache:
            hit = self.cache.get(self.plan.trial_key(candidate))
            if hit is not None:
                self._tell_result(trial, candidate, _result_from_cache(candidate, hit), cached=True)
                return True
        job = make_job(self.plan, trial.number, candidate)
        if self.plan.study.measure.early_stop.enabled:
            job = dataclasses.replace(job, front=self.front_snapshot())
        self._in_flight[candidate.hash] = (trial, job)
        self.executor.submit(job)
        return True

    def _claimed_elsewhere(self, trial: Any, candidate: Candidate) -> tuple[TrialRecord | None, int]:
        """The trial of another process that holds ``candidate``, and how many earlier trials
        hold a share of the budget (measured, or being measured by a live process).

        Several processes may share a study. Each stores the candidate's hash on its trial before
        measuring, then looks at the earlier trials: the earliest trial holding a hash wins, and
        the first ``budget`` claims take the budget, so a candidate is measured once and the
        budget is kept however the processes interleave.
        """
        from optuna.trial import TrialState

        rival: TrialRecord | None = None
        taken = 0
        mine = {t.number for t, _ in self._in_flight.values()}
        running_hashes: set[str] = set()
        for other in self._earlier_trials_settled(trial.number):
            attrs = other.user_attrs
            if other.number >= trial.number or attrs.get(SKIP) is not None or attrs.get(HASH) is None:
                continue
            finished = attrs.get(STATUS, "") not in ("", "interrupted") and other.state != TrialState.RUNNING
            # a running trial takes a share once per candidate: twins wait for it (held), and
            # this process's own running trials count only while measured (not while held)
            running = other.state == TrialState.RUNNING and attrs[HASH] not in running_hashes and (
                other.number in mine if attrs.get(OWNER) == self._owner else owner_alive(attrs.get(OWNER)))
            if not (finished or running):
                continue
            if running:
                running_hashes.add(attrs[HASH])
            taken += 1
            if rival is None and attrs[HASH] == candidate.hash and (finished or attrs.get(OWNER) != self._owner):
                rival = record(other)
        return rival, taken

    def _earlier_trials_settled(self, number: int) -> list[Any]:
        """The study's trials once every trial before ``number`` that another live process has
        just asked for carries its hash (it is stored a moment after the ask; deciding without it
        would let two processes both take the last share of the budget)."""
        from optuna.trial import TrialState

        deadline = time.monotonic() + SETTLE_S
        while True:
            trials = self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE,
                                                                   TrialState.FAIL))
            now = datetime.datetime.now()
            unsettled = [t for t in trials if t.number < number and t.state == TrialState.RUNNING
                         and t.user_attrs.get(HASH) is None and t.user_attrs.get(SKIP) is None
                         and t.user_attrs.get(OWNER) != self._owner
                         and (_just_asked(t, now) or owner_alive(t.user_attrs.get(OWNER)))]
            if not unsettled or time.monotonic() >= deadline:
                return trials
            time.sleep(0.01)

    # -- telling --------------------------------------------------------------------------------
    def _finish(self, job: TrialJob, result: TrialResult) -> None:
        trial, _ = self._in_flight.pop(job.candidate.hash, (None, None))
        if trial is None:
            return
        rec = self._tell_result(trial, job.candidate, result)
        if result.status == "interrupted":
            self.study.enqueue_trial(trial.params, user_attrs={REQUEUED: trial.number}, skip_if_exists=True)
        elif self.cache is not None and self.plan.study.cache:
            self.cache.put(self.plan.trial_key(job.candidate), _cache_record(result, rec))
        for held, candidate in self._held.pop(job.candidate.hash, []):
            if result.status == "interrupted":
                self._tell_skip(held, candidate, "duplicate", "interrupted", "its twin was interrupted")
            else:
                self._tell_duplicate(held, candidate, rec)

    def _objective_values(self, metrics: dict[str, float]) -> list[float] | None:
        values = [metrics.get(m) for m in self.plan.study.metric_names]
        if any(v is None or not np.isfinite(v) for v in values):
            return None
        return [float(v) for v in values]  # type: ignore[arg-type]

    def _tell_result(self, trial: Any, candidate: Candidate, result: TrialResult, *, cached: bool = False) -> TrialRecord:
        from optuna.trial import TrialState

        metrics = {k: float(v) for k, v in result.metrics.items() if v is not None and np.isfinite(v)}
        status, error = result.status, result.error
        # a dominated_early estimate is told as a complete trial (the sampler learns from it), but
        # only ``ok`` trials make the Pareto front, submissions and the results cache
        values = self._objective_values(metrics) if status in ("ok", DOMINATED_EARLY) else None
        if status in ("ok", DOMINATED_EARLY) and values is None:
            missing = [m for m in self.plan.study.metric_names if m not in metrics]
            status, error = "run_error", f"the measurement produced no {', '.join(missing)}"
        constraints: dict[str, float] = {}
        if values is not None:
            for c in self.plan.study.constraints:
                constraints[str(c)] = c.violation(metrics[c.metric])
            broken = [f"{name} (got {metrics[c.metric]:.4g})" for c, name in
                      zip(self.plan.study.constraints, constraints) if constraints[name] > 0]
            if broken:
                status, error = "infeasible", "violates " + "; ".join(broken)
        paths = {k: str(v) for k, v in (("artifact", result.artifact_dir), ("samples", result.samples_path),
                                        ("build_log", result.build_log), ("measure_log", result.measure_log))
                 if v is not None}
        attrs = {STATUS: status, METRICS: metrics, ERROR: error, PATHS: paths, INFO: dict(result.info),
                 TIMINGS: dict(result.timings)}
        if cached:
            attrs[CACHED] = True
        with batched(self.study):  # attributes, constraints and state in one storage write
            for key, value in attrs.items():
                trial.set_user_attr(key, value)
            for name, value in constraints.items():
                trial.set_constraint(name, value)
            if values is not None:
                self.study.tell(trial, values, state=TrialState.COMPLETE)
            else:
                self.study.tell(trial, state=TrialState.FAIL)
        rec = TrialRecord(trial.number, "COMPLETE" if values is not None else "FAIL", status, candidate.params,
                          candidate.hash, metrics, error, cached=cached, paths=paths, info=dict(result.info),
                          timings=dict(result.timings), constraints=constraints)
        if candidate.hash not in self._measured:
            self._measured[candidate.hash] = rec
        self.counters.measured += 1
        self.counters.ok += status == "ok"
        self.counters.failed += status not in ("ok", "infeasible", DOMINATED_EARLY)
        self.counters.dominated_early += status == DOMINATED_EARLY
        self._notify(rec)
        return rec

    @_one_write
    def _tell_duplicate(self, trial: Any, candidate: Candidate, original: TrialRecord) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr(SKIP, "duplicate")
        trial.set_user_attr(DUPLICATE_OF, original.number)
        trial.set_user_attr(STATUS, original.status)
        trial.set_user_attr(METRICS, dict(original.metrics))
        trial.set_user_attr(ERROR, original.error)
        values = self._objective_values(dict(original.metrics)) \
            if original.status in ("ok", "infeasible", DOMINATED_EARLY) else None
        for name, value in original.constraints.items():
            trial.set_constraint(name, value)
        if values is not None:
            self.study.tell(trial, values, state=TrialState.COMPLETE)
        else:
            self.study.tell(trial, state=TrialState.FAIL)
        self.counters.skipped += 1

    @_one_write
    def _tell_skip(self, trial: Any, candidate: Candidate | None, skip: str, status: str, error: str) -> None:
        from optuna.trial import TrialState

        trial.set_user_attr(SKIP, skip)
        trial.set_user_attr(STATUS, status)
        trial.set_user_attr(ERROR, error)
        self.study.tell(trial, state=TrialState.FAIL)
        self.counters.skipped += 1

    def _notify(self, rec: TrialRecord) -> None:
        for observer in self.observers:
            observer.on_trial(self, rec)

    def front_snapshot(self) -> FrontSnapshot:
        """The current front's objective values (full measurements only), frozen for a job."""
        names = self.plan.study.metric_names
        ok = [(r.number, values) for r in self._measured.values() if r.status == "ok" and r.skip is None
              and (values := self._objective_values(dict(r.metrics))) is not None]
        if ok:
            directions = [o.direction for o in self.plan.study.objectives]
            idx = pareto.front(np.array([v for _, v in ok]), directions)
            ok = [ok[i] for i in idx]
        spreads = [float(r.info["session_spread"]) for r in self._measured.values()
                   if r.status == "ok" and r.info.get("session_spread") is not None]
        return early_stop.snapshot(names, [o.direction for o in self.plan.study.objectives], ok,
                                   self.plan.study.constraints, session_noise=max(spreads, default=0.0))

    # -- results --------------------------------------------------------------------------------
    def front(self) -> tuple[list[TrialRecord], list[float], float]:
        recs = self.records()
        key = (len(recs), len(self._finished))  # the front changes only when a trial finishes
        if self._front_memo is None or self._front_memo[0] != key:
            self._front_memo = (key, study_front(self.plan, recs))
        return self._front_memo[1]


def _check_space_unchanged(plan: Plan, study: Any) -> None:
    """Refuse to continue a study whose dimensions changed their domain since it started.

    Optuna cannot change the distribution of a parameter within one study (every proposal
    would fail); a dimension may be added or dropped, but not redefined.
    """
    current = {d.name: d for d in plan.space.dimensions}
    checked: set[str] = set()
    for trial in study.get_trials(deepcopy=False):
        for name, started in trial.distributions.items():
            if name in checked or name not in current:
                continue
            checked.add(name)
            now = current[name].to_optuna()
            if now != started:
                raise UserError(f"{plan.study.source}: space: dimension {name} is now {_domain(now)}, but study "
                                f"{plan.name!r} in {plan.storage_url} started with {_domain(started)}; a running "
                                "study cannot change a dimension: restore it, or give the study another name or work_dir")
        if len(checked) == len(current):
            return


def _domain(distribution: Any) -> str:
    choices = getattr(distribution, "choices", None)
    if choices is not None:
        return "[" + ", ".join(map(str, choices)) + "]"
    log = ", log" if getattr(distribution, "log", False) else ""
    step = f", step {distribution.step}" if getattr(distribution, "step", None) not in (None, 1) else ""
    return f"[{distribution.low} .. {distribution.high}{step}{log}]"


def study_front(plan: Plan, all_records: Sequence[TrialRecord]) -> tuple[list[TrialRecord], list[float], float]:
    """The ok trials on the Pareto front, the reference point and the hypervolume."""
    ok = [r for r in all_records if r.measured and r.status == "ok" and r.skip is None]
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    if not ok:
        return [], [plan.study.reference_point.get(m, 0.0) for m in names], 0.0
    points = np.array([[r.metrics[m] for m in names] for r in ok])
    computed = pareto.reference_point(points, directions)
    reference = [float(plan.study.reference_point.get(m, computed[j])) for j, m in enumerate(names)]
    idx = pareto.front(points, directions)
    hv = pareto.hypervolume(points[idx], directions, reference)
    return [ok[i] for i in idx], reference, hv


def _cache_record(result: TrialResult, rec: TrialRecord) -> dict[str, Any]:
    return {"status": result.status, "metrics": dict(result.metrics), "error": result.error,
            "paths": dict(rec.paths), "info": dict(result.info), "timings": dict(result.timings)}


def _result_from_cache(candidate: Candidate, hit: dict[str, Any]) -> TrialResult:
    from pathlib import Path

    paths = hit.get("paths", {})
    return TrialResult(candidate, hit["status"], hit.get("metrics", {}), hit.get("error", ""),
                       Path(paths["artifact"]) if "artifact" in paths else None,
                       Path(paths["samples"]) if "samples" in paths else None,
                       Path(paths["build_log"]) if "build_log" in paths else None,
                       hit.get("info", {}), {})
