"""Repeatable measurements: runs timed while the host was in a slow spell are set aside, not averaged in.

On a shared (cloud) machine the same artifact runs much slower for spells of a fraction of a second
to a few seconds (here 1.3x to 1.8x, about half the time on a two-core virtual machine): the host,
not the process, changes state, so a session's figures depend on when it ran. Each session's runs
are therefore cut into **windows** of consecutive runs (at least ``WINDOW_S`` and ``WINDOW_RUNS``
each, at most ``MAX_WINDOWS`` per session), and the windows of all sessions are compared:

* two windows *agree* when either's median lies inside the other's 95% confidence interval of the
  median (order statistics), widened by ``session_tolerance`` (relative);
* the kept windows are the fastest group that all agree with each other and come from at least
  two sessions (interference only ever adds time; one session alone could be one process's luck);
* a session none of whose windows is kept is set aside; new sessions are measured until
  ``repeats`` sessions hold kept windows and no faster window is left unconfirmed, or until
  ``max_extra_sessions`` more have been measured; with ``settle_span_s``, also until the sessions
  span that much wall time, so that they sample the host's states, not one spell.

The figures are then those of the kept windows. What was set aside, and why, is reported in the
trial's ``info["sessions"]``; with one session there is nothing to compare and nothing happens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from request_dse.evaluate.stats import median_ci
from request_dse.targets import MeasureResult, SessionResult

#: A window holds at least this much time and this many runs; a session holds at most MAX_WINDOWS.
WINDOW_S = 0.02
WINDOW_RUNS = 32
MAX_WINDOWS = 16


@dataclasses.dataclass(frozen=True)
class Window:
    """Runs ``start:stop`` of session ``session``, with their (median, CI low, CI high) in ms."""

    session: int
    start: int
    stop: int
    stats: tuple[float, float, float]


def _interval(samples_ns: np.ndarray) -> tuple[float, float, float]:
    """(median, CI low, CI high) of samples, in ms."""
    ms = np.sort(samples_ns) / 1e6
    lo, hi = median_ci(ms)
    return float(np.median(ms)), lo, hi


def agree(a: tuple[float, float, float], b: tuple[float, float, float], tolerance: float) -> bool:
    """Whether either median lies inside the other's interval widened by ``tolerance``."""
    return (b[1] * (1 - tolerance) <= a[0] <= b[2] * (1 + tolerance)
            or a[1] * (1 - tolerance) <= b[0] <= a[2] * (1 + tolerance))


