"""The judge inside the judging session: a candidate the front beats stops after a few runs.

Early stopping (:mod:`.early_stop`) judges a candidate on its first, scored session. Everything
the judgement needs is in the measurement worker: the exact metrics (accuracy from the scored
outputs, sizes, parameters and FLOPs from the build) and the latency samples so far. The
worker asks a :class:`SessionJudge` once ``first_runs`` runs and ``first_time_s`` of run time
are timed (after as long of untimed warm-up: the first runs of a model that runs in
microseconds are still cold) and again at every doubling; when :func:`.early_stop.decide` says
the job's front beats the candidate's most optimistic estimate beyond the margin, the session
ends there. The held-out split is scored at the first look, rows the study's candidates got
wrong most often first, and the judge is asked after each chunk with accuracy's hard bounds so
far (:mod:`request_dse.targets.scoring`): a candidate far off the front then costs a few dozen
scored rows and a handful of runs instead of a whole session. The judge reads the runs at the
host's fast speed: each scaled by the study's fastest host-speed probe over the probe the worker
timed before it (:mod:`request_dse.targets.host_speed`), so a slow spell of the host is not taken
for a slow candidate.

The judge knows the metrics a session determines: latency percentiles, the mean latency and
throughput, accuracy, and the build's exact metrics. A study whose objectives or constraints
use any other metric (energy, cost, ...) is judged after the session only, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from request_dse.backends import BuildResult
from request_dse.evaluate.early_stop import EXACT_METRICS, FrontSnapshot, decide, intervals
from request_dse.evaluate.score import accuracy_bounds, built_metrics, labels_of
from request_dse.evaluate.stats import latency_stats
from request_dse.targets import SessionRequest, SessionResult, host_speed, judge_looks
from request_dse.workloads import PreparedModel

#: Latency metrics a session's samples determine (see :func:`.stats.latency_stats`).
SESSION_METRICS = frozenset({"latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms",
                             "latency_per_sample_ms", "throughput_ips"})


@dataclass(frozen=True)
class SessionJudge:
    """Called by the measurement worker with the samples timed so far and the scored outputs."""

    front: FrontSnapshot
    margin: float
    batch_size: int
    first_runs: int
    first_time_s: float
    known: Mapping[str, float]           # what the build determines
    prepared: PreparedModel              # its held-out labels give accuracy from the scored outputs
    order: tuple[int, ...] = ()          # held-out rows to score first (the study's most often wrong)
    _memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def __call__(self, samples_ns: np.ndarray, top5: np.ndarray | None, scored: np.ndarray | None = None, *,
                 probes_ns: np.ndarray | None = None) -> str | None:
        bounds = self._accuracy(top5, scored)
        samples_ns = host_speed.steady(samples_ns, probes_ns, self.front.host_probe_ns)  # slow spells taken out
        session = SessionResult(samples_ns, 0.0, 0.0, 0.0)
        estimate = {**self.known, **latency_stats([session], self.batch_size),
                    **{m: hi for m, (_, hi) in bounds.items()}}
        reason = decide(estimate, samples_ns / 1e6, self.front, self.margin, bounds)
        if reason is None:
            return None
        rows = "" if scored is None else f" and {len(scored)} of {len(self._memo['labels'])} held-out rows scored"
        return f"{reason} (after {len(samples_ns)} runs{rows})"

    def _accuracy(self, top5: np.ndarray | None, scored: np.ndarray | None) -> Mapping[str, tuple[float, float]]:
        """Accuracy's bounds from the scored outputs so far (exact once every row is scored)."""
        if "labels" not in self._memo:
            self._memo["labels"] = labels_of(self.prepared)
        labels = self._memo["labels"]
        if labels is None or top5 is None:
            return {}
        if scored is not None:
            return accuracy_bounds(top5, labels, scored)
        if "accuracy" not in self._memo:  # the whole split's outputs do not change within the session
            self._memo["accuracy"] = accuracy_bounds(top5, labels)
        return self._memo["accuracy"]


def judges(front: FrontSnapshot) -> bool:
    """Whether every metric the front's objectives and constraints use is one a session determines."""
    used = {*front.metrics, *(c.metric for c in front.constraints)}
    return used <= SESSION_METRICS | EXACT_METRICS


def session_judge(request: SessionRequest, build: BuildResult, front: FrontSnapshot | None,
                  known: Mapping[str, float] | None = None) -> SessionJudge | None:
    """The judge for a judging session, or None where it cannot judge inside the session (no front,
    a LoadGen protocol or compliance run, a metric a session does not determine). ``known``: exact
    metrics an earlier session determined (for an unscored session)."""
    protocol = request.protocol
    if (front is None or not protocol.early_stop.enabled or protocol.uses_loadgen or request.compliance
            or not judges(front) or build.prepared is None):
        return None
    early = protocol.early_stop
    return SessionJudge(front, early.margin, request.batch_size, max(1, early.first_runs), early.first_time_s,
                        {**built_metrics(build), **(known or {})}, build.prepared, front.hard)


def judge_rise(samples_ns: np.ndarray, final: Mapping[str, float], front: FrontSnapshot,
               batch_size: int) -> float | None:
    """How much worse a survivor's final figures came out than its judging session's own figures:
    the largest relative gap over its noisy objectives (0 when the final ones are better). A
    waiting survivor (``early_stop.defer``) stands on the front at its judging figures made this
    much worse, the widest the study has seen. None without samples or noisy objectives."""
    noisy = [(m, d) for m, d in zip(front.metrics, front.directions) if m in SESSION_METRICS and final.get(m)]
    if not noisy or len(samples_ns) == 0:
        return None
    estimate = latency_stats([SessionResult(np.asarray(samples_ns, dtype=np.int64), 0.0, 0.0, 0.0)], batch_size)
    worst = 0.0
    for m, d in noisy:
        got = estimate.get(m)
        if got and np.isfinite(got) and got > 0:
            worst = max(worst, final[m] / got - 1 if d == "minimize" else got / final[m] - 1)
    return worst


def judge_bias(samples_ns: np.ndarray, final: Mapping[str, float], front: FrontSnapshot, first_runs: int,
               first_time_s: float, batch_size: int) -> float | None:
    """How far the judging session's most optimistic estimates overstated a survivor's final figures:
    the largest relative gap over its noisy objectives and over every look a judge took
    (:func:`request_dse.targets.judge_looks`, and the session's end). A margin at least this wide
    would not have stopped this candidate wrongly; the study's survivors' gaps set the margin its
    later candidates are judged with (``FrontSnapshot.session_noise``: what three in four of them do
    not exceed) and the bar of a second look (``slow_session``: the widest). None without samples
    or noisy objectives."""
    noisy = [(m, d) for m, d in zip(front.metrics, front.directions) if m in SESSION_METRICS and final.get(m)]
    n_all = len(samples_ns)
    if not noisy or n_all == 0:
        return None
    looks = [*judge_looks(samples_ns, first_runs, first_time_s), n_all]
    worst = 0.0
    for n in looks:
        head = np.asarray(samples_ns[:n], dtype=np.int64)
        estimate = latency_stats([SessionResult(head, 0.0, 0.0, 0.0)], batch_size)
        bounds = intervals(estimate, head / 1e6, [m for m, _ in noisy])
        for m, d in noisy:
            lo, hi = bounds[m]
            gap = lo / final[m] - 1 if d == "minimize" else final[m] / hi - 1 if hi > 0 else 0.0
            if np.isfinite(gap):
                worst = max(worst, gap)
    return worst
