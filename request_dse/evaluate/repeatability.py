"""Repeatable measurements: a session that landed in a slow mode is measured again, not averaged in.

A fresh process sometimes runs the same artifact much slower than the others (here up to 1.9x, in
about one process of six) for the whole of its life: no number of runs inside it reveals that.
Two sessions *agree* when either's median lies inside the other's 95% confidence interval of the
median (order statistics), widened by ``session_tolerance`` (relative). The kept sessions are the
fastest group of at least two that all agree with each other (interference only ever adds time);
a session outside it is set aside, and new sessions are measured until ``repeats`` of them agree
or ``max_extra_sessions`` more have been measured. What was set aside, and why, is reported in
the trial's ``info["sessions"]``; with one session there is nothing to compare and nothing happens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from request_dse.evaluate.stats import median_ci
from request_dse.targets import MeasureResult, SessionResult


def _interval(session: SessionResult) -> tuple[float, float, float]:
    """(median, CI low, CI high) of a session's samples, in ms."""
    ms = np.sort(session.samples_ns) / 1e6
    lo, hi = median_ci(ms)
    return float(np.median(ms)), lo, hi


def agree(a: tuple[float, float, float], b: tuple[float, float, float], tolerance: float) -> bool:
    """Whether either median lies inside the other's interval widened by ``tolerance``."""
    return (b[1] * (1 - tolerance) <= a[0] <= b[2] * (1 + tolerance)
            or a[1] * (1 - tolerance) <= b[0] <= a[2] * (1 + tolerance))


def consensus(sessions: Sequence[SessionResult], tolerance: float) -> list[int]:
    """Indices of the fastest group of at least two sessions that all agree: from the fastest
    session that agrees with another, every session (fastest first) that agrees with the whole
    group so far. Empty when no two sessions agree."""
    stats = [_interval(s) for s in sessions]
    order = sorted(range(len(sessions)), key=lambda i: stats[i][0])
    for first in order:
        group = [first]
        for j in order:
            if j != first and all(agree(stats[j], stats[k], tolerance) for k in group):
                group.append(j)
        if len(group) >= 2:
            return sorted(group)
    return []


def _why(session: SessionResult, kept: Sequence[SessionResult], tolerance: float) -> str:
    median, _, _ = _interval(session)
    lows, highs = zip(*[(_interval(s)[1], _interval(s)[2]) for s in kept], strict=True)
    ratio = median / float(np.median([_interval(s)[0] for s in kept]))
    return (f"median {median * 1e3:.4g} us lies outside the kept sessions' intervals "
            f"[{min(lows) * 1e3:.4g}, {max(highs) * 1e3:.4g}] us widened by {tolerance:.0%} "
            f"({ratio:.2f}x their median{': a slow mode' if ratio > 1 else ''})")


def _carry_scoring(kept: list[SessionResult], scored: SessionResult) -> list[SessionResult]:
    """The first kept session carries what only the scored (first) session produced."""
    if kept[0] is scored:
        return kept
    extra = {k: v for k, v in (scored.loadgen or {}).items() if k in ("accuracy", "compliance", "scored_dir")}
    loadgen = {**(kept[0].loadgen or {}), **extra} if (kept[0].loadgen or extra) else None
    head = dataclasses.replace(kept[0], check_outputs=scored.check_outputs, top5=scored.top5, loadgen=loadgen)
    return [head, *kept[1:]]


def settle(measured: MeasureResult, repeats: int, tolerance: float, max_extra: int,
           more: Callable[[int], MeasureResult]) -> tuple[MeasureResult, dict[str, Any] | None]:
    """The sessions to score, measuring new ones (``more(n)``) in place of those set aside; and the
    report of what was set aside (None when every session agreed the first time)."""
    if measured.status != "ok" or len(measured.sessions) < 2:
        return measured, None
    sessions, wall, extra = list(measured.sessions), measured.wall_s, 0
    while True:
        kept = consensus(sessions, tolerance)
        if len(kept) == len(sessions) or len(kept) >= repeats or extra >= max_extra:
            break
        n = min(repeats - len(kept) if kept else 1, max_extra - extra)
        fresh = more(n)
        wall += fresh.wall_s
        extra += n
        if fresh.status != "ok":
            break
        sessions += fresh.sessions
    if len(kept) == len(sessions):
        return dataclasses.replace(measured, sessions=tuple(sessions), wall_s=wall), None
    settled = bool(kept)
    if not settled:  # no two sessions agree: nothing tells which is right, so every one is kept
        kept = list(range(len(sessions)))
    chosen = [sessions[i] for i in kept]
    report = {"measured": len(sessions), "kept": len(chosen), "extra": extra, "settled": settled,
              "discarded": [{"session": i, "why": _why(s, chosen, tolerance)}
                            for i, s in enumerate(sessions) if i not in kept]}
    return MeasureResult("ok", tuple(_carry_scoring(chosen, sessions[0])), "", wall), report
