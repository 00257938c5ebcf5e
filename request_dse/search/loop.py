"""The search: Optuna's ask/tell loop over a plan's space, with an executor measuring candidates.

Proposals come from :class:`~.proposals.Proposer` (candidates a stopped run left unmeasured
first, then the sampler or the pool of unmeasured candidates). Per proposal: a candidate a space
constraint or a learned exclusion (:mod:`.exclusions`) rules out fails at once (``skip:
excluded``), one already measured is told its result again (``skip: duplicate``) -- neither
counts against the budget; one in the results cache is told its cached result; anything else
goes to the executor, up to its capacity at once. Trials a dead run left RUNNING (also one of
another process sharing the study, while this one runs) are failed as ``interrupted`` and their
candidates measured again first. A process that took its share waits while other live processes
still measure: their trials may come back unmeasured, and whoever finishes last meets the budget.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from request_dse.evaluate import TrialJob, make_job
from request_dse.evaluate.deferral import STATUS as DEFERRED
from request_dse.results import TrialRecord, TrialResult
from request_dse.results.cache import cache_record, result_from_cache
from request_dse.search._optuna import ask_for, batched
from request_dse.search.claims import claimed_elsewhere, recover
from request_dse.search.exclusions import Exclusion, Exclusions
from request_dse.search.front import FrontTracker
from request_dse.search.index import TrialIndex
from request_dse.search.ledger import Ledger
from request_dse.search.proposals import Proposer
from request_dse.search.samplers import make_sampler
from request_dse.search.state import SearchState
from request_dse.search.storage import HASH, OWNER, open_study, owner_id
from request_dse.search.waiting import WaitingRoom
from request_dse.space import Candidate

#: Proposals in a row that measure nothing before the search gives up (a safety net).
MAX_FRUITLESS_PROPOSALS = 500
#: How long the search waits between looks while other processes finish their trials.
WAIT_S = 0.25


@dataclass
class Search(SearchState):
    # -- set-up ---------------------------------------------------------------------------------
    def open(self) -> Any:
        plan = self.plan
        study = open_study(plan, make_sampler(plan.study.sampler, plan.study.trials, plan))
        self.study = study
        self._owner = owner_id()
        self._front = FrontTracker(plan)
        self._exclusions = Exclusions(plan, study, self._excluded)
        self._index = TrialIndex(study, self._owner, listeners=[self._seen_finished])
        self._ledger = Ledger(plan, study, self._index, self._notify)
        self._proposer = Proposer(plan.space, plan.study.sampler.seed, grid=plan.study.sampler.name == "grid")
        early = plan.study.measure.early_stop
        if early.enabled and early.defer > 0:
            self._waiting = WaitingRoom(early, self._front.names, self._front.directions)
        if early.enabled:  # a trial reads the newest front when its measurement starts and its judging session ends
            self.executor.follow_front(lambda: self._newest_front)
        self._index.refresh()
        return study

    def recover(self) -> list[int]:
        """Fail the trials a dead run left RUNNING (``interrupted``); their candidates come first."""
        return recover(self.study, self.index)

    def _out_of_time(self) -> bool:
        limit = self.plan.study.time_budget_s
        return limit is not None and self.elapsed() >= limit

    def _may_ask(self) -> bool:
        c = self.counters
        if self._budget_full or c.measured + len(self._in_flight) + c.in_flight_elsewhere >= self.budget:
            self.stop_reason = "budget reached"
            return False
        if self._out_of_time():
            self.stop_reason = "time budget reached"
            return False
        if self.exhausted and any(self._free_params(r.params) for r in self.index.interrupted.values()):
            self.exhausted, self.stop_reason = False, ""  # a stopped trial left work behind
        return not self.exhausted

    def _share_came_back(self) -> bool:
        """Whether the budget looked full only because of another process's trial that then took
        no share (it stored its candidate, then turned out a duplicate or excluded): with nothing
        in flight anywhere and fewer measured than the budget, there is budget left to take."""
        if not self._budget_full or self._out_of_time():
            return False
        self.index.refresh()
        c = self.index.counters
        if c.measured + self.index.in_flight_elsewhere(set()) >= self.budget:
            return False
        self._budget_full = False
        return True

    def _others_may_leave_work(self) -> bool:
        """Whether to wait: other live processes still measure, and what they measure may come back
        unmeasured (interrupted), leaving budget or candidates to this process."""
        if self._out_of_time() or self.index.counters.measured >= self.budget:
            return False
        recover(self.study, self.index)
        return self.index.in_flight_elsewhere(set()) > 0

    def _free(self, candidate: Candidate, elsewhere: set[str]) -> bool:
        """Whether a candidate may be proposed now: not measured, not in flight (here or
        ``elsewhere``), not excluded."""
        h = candidate.hash
        return h not in self.index.measured and h not in self._in_flight and h not in elsewhere \
            and self._exclusions.match(candidate.params) is None \
            and self.plan.refused(candidate) is None  # type: ignore[union-attr]

    def _free_params(self, params: Any) -> bool:
        try:
            return self._free(self.plan.space.candidate(params), self.index.held_elsewhere())
        except ValueError:
            return False

    # -- the loop -------------------------------------------------------------------------------
    def run(self) -> Search:
        if self.study is None:
            self.open()
        self.started = time.monotonic()
        self.recover()
        for observer in self.observers:
            observer.on_start(self)
        try:
            while True:
                idle = 0
                self._resume(everything=False)
                while self.executor.in_flight < self.executor.capacity and self._may_ask():
                    idle = 0 if self._propose() else idle + 1
                    if idle >= MAX_FRUITLESS_PROPOSALS:  # a safety net: never spin on proposals forever
                        self.exhausted = True
                        self.stop_reason = f"no proposal led to a measurement in {idle} tries"
                if self.executor.in_flight == 0 and not self._may_ask():
                    if self._share_came_back() or self._resume(everything=True):
                        continue
                    if not self._others_may_leave_work():
                        break
                    self.stop_reason = "waiting for the trials of other processes sharing the study"
                    for observer in self.observers:
                        observer.on_tick(self)
                    time.sleep(WAIT_S)
                    self._budget_full = False
                    continue
                for job, result in self.executor.wait(timeout=WAIT_S):
                    self._finish(job, result)
                self.recover()  # also what another process sharing the study left when it died
                for observer in self.observers:
                    observer.on_tick(self)
        except KeyboardInterrupt:
            for job, result in self.executor.shutdown():
                self._finish(job, result)
            self.stop_reason = "interrupted"
            raise
        finally:
            for trial, job in self._waiting.abandon() if self._waiting is not None else ():
                self._in_flight.pop(job.candidate.hash, None)  # measured again first by the next run
                self._tell(trial, job, job.failed("interrupted", "the study stopped while its other sessions waited"))
            self.refresh()
            for observer in self.observers:
                observer.on_end(self)
        return self

    def _propose(self) -> bool:
        """Make one proposal; True when it leads to a measurement (or a cached result)."""
        proposer, ledger = self._proposer, self.ledger
        elsewhere = self.index.held_elsewhere()
        source, chosen = proposer.next(lambda c: self._free(c, elsewhere),  # type: ignore[union-attr]
                                       self.index.interrupted.values())
        if source == "exhausted":
            self.exhausted = True
            self.stop_reason = "every candidate of the grid was measured" if proposer.grid else "search space exhausted"  # type: ignore[union-attr]
            return False
        trial = self.study.ask() if chosen is None else ask_for(self.study, chosen.params)
        try:
            with batched(self.study):  # the owner, the parameters and the hash in one storage write
                trial.set_user_attr(OWNER, self._owner)
                candidate = self.plan.space.suggest(trial)
                trial.set_user_attr(HASH, candidate.hash)
        except ValueError as exc:  # an enqueued value outside the (changed) space
            ledger.skip(trial, "excluded", "infeasible", f"not in the search space: {exc}")
            return False
        known = self._known(trial, candidate)
        if source == "sampler":
            proposer.sampler_said(known)  # type: ignore[union-attr]
        if known:
            return False
        mine = {t.number for t, _ in self._in_flight.values()}
        rival, taken = claimed_elsewhere(self.index, trial.number, candidate.hash, mine)
        if rival is None and taken >= self.budget:  # other processes took the rest of the budget first
            ledger.skip(trial, "budget", "skipped", "the budget was reached by other processes sharing the study")
            self._budget_full = True
            return False
        if rival is not None:
            if rival.measured:
                ledger.duplicate(trial, rival)
            else:
                ledger.skip(trial, "duplicate", "duplicate",
                            f"trial {rival.number} of another process is measuring this candidate")
            self.study.sampler.reseed_rng()  # stop proposing in lockstep with a process seeded alike
            proposer.collided()  # type: ignore[union-attr]
            return False
        if self.cache is not None and self.plan.study.cache:
            hit = self.cache.get(self.plan.trial_key(candidate))
            if hit is not None:
                ledger.result(trial, candidate, result_from_cache(candidate, hit), cached=True)
                return True
        job = make_job(self.plan, trial.number, candidate)
        if self.plan.study.measure.early_stop.enabled:
            self._newest_front = self.snapshot()
            job = dataclasses.replace(job, front=self._newest_front, defer=self._waiting is not None)
        self._in_flight[candidate.hash] = (trial, job)
        self.executor.submit(job)
        return True

    def _known(self, trial: Any, candidate: Candidate) -> bool:
        """Tell a proposal that measures nothing new (excluded, measured, in flight here); True if so."""
        ledger = self.ledger
        excluded = self.plan.space.excluded_by(candidate) or self.plan.refused(candidate)
        if excluded is not None:
            ledger.skip(trial, "excluded", "infeasible", f"excluded by the space: {excluded.describe()}")
            return True
        learned = self._exclusions.match(candidate.params)  # type: ignore[union-attr]
        if learned is not None:
            ledger.skip(trial, "excluded", "infeasible", f"excluded after trial {learned.trial}: {learned.reason}")
            return True
        if candidate.hash in ledger.measured:
            ledger.duplicate(trial, ledger.measured[candidate.hash])
            return True
        if candidate.hash in self._in_flight:
            self._held.setdefault(candidate.hash, []).append((trial, candidate))
            return True
        return False

    # -- telling --------------------------------------------------------------------------------
    def _finish(self, job: TrialJob, result: TrialResult) -> None:
        trial, _ = self._in_flight.pop(job.candidate.hash, (None, None))
        if trial is None:
            return
        if self._waiting is not None:
            self._waiting.finished(job.candidate.hash)
        if result.status == DEFERRED and self._waiting is not None:  # it waits, still in flight
            self._in_flight[job.candidate.hash] = (trial, job)
            self._waiting.add(trial, job, result)
            self.ledger.waiting(trial, result)
        else:
            self._tell(trial, job, result)
        if self._waiting is not None:
            for waiting, stopped in self._waiting.rejudge(self.snapshot):
                self._in_flight.pop(waiting.job.candidate.hash, None)
                self._tell(waiting.trial, waiting.job, stopped)
        if self._newest_front is not None:  # what trials judged from now on are judged against
            self._newest_front = self.snapshot()

    def _resume(self, *, everything: bool) -> bool:
        """Resume waiting survivors that are due (``everything``: the next one, when nothing else is
        left to measure); True when one was."""
        resumed = False
        while self._waiting is not None and self.executor.in_flight < self.executor.capacity:
            due = self._waiting.next(everything=everything, front=self.snapshot)
            if due is None:
                break
            trial, job = due
            self._in_flight[job.candidate.hash] = (trial, job)
            self.executor.submit(job)
            resumed = True
            if everything:  # one at a time: what it adds to the front may stop the others
                break
        return resumed

    def _tell(self, trial: Any, job: TrialJob, result: TrialResult) -> None:
        ledger = self.ledger
        rec = ledger.result(trial, job.candidate, result)
        if result.status != "interrupted" and self.cache is not None and self.plan.study.cache:
            self.cache.put(self.plan.trial_key(job.candidate), cache_record(result, rec.paths))
        for held, _candidate in self._held.pop(job.candidate.hash, []):
            if result.status == "interrupted":
                ledger.skip(held, "duplicate", "interrupted", "its twin was interrupted")
            else:
                ledger.duplicate(held, rec)

    def _seen_finished(self, rec: TrialRecord) -> None:
        """A trial of the study finished (this process's or another's)."""
        self._front.add(rec)  # type: ignore[union-attr]
        if rec.measured and rec.status not in ("ok", "infeasible", "dominated_early"):
            self._exclusions.learn(rec)  # type: ignore[union-attr]

    def _excluded(self, exclusion: Exclusion) -> None:
        exclude = getattr(self.study.sampler if self.study is not None else None, "exclude", None)
        if exclude is not None:
            exclude(exclusion.matches)

    def _notify(self, rec: TrialRecord) -> None:
        for observer in self.observers:
            observer.on_trial(self, rec)
