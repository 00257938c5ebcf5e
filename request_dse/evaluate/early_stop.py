"""Measurement-aware early stopping: stop measuring a candidate the front already beats.

With ``measure.early_stop.enabled``, a candidate is judged after one scored session: the
protocol's first session when it has ``repeats`` >= 2 (a survivor then runs only the other
sessions), else a short one of ``first_runs`` timed runs for at least ``first_time_s``. From
its samples every objective gets an interval:

* exact metrics (accuracy, model and artifact size, parameters, FLOPs) are their value;
* latency percentiles get a distribution-free 95% confidence interval of the percentile
  (order statistics); mean-based metrics (mean latency, throughput, estimated energy, cost) a
  95% interval of the mean;
* any other metric is unknown: it could be anything, so it never lets a candidate be stopped.

The candidate stops there (status ``dominated_early``, with its estimate kept) when a point of
the current front -- a frozen snapshot the driver takes when it hands the candidate out -- is
at least as good in every objective as the candidate's *most optimistic* value, and better by
more than ``margin`` (relative) in every noisy one; or when a constraint is violated even by the
optimistic value. Everything else gets the full protocol, so the front is built from full
measurements only; an older snapshot only stops fewer candidates, never a wrong one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from request_dse.evaluate.stats import binom_ppf
from request_dse.expr import MetricConstraint
from request_dse.targets import MeasureResult, host_speed

if TYPE_CHECKING:
    from request_dse.results import TrialResult
    from request_dse.targets import MeasureResult

#: Metrics read off a latency percentile: metric -> percentile.
QUANTILE_METRICS: Mapping[str, float] = {"latency_p50_ms": 0.5, "latency_p90_ms": 0.9, "latency_p99_ms": 0.99,
                                         "latency_per_sample_ms": 0.5}
#: Metrics proportional to the mean latency (+1) or to its inverse (-1).
MEAN_METRICS: Mapping[str, int] = {"latency_mean_ms": 1, "throughput_ips": -1, "energy_mj_per_inference": 1,
                                   "cost_usd_per_1m": 1}
#: Metrics that one scored session determines exactly.
EXACT_METRICS = frozenset({"accuracy_top1", "accuracy_top5", "model_size_bytes", "artifact_size_bytes", "params",
                           "flops"})

STATUS = "dominated_early"


@dataclass(frozen=True)
class FrontPoint:
    number: int                       # the trial that measured it
    values: tuple[float, ...]         # objective values, in the study's objective order
    waiting: bool = False             # a survivor whose other sessions wait: its judging figures, made worse


@dataclass(frozen=True)
class FrontSnapshot:
    """The current Pareto front's objective values, as the driver saw it when the job was made."""
    metrics: tuple[str, ...]
    directions: tuple[str, ...]       # "minimize" | "maximize" per metric
    points: tuple[FrontPoint, ...] = ()
    constraints: tuple[MetricConstraint, ...] = ()
    #: How far one session's estimate can be off (relative), as the study measured it: the gap
    #: between a judging session's estimate and a survivor's final figures that three in four
    #: survivors' gaps do not exceed (or, before any, the widest spread between two sessions). One
    #: session's interval cannot see it, so the margin is at least this.
    session_noise: float = 0.0
    #: How much slower one whole session of a candidate was seen than another (a process in a slow
    #: mode), or a judging session than the final figures: a stop by less than this much beyond
    #: the margin could be a slow session's doing, so a second session must confirm it. None
    #: before any candidate had two sessions: every stop is confirmed.
    slow_session: float | None = None
    #: Held-out rows the study's candidates got wrong most often, most often first: a judging
    #: session scores them first (:mod:`request_dse.targets.scoring`).
    hard: tuple[int, ...] = ()
    #: The fastest host-speed probe the study's judging sessions have timed (ns): the host's fast
    #: speed, at which a judge reads a session's runs (:mod:`request_dse.targets.host_speed`).
    host_probe_ns: float | None = None


