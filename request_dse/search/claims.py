"""Several processes sharing one study: who measures a candidate, who takes the budget, and what
a dead run left behind.

Each process stores the candidate's hash on its trial before measuring, then looks at the
earlier trials: the earliest trial holding a hash wins, and the first ``budget`` claims take the
budget, so a candidate is measured once and the budget is kept however the processes interleave.
Trials a dead run left RUNNING are failed as ``interrupted`` and their candidates re-queued.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Collection
from typing import Any

from request_dse.results import TrialRecord
from request_dse.search._optuna import set_trial_user_attr
from request_dse.search.storage import ERROR, HASH, OWNER, REQUEUED, SKIP, STATUS, owner_alive, record

#: A trial another process has just asked for carries no owner for a moment (the owner is stored
#: with its parameters); only after this long without one is it a dead run's to recover.
OWNERLESS_GRACE_S = 10.0
#: How long a proposal waits for earlier trials of other processes to store their candidate.
SETTLE_S = 5.0


def just_asked(trial: Any, now: datetime.datetime) -> bool:
    """A trial some process asked for a moment ago and has not stored its owner on yet."""
    return OWNER not in trial.user_attrs and trial.datetime_start is not None \
        and (now - trial.datetime_start).total_seconds() < OWNERLESS_GRACE_S


def recover(study: Any) -> list[int]:
    """Fail the trials a dead run left RUNNING (``interrupted``) and re-queue their candidates."""
    from optuna.trial import TrialState

    recovered = []
    now = datetime.datetime.now()
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        if just_asked(trial, now) or owner_alive(trial.user_attrs.get(OWNER)):
            continue
        set_trial_user_attr(study, trial, STATUS, "interrupted")
        set_trial_user_attr(study, trial, ERROR, "the process running this trial stopped before it finished")
        study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
        if trial.params and trial.user_attrs.get(SKIP) is None:
            study.enqueue_trial(trial.params, user_attrs={REQUEUED: trial.number}, skip_if_exists=True)
        recovered.append(trial.number)
    return recovered


def claimed_elsewhere(study: Any, number: int, candidate_hash: str, owner: str,
                      mine: Collection[int]) -> tuple[TrialRecord | None, int]:
    """The trial of another process that holds ``candidate_hash``, and how many trials before
    ``number`` hold a share of the budget (measured, or being measured by a live process).
    ``mine``: the trial numbers this process is measuring now."""
    from optuna.trial import TrialState

    rival: TrialRecord | None = None
    taken = 0
    running_hashes: set[str] = set()
    for other in _earlier_trials_settled(study, number, owner):
        attrs = other.user_attrs
        if other.number >= number or attrs.get(SKIP) is not None or attrs.get(HASH) is None:
            continue
        finished = attrs.get(STATUS, "") not in ("", "interrupted") and other.state != TrialState.RUNNING
        # a running trial takes a share once per candidate: twins wait for it (held), and
        # this process's own running trials count only while measured (not while held)
        running = other.state == TrialState.RUNNING and attrs[HASH] not in running_hashes and (
            other.number in mine if attrs.get(OWNER) == owner else owner_alive(attrs.get(OWNER)))
        if not (finished or running):
            continue
        if running:
            running_hashes.add(attrs[HASH])
        taken += 1
        if rival is None and attrs[HASH] == candidate_hash and (finished or attrs.get(OWNER) != owner):
            rival = record(other)
    return rival, taken


def _earlier_trials_settled(study: Any, number: int, owner: str) -> list[Any]:
    """The study's trials once every trial before ``number`` that another live process has
    just asked for carries its hash (it is stored a moment after the ask; deciding without it
    would let two processes both take the last share of the budget)."""
    from optuna.trial import TrialState

    deadline = time.monotonic() + SETTLE_S
    while True:
        trials = study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.COMPLETE, TrialState.FAIL))
        now = datetime.datetime.now()
        unsettled = [t for t in trials if t.number < number and t.state == TrialState.RUNNING
                     and t.user_attrs.get(HASH) is None and t.user_attrs.get(SKIP) is None
                     and t.user_attrs.get(OWNER) != owner
                     and (just_asked(t, now) or owner_alive(t.user_attrs.get(OWNER)))]
        if not unsettled or time.monotonic() >= deadline:
            return trials
        time.sleep(0.01)
