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
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from request_dse.errors import UserError
from request_dse.evaluate import TrialJob, make_job
from request_dse.execute import Executor
from request_dse.results import ResultsCache, TrialRecord, TrialResult, study_front
from request_dse.results.cache import cache_record, result_from_cache
from request_dse.search._base import Counters, Observer
from request_dse.search._optuna import batched
from request_dse.search.claims import claimed_elsewhere, recover
from request_dse.search.ledger import Ledger
from request_dse.search.samplers import make_sampler
from request_dse.search.storage import (
    HASH,
    OWNER,
    REQUEUED,
    check_space_unchanged,
    open_storage,
    owner_id,
    record,
)
from request_dse.space import Candidate
from request_dse.study import Plan

#: Proposals in a row that measure nothing before an unmeasured candidate is enqueued.
MAX_IDLE_PROPOSALS = 25
MAX_FRUITLESS_PROPOSALS = 20 * MAX_IDLE_PROPOSALS


@dataclass
class Search:
    plan: Plan
    executor: Executor
    observers: Sequence[Observer] = ()
    cache: ResultsCache | None = None
    study: Any = None
    started: float = 0.0
    exhausted: bool = False
    stop_reason: str = ""
    _ledger: Ledger | None = None
    _owner: str = ""
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
        check_space_unchanged(plan, study)
        self.study = study
        self._ledger = Ledger(plan, study, self._notify)
        self._owner = owner_id()
        self._rng = random.Random(plan.study.sampler.seed)
        if plan.study.sampler.name == "grid":
            self._grid = plan.space.shuffled(plan.study.sampler.seed)
        return study

    def recover(self) -> list[int]:
        """Fail the trials a dead run left RUNNING (``interrupted``) and re-queue their candidates."""
        return recover(self.study)

    # -- state ----------------------------------------------------------------------------------
    @property
    def ledger(self) -> Ledger:
        """What the study has been told (available once the search is open)."""
        if self._ledger is None:
            raise RuntimeError("the search is not open: call open() or run() first")
        return self._ledger

    @property
    def counters(self) -> Counters:
        return self._ledger.counters if self._ledger is not None else Counters()

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
        """Recount the study's trials (other processes may share it)."""
        self.ledger.recount(self.records(), set(self._in_flight), self._owner)

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
        taken = set(self.ledger.measured) | set(self._in_flight)
        space = self.plan.space
        if space.enumerable and space.count() <= 200_000:
            pool = self._grid if self._grid is not None else space.shuffled(self._rng.randrange(2**31))
            choice = next((c for c in pool if c.hash not in taken and self.plan.refused(c) is None), None)
        else:
            choice = None
            for _ in range(200):
                c = space.sample(self._rng)
                if c is not None and c.hash not in taken and self.plan.refused(c) is None:
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
            self.ledger.skip(trial, "excluded", "infeasible", f"not in the search space: {exc}")
            return False
        ledger = self.ledger
        excluded = self.plan.space.excluded_by(candidate) or self.plan.refused(candidate)
        if excluded is not None:
            ledger.skip(trial, "excluded", "infeasible", f"excluded by the space: {excluded.describe()}")
            return False
        if candidate.hash in ledger.measured:
            ledger.duplicate(trial, ledger.measured[candidate.hash])
            return False
        if candidate.hash in self._in_flight:
            self._held.setdefault(candidate.hash, []).append((trial, candidate))
            return False
        mine = {t.number for t, _ in self._in_flight.values()}
        rival, taken = claimed_elsewhere(self.study, trial.number, candidate.hash, self._owner, mine)
        if rival is None and taken >= self.budget:  # other processes took the rest of the budget first
            ledger.skip(trial, "budget", "skipped", "the budget was reached by other processes sharing the study")
            self.exhausted, self.stop_reason = True, "budget reached"
            return False
        if rival is not None:
            if rival.measured:
                ledger.duplicate(trial, rival)
            else:
                ledger.skip(trial, "duplicate", "duplicate",
                            f"trial {rival.number} of another process is measuring this candidate")
            self.study.sampler.reseed_rng()  # stop proposing in lockstep with a process seeded alike
            return False
        if self.cache is not None and self.plan.study.cache:
            hit = self.cache.get(self.plan.trial_key(candidate))
            if hit is not None:
                ledger.result(trial, candidate, result_from_cache(candidate, hit), cached=True)
                return True
        job = make_job(self.plan, trial.number, candidate)
        if self.plan.study.measure.early_stop.enabled:
            job = dataclasses.replace(job, front=self.ledger.front_snapshot())
        self._in_flight[candidate.hash] = (trial, job)
        self.executor.submit(job)
        return True

    # -- telling --------------------------------------------------------------------------------
    def _finish(self, job: TrialJob, result: TrialResult) -> None:
        trial, _ = self._in_flight.pop(job.candidate.hash, (None, None))
        if trial is None:
            return
        ledger = self.ledger
        rec = ledger.result(trial, job.candidate, result)
        if result.status == "interrupted":
            self.study.enqueue_trial(trial.params, user_attrs={REQUEUED: trial.number}, skip_if_exists=True)
        elif self.cache is not None and self.plan.study.cache:
            self.cache.put(self.plan.trial_key(job.candidate), cache_record(result, rec.paths))
        for held, _candidate in self._held.pop(job.candidate.hash, []):
            if result.status == "interrupted":
                ledger.skip(held, "duplicate", "interrupted", "its twin was interrupted")
            else:
                ledger.duplicate(held, rec)

    def _notify(self, rec: TrialRecord) -> None:
        for observer in self.observers:
            observer.on_trial(self, rec)

    # -- results --------------------------------------------------------------------------------
    def front(self) -> tuple[list[TrialRecord], list[float], float]:
        recs = self.records()
        key = (len(recs), len(self._finished))  # the front changes only when a trial finishes
        if self._front_memo is None or self._front_memo[0] != key:
            self._front_memo = (key, study_front(self.plan, recs))
        return self._front_memo[1]