def quantile_ci(sorted_ms: np.ndarray, q: float, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the ``q`` quantile (order statistics).

    Ends the sample cannot bound are infinite (few samples, extreme ``q``)."""
    n = len(sorted_ms)
    if n == 0:
        return -math.inf, math.inf
    alpha = (1 - level) / 2
    lo = binom_ppf(alpha, n, q)        # the lo-th smallest (1-based) bounds it from below
    hi = binom_ppf(1 - alpha, n, q) + 1
    low = float(sorted_ms[lo - 1]) if lo >= 1 else -math.inf
    high = float(sorted_ms[hi - 1]) if hi <= n else math.inf
    return low, high


def intervals(estimate: Mapping[str, float], samples_ms: np.ndarray, metrics: Sequence[str],
              bounds: Mapping[str, tuple[float, float]] | None = None) -> dict[str, tuple[float, float]]:
    """A 95% interval for each of ``metrics`` around the short session's ``estimate``; ``bounds``:
    hard bounds of exact metrics known only in part (accuracy on the rows scored so far)."""
    ms = np.sort(np.asarray(samples_ms, dtype=float))
    out: dict[str, tuple[float, float]] = {}
    for m in metrics:
        value = estimate.get(m)
        if bounds and m in bounds:
            out[m] = bounds[m]
        elif value is None or not np.isfinite(value):
            out[m] = (-math.inf, math.inf)
        elif m in EXACT_METRICS:
            out[m] = (value, value)
        elif m in QUANTILE_METRICS and len(ms):
            point = float(np.quantile(ms, QUANTILE_METRICS[m]))
            lo, hi = quantile_ci(ms, QUANTILE_METRICS[m])
            out[m] = (value * lo / point, value * hi / point) if point > 0 else (-math.inf, math.inf)
        elif m in MEAN_METRICS and len(ms) > 1:
            mean = float(ms.mean())
            half = 1.96 * float(ms.std(ddof=1)) / math.sqrt(len(ms))
            lo_r, hi_r = (mean - half) / mean, (mean + half) / mean
            if MEAN_METRICS[m] > 0:
                out[m] = (value * lo_r, value * hi_r)
            else:
                out[m] = (value / hi_r, value / lo_r if lo_r > 0 else math.inf)
        else:
            out[m] = (-math.inf, math.inf)
    return out


def _optimistic(metric: str, direction: str, interval: tuple[float, float]) -> float:
    return interval[0] if direction == "minimize" else interval[1]


def _beats(front_value: float, optimistic: float, direction: str, noisy: bool, margin: float) -> tuple[bool, bool]:
    """(at least as good, strictly better) of a front value against the candidate's optimistic one."""
    if not np.isfinite(optimistic):
        return False, False
    if direction == "minimize":
        bar = optimistic / (1 + margin) if noisy else optimistic
        return front_value <= bar, front_value < optimistic
    bar = optimistic * (1 + margin) if noisy else optimistic
    return front_value >= bar, front_value > optimistic


def verdict(estimate: Mapping[str, float], samples_ms: np.ndarray, front: FrontSnapshot,
            margin: float, known: Mapping[str, tuple[float, float]] | None = None) -> tuple[str | None, float]:
    """Why the candidate cannot enter the front (a sentence, or None when it may), and by how far:
    the factor by which its most optimistic values miss beyond the margin (1.3: a session 30%
    too slow in every noisy objective would explain the stop; inf when exact metrics decide).
    ``margin`` is raised to the front's ``session_noise`` when that is wider; ``known``: hard
    bounds of exact metrics known in part (:func:`intervals`)."""
    margin = max(margin, front.session_noise)
    bounds = intervals(estimate, samples_ms, tuple(dict.fromkeys((*front.metrics,
                                                                  *(c.metric for c in front.constraints)))), known)
    for c in front.constraints:
        lo, hi = bounds[c.metric]
        noisy = c.metric not in EXACT_METRICS
        best = hi if c.op in (">=", ">") else lo   # the candidate's most favourable value
        if not np.isfinite(best):
            continue
        slack = margin * abs(c.bound) if noisy else 0.0
        if c.violation(best) > slack:
            factor = math.inf
            if noisy:
                lower = c.op in (">=", ">")
                edge = c.bound * (1 - margin) if lower else c.bound * (1 + margin)
                factor = (edge / best if lower else best / edge) if best > 0 and edge > 0 else 1.0
            return f"violates {c} even at its most favourable estimate ({best:.4g})", factor
    reason, widest = None, 0.0
    for point in front.points:
        every, strict, factor = True, False, math.inf
        for m, d, fv in zip(front.metrics, front.directions, point.values):
            opt = _optimistic(m, d, bounds[m])
            ok, better = _beats(fv, opt, d, m not in EXACT_METRICS, margin)
            every &= ok
            strict |= better
            if not every:
                break
            if m not in EXACT_METRICS:
                beyond = opt / ((1 + margin) * fv) if d == "minimize" else fv / ((1 + margin) * opt)
                factor = min(factor, beyond if fv > 0 and opt > 0 else 1.0)
        if every and strict and factor > widest:
            parts = []
            for m, d, fv in zip(front.metrics, front.directions, point.values):
                opt = _optimistic(m, d, bounds[m])
                open_ = m not in EXACT_METRICS or (known is not None and m in known and known[m][0] < known[m][1])
                parts.append(f"{m} {fv:.4g} vs {'at best' if open_ else ''} {opt:.4g}".replace("  ", " "))
            whose = " (still waiting for its other sessions: its judging figures, made worse)" if point.waiting else ""
            reason = (f"dominated by trial {point.number}{whose} beyond the {margin:.0%} noise margin after a short "
                      f"measurement: {'; '.join(parts)}")
            widest = factor
    return reason, widest


def decide(estimate: Mapping[str, float], samples_ms: np.ndarray, front: FrontSnapshot, margin: float,
           bounds: Mapping[str, tuple[float, float]] | None = None) -> str | None:
    """Why the candidate cannot enter the front (a sentence), or None when it may (:func:`verdict`)."""
    return verdict(estimate, samples_ms, front, margin, bounds)[0]


def snapshot(metrics: Sequence[str], directions: Sequence[str], front: Sequence[tuple[int, Sequence[float]]],
             constraints: Sequence[MetricConstraint] = (), session_noise: float = 0.0,
             slow_session: float | None = None, waiting: Sequence[tuple[int, Sequence[float]]] = (),
             hard: Sequence[int] = (), host_probe_ns: float | None = None) -> FrontSnapshot:
    """A frozen snapshot from (trial number, objective values) pairs, and ``waiting`` survivors' ones."""
    points = [FrontPoint(int(n), tuple(float(v) for v in values)) for n, values in front]
    points += [FrontPoint(int(n), tuple(float(v) for v in values), waiting=True) for n, values in waiting]
    return FrontSnapshot(tuple(metrics), tuple(directions), tuple(points),
                         tuple(constraints), float(session_noise),
                         None if slow_session is None else float(slow_session), tuple(int(i) for i in hard),
                         None if host_probe_ns is None else float(host_probe_ns))


# -- the trial side (runs where the trial runs; the snapshot arrives in the job) --------------------

def reuses_first(protocol: Any) -> bool:
    """Whether the judging session is the full protocol's first session (``repeats`` >= 2): a
    survivor then runs only the remaining sessions, so judging costs it nothing extra."""
    return protocol.repeats >= 2


def short_request(request: Any, judge: Any = None) -> Any:
    """The judging session, scored, with ``judge`` in it (which may end it after a few runs): the
    protocol's first session (:func:`reuses_first`), else a short one that ends one run after the
    judge's first look (``first_runs`` timed runs and ``first_time_s``)."""
    protocol = dataclasses.replace(request.protocol, repeats=1)
    if not reuses_first(request.protocol):
        early = request.protocol.early_stop
        protocol = dataclasses.replace(protocol, min_runs=min(early.first_runs, protocol.max_runs),
                                       min_time_s=min(early.first_time_s, protocol.max_time_s))
    return dataclasses.replace(request, protocol=protocol, score=True, judge=judge)


def unscored(request: Any, sessions: int, judge: Any = None) -> Any:
    """``sessions`` sessions of the full protocol, unscored (the judging session scored the
    candidate), with ``judge`` in each of them or none."""
    protocol = dataclasses.replace(request.protocol, repeats=sessions)
    return dataclasses.replace(request, protocol=protocol, score=False, judge=judge)


def rest_request(request: Any) -> Any:
    """What a survivor still runs after the judging session, unscored."""
    repeats = request.protocol.repeats
    return unscored(request, repeats - 1 if reuses_first(request.protocol) else repeats)


def wanted(front: FrontSnapshot | None, protocol: Any) -> bool:
    """Whether a short first session can stop anything (early stopping on, and a front or a constraint)."""
    return bool(front is not None and protocol.early_stop.enabled and (front.points or front.constraints))


def stop(estimate: TrialResult, first: MeasureResult, front: FrontSnapshot, margin: float) -> TrialResult | None:
    """The ``dominated_early`` result when the judging session shows the candidate cannot enter the
    front: its judge ended it early, or its samples say so now that it is over."""
    if estimate.status != "ok":
        return None
    samples = np.concatenate([s.samples_ns for s in first.sessions]) / 1e6
    judged = first.sessions[0].judged if first.sessions else None
    reason = judged or decide(estimate.metrics, samples, front, margin)
    if reason is None:
        return None
    return dataclasses.replace(estimate, status=STATUS, error=reason,
                               info={**estimate.info, "early_stop": {"first_runs": int(len(samples)),
                                                                     "margin": max(margin, front.session_noise),
                                                                     "in_session": judged is not None}})


def steady(measured: MeasureResult, front: FrontSnapshot) -> MeasureResult:
    """The judging session(s) as its judge read them: each run at the host's fast speed, where the
    session timed the host-speed probe (:func:`request_dse.targets.host_speed.steady`). Early
    stopping's decisions and a stopped candidate's estimate use this; a survivor's result uses the
    runs as timed."""
    sessions = tuple(dataclasses.replace(s, samples_ns=host_speed.steady(s.samples_ns, s.probes_ns,
                                                                          front.host_probe_ns))
                     if s.probes_ns is not None else s for s in measured.sessions)
    return dataclasses.replace(measured, sessions=sessions)


def fastest_probe(measured: MeasureResult) -> float | None:
    """The fastest host-speed probe the measurement's judging sessions timed (ns), if any."""
    probes = [float(np.min(s.probes_ns)) for s in measured.sessions if s.probes_ns is not None and len(s.probes_ns)]
    return min(probes) if probes else None


def combine(first: MeasureResult, rest: MeasureResult, reused: bool) -> MeasureResult:
    """The full protocol's sessions, and both measurements' wall time: the judging session and the
    rest when the judging session was the protocol's first (``reused``); else the rest's sessions,
    the first carrying the judging session's outputs (it scored the candidate)."""
    wall = first.wall_s + rest.wall_s
    if rest.status != "ok" or not rest.sessions:
        return dataclasses.replace(rest, wall_s=wall)
    if reused:
        return MeasureResult("ok", (*first.sessions, *rest.sessions), "", wall)
    scored = first.sessions[0]
    if scored.scored is not None and rest.sessions[0].top5 is not None:  # the rest scored the split again
        return MeasureResult("ok", rest.sessions, "", wall)
    head = dataclasses.replace(rest.sessions[0], check_outputs=scored.check_outputs, top5=scored.top5,
                               scored=scored.scored)
    return MeasureResult("ok", (head, *rest.sessions[1:]), "", wall)
