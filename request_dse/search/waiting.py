"""The survivors whose other sessions wait (``measure.early_stop.defer``), on the search's side.

A job made with ``defer`` comes back ``deferred`` when its candidate survives its judging session
(:mod:`request_dse.evaluate.deferral`). Its trial stays running and waits here: every time the
front changes it is judged again, and once the search has received ``defer`` more results (of
later candidates judged, or of survivors resumed), or has nothing else left to measure, it is
resumed. Meanwhile it stands on the snapshot later candidates are judged against
(:meth:`~request_dse.search.front.FrontTracker.snapshot`), at its judging figures made worse by
the most any survivor's final figures came out worse than its own. A survivor whose judging figures another
waiting (or resuming) one's dominate is resumed only after that one's result, which may stop it;
at the end they are resumed one at a time, so that what each adds to the front can still stop the
others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from request_dse.evaluate import FrontSnapshot, TrialJob
from request_dse.evaluate.deferral import point, rejudge, resume_job
from request_dse.protocol import EarlyStopConfig
from request_dse.results import TrialResult, dominates


@dataclass(frozen=True)
class Waiting:
    trial: Any              # its Optuna trial, still running
    job: TrialJob
    result: TrialResult     # ``deferred``: the judging session's estimate
    since: int              # the clock when it began to wait


class WaitingRoom:
    def __init__(self, early: EarlyStopConfig, metrics: tuple[str, ...], directions: tuple[str, ...]) -> None:
        self.early = early
        self.metrics, self.directions = metrics, directions
        self.clock = 0            # results the search received (a judged candidate's, a resumed one's)
        self.stopped = 0          # waiting survivors the front came to beat
        self._waiting: dict[str, Waiting] = {}
        self._resuming: dict[str, tuple[float, ...]] = {}  # resumed, not back yet: their judging figures

    def __len__(self) -> int:
        return len(self._waiting)

    def add(self, trial: Any, job: TrialJob, result: TrialResult) -> None:
        self._waiting[job.candidate.hash] = Waiting(trial, job, result, self.clock)

    def points(self, exclude: str = "") -> list[tuple[int, tuple[float, ...]]]:
        """The waiting survivors' judging figures, in objective order (but ``exclude``'s, a hash)."""
        out = []
        for key, w in self._waiting.items():
            values = tuple(w.result.metrics.get(m) for m in self.metrics)
            if key != exclude and all(v is not None and np.isfinite(v) for v in values):
                out.append((w.trial.number, tuple(float(v) for v in values)))  # type: ignore[arg-type]
        return out

    def rejudge(self, front: Callable[[str], FrontSnapshot]) -> list[tuple[Waiting, TrialResult]]:
        """The waiting survivors the front (``front(hash)``: without that survivor's own figures) now
        clearly beats, each with its ``dominated_early`` result (they wait no longer)."""
        out = []
        for key, waiting in list(self._waiting.items()):
            stopped = rejudge(waiting.result, front(key), self.early)
            if stopped is not None:
                del self._waiting[key]
                out.append((waiting, stopped))
        self.stopped += len(out)
        return out

    def next(self, *, everything: bool, front: Callable[[str], FrontSnapshot] | None = None) -> tuple[Any, TrialJob] | None:
        """The next survivor to resume, as its trial and the job that runs its other sessions: the
        oldest of those whose wait is over, or, when ``everything`` is to be resumed, the oldest of
        all -- but never one whose judging figures another waiting or resuming survivor's dominate:
        that one's result may stop it. None when none is due. ``front(hash)``: the front the resumed
        survivor is judged against once more (without its own figures)."""
        points = {k: point(w.result, self.metrics, self.directions) for k, w in self._waiting.items()}
        ahead = [*points.values(), *self._resuming.values()]

        def behind(key: str) -> bool:
            p = np.array(points[key])
            return any(dominates(np.array(q), p) for q in ahead)

        due = [w for k, w in self._waiting.items() if not behind(k)
               and (everything or self.clock - w.since >= self.early.defer)]
        if not due:
            return None
        chosen = min(due, key=lambda w: w.since)
        key = chosen.job.candidate.hash
        del self._waiting[key]
        self._resuming[key] = points[key]
        return chosen.trial, resume_job(chosen.job, chosen.result, front(key) if front is not None else None)

    def abandon(self) -> list[tuple[Any, TrialJob]]:
        """Every waiting survivor, as its trial and job, waiting no longer (the search is stopping)."""
        out = [(w.trial, w.job) for w in self._waiting.values()]
        self._waiting.clear()
        return out

    def finished(self, key: str) -> None:
        """A result came back for the candidate ``key`` (a hash): one more on the clock, and a resumed
        survivor among them is resumed no longer."""
        self.clock += 1
        self._resuming.pop(key, None)
