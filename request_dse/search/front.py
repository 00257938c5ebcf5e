"""The study's Pareto front, kept up to date one finished trial at a time.

It gives what :func:`request_dse.results.study_front` computes from all the trials -- the ``ok``
trials no other dominates, the reference point (the worst value of each objective pushed out by
a tenth of its range, unless the study fixes it) and the hypervolume -- but a new trial costs a
comparison with the front, not a pass over the study, and the hypervolume is recomputed (over
the front only) when the front or the reference point changed.
"""

from __future__ import annotations

import bisect
import heapq
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from request_dse.evaluate import FrontSnapshot, early_stop
from request_dse.results import TrialRecord, hypervolume, reference_point
from request_dse.study import Plan

#: Held-out rows a judging session is told to score first, at most.
HARD_ROWS = 64
#: The judging margin covers this share of the survivors' judging gaps (nearest rank, from above):
#: a judging session further off than that is a slow spell, which a second look guards against
#: (the slowest gap seen stays ``slow_session``), not a reason to judge every later candidate
#: with a wider margin.
NOISE_QUANTILE = 0.75


def covering(gaps: Sequence[float], share: float = NOISE_QUANTILE, *, ranked: bool = False) -> float:
    """The smallest of ``gaps`` that ``share`` of them do not exceed (nearest rank, from above);
    ``ranked``: ``gaps`` are sorted already (read once per trial: no sort on that path)."""
    order = gaps if ranked else sorted(gaps)
    return order[max(math.ceil(share * len(order)), 1) - 1]


class FrontTracker:
    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.names = list(plan.study.metric_names)
        self.directions = [o.direction for o in plan.study.objectives]
        self.signs = np.array([-1.0 if d == "maximize" else 1.0 for d in self.directions])
        self._front: list[tuple[TrialRecord, np.ndarray]] = []
        self._lo = np.full(len(self.names), np.inf)   # per objective, own units, over every ok trial
        self._hi = np.full(len(self.names), -np.inf)
        self._count = 0
        self._judge_biases: list[float] = []     # survivors' judging gaps, sorted
        self._session_spread: float | None = None  # the widest between two sessions of a candidate
        self._judge_rise: float | None = None   # the most a survivor's final figures came out worse
        self._result: tuple[list[TrialRecord], list[float], float] | None = None
        self._wrong: Counter[int] = Counter()   # held-out row -> trials that got it wrong
        self._hard: tuple[int, ...] | None = ()
        self._host_probe: float | None = None   # the fastest host-speed probe of a judging session

    def add(self, rec: TrialRecord) -> bool:
        """Take a finished trial into account; True when the front (or its reference) changed."""
        if not rec.measured or rec.skip is not None:
            return False
        if rec.info.get("misclassified"):  # any fully scored trial: which rows are hard
            self._wrong.update(int(i) for i in rec.info["misclassified"])
            self._hard = None
        if rec.info.get("host_probe_ns"):  # any judging session: the host's fast speed
            self._host_probe = min(self._host_probe or math.inf, float(rec.info["host_probe_ns"]))
        if rec.status != "ok":
            return False
        if rec.info.get("judge_bias") is not None:  # how far a judging session's estimate was off
            bisect.insort(self._judge_biases, float(rec.info["judge_bias"]))
        if rec.info.get("judge_rise") is not None:
            self._judge_rise = max(self._judge_rise or 0.0, float(rec.info["judge_rise"]))
        if rec.info.get("session_spread") is not None:
            self._session_spread = max(self._session_spread or 0.0, float(rec.info["session_spread"]))
        try:
            own = np.array([float(rec.metrics[m]) for m in self.names])
        except KeyError:
            return False
        self._count += 1
        lo, hi = np.minimum(self._lo, own), np.maximum(self._hi, own)
        if not (np.array_equal(lo, self._lo) and np.array_equal(hi, self._hi)):
            self._lo, self._hi, self._result = lo, hi, None  # the reference point may have moved
        point = own * self.signs
        if any(np.all(q <= point) and np.any(q < point) for _, q in self._front):
            return True  # dominated: the front did not change
        self._front = [(r, q) for r, q in self._front if not (np.all(point <= q) and np.any(point < q))]
        self._front.append((rec, point))
        self._result = None
        return True

    def result(self) -> tuple[list[TrialRecord], list[float], float]:
        """The front (by trial number), the reference point and the hypervolume."""
        if self._result is None:
            fixed = self.plan.study.reference_point
            if not self._front:
                self._result = [], [float(fixed.get(m, 0.0)) for m in self.names], 0.0
            else:
                computed = reference_point(np.array([self._lo, self._hi]), self.directions)
                reference = [float(fixed.get(m, computed[j])) for j, m in enumerate(self.names)]
                members = sorted(self._front, key=lambda item: item[0].number)
                points = np.array([q * self.signs for _, q in members])
                self._result = [r for r, _ in members], reference, hypervolume(points, self.directions, reference)
        return self._result

    @property
    def session_noise(self) -> float:
        """How far one session's estimate can be off, once a survivor measured one: the gap between a
        judging session's most optimistic estimate and the survivor's final figures that
        :data:`NOISE_QUANTILE` of the survivors' gaps do not exceed (the widest of up to three); before
        that, the widest spread between two sessions of a candidate."""
        if self._judge_biases:
            return covering(self._judge_biases, ranked=True)
        return self._session_spread or 0.0

    @property
    def slow_session(self) -> float | None:
        """How far a judging session was seen off its survivor's final figures (the widest gap), or
        before any survivor of one, how much slower one session of a candidate was than its others
        (None before any candidate had two sessions): a stop by less needs a second session. Once
        judging sessions are read at the host's fast speed (:mod:`request_dse.targets.host_speed`),
        their own gaps are the measure: a whole session in a slow spell no longer shows in them."""
        if self._judge_biases:
            return self._judge_biases[-1]
        return self._session_spread

    @property
    def hard(self) -> tuple[int, ...]:
        """The held-out rows the study's trials got wrong most often (:data:`HARD_ROWS` at most),
        most often first: judging sessions score them first."""
        if self._hard is None:
            ranked = heapq.nsmallest(HARD_ROWS, self._wrong.items(), key=lambda item: (-item[1], item[0]))
            self._hard = tuple(i for i, _ in ranked)
        return self._hard

    def snapshot(self, waiting: Sequence[tuple[int, Sequence[float]]] = ()) -> FrontSnapshot:
        """The front's objective values, frozen for a job that may stop early. ``waiting``: survivors
        whose other sessions wait (number, judging figures), which stand on it at their judging
        figures made as much worse as any survivor's final figures came out (once one did)."""
        front = [(r.number, list(q * self.signs)) for r, q in sorted(self._front, key=lambda item: item[0].number)]
        worse_waiting = []
        if waiting and self._judge_rise is not None:
            worse = 1 + self._judge_rise
            noisy = [m not in early_stop.EXACT_METRICS for m in self.names]
            worse_waiting = [(n, [v if not k else v * worse if d == "minimize" else v / worse
                                  for v, k, d in zip(values, noisy, self.directions)]) for n, values in waiting]
        return early_stop.snapshot(self.names, self.directions, front, self.plan.study.constraints,
                                   session_noise=self.session_noise, slow_session=self.slow_session,
                                   waiting=worse_waiting, hard=self.hard, host_probe_ns=self._host_probe)

    def __len__(self) -> int:
        return len(self._front)