def windows(sessions: Sequence[SessionResult]) -> list[Window]:
    """Every session's runs cut into windows of consecutive runs (a short session is one window)."""
    out = []
    for i, s in enumerate(sessions):
        n = len(s.samples_ns)
        count = max(1, min(int(float(np.sum(s.samples_ns)) / 1e9 // WINDOW_S), n // WINDOW_RUNS, MAX_WINDOWS))
        bounds = np.linspace(0, n, count + 1).astype(int)
        out += [Window(i, int(a), int(b), _interval(s.samples_ns[a:b])) for a, b in zip(bounds, bounds[1:])]
    return out


def steady(wins: Sequence[Window], tolerance: float, sessions: int) -> list[int]:
    """Indices of the fastest group of windows that all agree and span at least two sessions (or
    the one there is): from the fastest window, every window (fastest first) that agrees with the
    whole group so far. Empty when no such group exists."""
    order = sorted(range(len(wins)), key=lambda i: wins[i].stats[0])
    agrees = np.array([[agree(wins[i].stats, wins[j].stats, tolerance) for j in range(len(wins))]
                       for i in range(len(wins))], dtype=bool)
    for first in order:
        group = [first]
        for j in order:
            if j != first and agrees[j, group].all():
                group.append(j)
        if len({wins[k].session for k in group}) >= min(2, sessions):
            return sorted(group)
    return []


def consensus(sessions: Sequence[SessionResult], tolerance: float) -> list[int]:
    """Indices of the sessions that hold a window of the steady group (empty: none agree)."""
    wins = windows(sessions)
    return sorted({wins[k].session for k in steady(wins, tolerance, len(sessions))})


def _unconfirmed(wins: Sequence[Window], group: Sequence[int], tolerance: float) -> bool:
    """Whether a window faster than the kept ones disagrees with them (one session saw a faster state)."""
    fastest = min(range(len(wins)), key=lambda i: wins[i].stats[0])
    return fastest not in group and not agree(wins[fastest].stats, wins[group[0]].stats, tolerance)


def _why(session: SessionResult, kept: Sequence[SessionResult], tolerance: float) -> str:
    median, _, _ = _interval(session.samples_ns)
    stats = [_interval(s.samples_ns) for s in kept]
    ratio = median / float(np.median([m for m, _, _ in stats]))
    return (f"median {median * 1e3:.4g} us lies outside the kept sessions' intervals "
            f"[{min(lo for _, lo, _ in stats) * 1e3:.4g}, {max(hi for _, _, hi in stats) * 1e3:.4g}] us widened "
            f"by {tolerance:.0%} ({ratio:.2f}x their median{': a slow mode' if ratio > 1 else ''})")


def _carry_scoring(kept: list[SessionResult], scored: SessionResult) -> list[SessionResult]:
    """The first kept session carries what only the scored (first) session produced."""
    if kept[0] is scored:
        return kept
    extra = {k: v for k, v in (scored.loadgen or {}).items() if k in ("accuracy", "compliance", "scored_dir")}
    loadgen = {**(kept[0].loadgen or {}), **extra} if (kept[0].loadgen or extra) else None
    head = dataclasses.replace(kept[0], check_outputs=scored.check_outputs, top5=scored.top5, loadgen=loadgen)
    return [head, *kept[1:]]


def _trimmed(sessions: Sequence[SessionResult], wins: Sequence[Window], group: Sequence[int]) -> list[SessionResult]:
    """The sessions that hold kept windows, each with the runs of those windows only."""
    out = []
    for i, s in enumerate(sessions):
        mine = [wins[k] for k in group if wins[k].session == i]
        if len(mine) == sum(w.session == i for w in wins):
            out.append(s)
        elif mine:
            out.append(dataclasses.replace(s, samples_ns=np.concatenate([s.samples_ns[w.start:w.stop] for w in mine])))
    return out


def settle(measured: MeasureResult, repeats: int, tolerance: float, max_extra: int,
           more: Callable[[int], MeasureResult], span_s: float = 0.0) -> tuple[MeasureResult, dict[str, Any] | None]:
    """The sessions to score, trimmed to their steady windows, measuring new ones (``more(n)``) in
    place of those set aside and until they span ``span_s`` of wall time; and the report of what
    was measured and set aside (None when the first sessions all agreed and sufficed)."""
    if measured.status != "ok" or len(measured.sessions) < 2:
        return measured, None
    sessions, wall, extra = list(measured.sessions), measured.wall_s, 0
    while True:
        wins = windows(sessions)
        group = steady(wins, tolerance, len(sessions))
        kept = sorted({wins[k].session for k in group})
        spanned = wall >= span_s
        if (len(group) == len(wins) and spanned) or extra >= max_extra:
            break
        if len(kept) >= repeats and spanned and not _unconfirmed(wins, group, tolerance):
            break
        n = min(max(repeats - len(kept), 1) if kept else 1, max_extra - extra)
        fresh = more(n)
        wall += fresh.wall_s
        extra += n
        if fresh.status != "ok":
            break
        sessions += fresh.sessions
    if len(group) == len(wins) and not extra:
        return measured, None
    settled = bool(group)
    if not settled:  # no two sessions agree: nothing tells which is right, so every run is kept
        group = list(range(len(wins)))
    chosen = _trimmed(sessions, wins, group)
    runs = sum(len(s.samples_ns) for s in sessions)
    timed_ns = sum(int(np.sum(s.samples_ns)) for s in sessions) - sum(int(np.sum(s.samples_ns)) for s in chosen)
    report = {"measured": len(sessions), "kept": len(chosen), "extra": extra, "settled": settled,
              "span_s": round(wall, 3),
              "discarded": [{"session": i, "why": _why(s, chosen, tolerance)}
                            for i, s in enumerate(sessions) if settled and i not in kept],
              "windows": {"measured": len(wins), "kept": len(group),
                          "runs_set_aside": runs - sum(len(s.samples_ns) for s in chosen),
                          "seconds_set_aside": round(timed_ns / 1e9, 6)}}
    return MeasureResult("ok", tuple(_carry_scoring(chosen, sessions[0])), "", wall), report
