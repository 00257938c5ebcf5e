"""One measurement session on a device of this host, in a fresh worker process.

:func:`run_session`: load the built artifact; if asked, run the check inputs and the held-out
split (for the reference check and accuracy); then ``warmup_runs`` untimed runs, then timed
runs of one batch until both ``min_runs`` and ``min_time_s`` are reached (or ``max_runs`` /
``max_time_s``). A judging session (early stopping) scores the held-out split at its judge's
first look instead, asking the judge as it goes (:mod:`.scoring`); that time is not run time.
A candidate is measured in ``repeats`` sessions, each in its own process, because a process
can land in a slow mode that no number of runs inside it reveals.
"""

from __future__ import annotations

import dataclasses
import resource
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from request_dse.backends import get_backend
from request_dse.sysinfo.energy import counter as energy_counter
from request_dse.targets import host_speed
from request_dse.targets._base import SessionRequest, SessionResult
from request_dse.targets.scoring import batches, infer, score_judged, top_classes

__all__ = ["Loaded", "finish", "infer", "load_and_score", "run_session", "time_runs"]


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


@dataclass
class Loaded:
    """A session's loaded artifact, its held-out split and, when scored, its outputs."""

    session: Any
    load_time_s: float
    rss_before_mb: float
    started: float
    x_eval: np.ndarray
    check_outputs: np.ndarray | None = None
    top5: np.ndarray | None = None
    pending: bool = False                # the held-out split is scored at the judge's first look
    scored: np.ndarray | None = None     # the rows top5 holds, where the judge ended the scoring
    probes: np.ndarray | None = None     # a judging session's host-speed probe before each timed run


def load_and_score(request: SessionRequest) -> Loaded:
    """Load the artifact; when the request scores, run the check inputs and the held-out split
    (with a judge, the split waits for its first look: :func:`.scoring.score_judged`)."""
    started = time.perf_counter()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    session = get_backend(request.backend).load(request.artifact_dir, request.threads, request.device)
    loaded = Loaded(session, time.perf_counter() - t0, rss_before, started, np.empty(0))
    with np.load(request.prepared.data_path) as data:
        loaded.x_eval, x_check = data["x_eval"], data["x_check"]
    if request.score:
        loaded.check_outputs = infer(session, x_check, request.batch_size)
        if request.judge is not None:
            loaded.pending = True
        else:
            loaded.top5 = top_classes(infer(session, loaded.x_eval, request.batch_size))
    return loaded


def time_runs(loaded: Loaded, request: SessionRequest) -> tuple[np.ndarray, float | None, str | None]:
    """The request-dse protocol on one batch: its samples (ns), the energy per batch where read, and
    why the request's judge ended the runs early, if it did: it looks once ``first_runs`` runs and
    ``first_time_s`` of run time are timed, then at every doubling of the runs (:func:`.judge_looks`),
    and a session with a judge ends no sooner than one run after its first look (a short judging
    session's ``min_runs`` and ``min_time_s`` are the look's own).
    A judging session warms up for ``first_time_s`` more after its ``warmup_runs``: its scoring comes
    at the first look, not before the runs, so nothing else has warmed the model, and a model that
    runs in microseconds was seen 1.4 to 2.7 times slower over its first few milliseconds of runs.
    A judging session also times the host-speed probe before its first timed run and after every
    :data:`.host_speed.EVERY_NS` of runs (each probe followed by one untimed run; neither is run
    time), kept per timed run in ``loaded.probes``: its judge reads the runs at the host's fast
    speed (:func:`.host_speed.steady`)."""
    session = loaded.session
    placed = session.place(batches(loaded.x_eval, request.batch_size)[0][0])
    protocol = request.protocol
    for _ in range(protocol.warmup_runs):
        session.run(placed)
    if request.judge is not None:  # its judge looks after first_time_s of runs: they must not be the cold ones
        warm_until = time.perf_counter_ns() + request.judge.first_time_s * 1e9
        while time.perf_counter_ns() < warm_until:
            session.run(placed)
    samples: list[int] = []
    read_energy = energy_counter(request.device) or (lambda: None)
    energy_start = read_energy()
    loop_start = time.perf_counter_ns()
    min_ns, max_ns = protocol.min_time_s * 1e9, protocol.max_time_s * 1e9
    clock, run = time.perf_counter_ns, session.run
    judge, judged = request.judge, None
    look = judge.first_runs if judge is not None else 0
    first_look = look if judge is not None else -1  # ``look`` moves on at each look
    first_ns = judge.first_time_s * 1e9 if judge is not None else 0.0
    timed = 0
    probes: list[int] = []
    probe, since = (host_speed.probe_ns(), 0) if judge is not None else (0, 0)
    while True:
        if judge is not None and since >= host_speed.EVERY_NS:  # not run time
            paused, energy_paused = clock(), read_energy()
            probe, since = host_speed.probe_ns(), 0
            run(placed)  # untimed: the probe's footprint is not in a timed run
            loop_start += clock() - paused
            energy_start = _less(energy_start, energy_paused, read_energy())
        t = clock()
        run(placed)
        end = clock()
        samples.append(end - t)
        probes.append(probe)
        timed += end - t
        since += end - t
        elapsed = end - loop_start
        n = len(samples)
        if n >= protocol.max_runs or elapsed >= max_ns:
            break
        if n >= protocol.min_runs and elapsed >= min_ns and look != first_look:  # a judge looks once, at least
            break
        if judge is not None and n >= look and timed >= first_ns:  # between timed runs: the look is not timed
            if loaded.pending:  # the held-out split, scored now, judged as it goes; not run time
                paused, energy_paused = clock(), read_energy()
                judged = score_judged(loaded, request, np.asarray(samples, dtype=np.int64),
                                      np.asarray(probes, dtype=np.int64))
                loop_start += clock() - paused
                energy_start = _less(energy_start, energy_paused, read_energy())
            judged = judged or judge(np.asarray(samples, dtype=np.int64), loaded.top5,
                                     probes_ns=np.asarray(probes, dtype=np.int64))
            if judged is not None:
                break
            look, first_ns = 2 * n, 0.0
    energy_end = read_energy()
    if loaded.pending:  # the runs ended before the judge's first look (after the energy read: not run energy)
        score_judged(loaded, dataclasses.replace(request, judge=None), np.asarray(samples, dtype=np.int64))
    if judge is not None:
        loaded.probes = np.asarray(probes, dtype=np.int64)
    energy = None
    if energy_start is not None and energy_end is not None and energy_end >= energy_start:
        energy = (energy_end - energy_start) / len(samples)
    return np.asarray(samples, dtype=np.int64), energy, judged


def _less(start: float | None, paused: float | None, resumed: float | None) -> float | None:
    """The energy counter's start moved on by what a pause of the timed runs used."""
    if start is None or paused is None or resumed is None or resumed < paused:
        return start
    return start + (resumed - paused)


def finish(loaded: Loaded, samples: np.ndarray, energy: float | None = None,
           loadgen: Any = None, judged: str | None = None) -> SessionResult:
    """Close the session and make its result (peak memory, wall time)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    loaded.session.close()
    return SessionResult(samples, loaded.load_time_s, max(0.0, peak - loaded.rss_before_mb),
                         time.perf_counter() - loaded.started, loaded.check_outputs, loaded.top5, energy, loadgen,
                         judged, loaded.scored, loaded.probes)


def run_session(request: SessionRequest) -> SessionResult:
    """One measurement session of the request-dse protocol (runs in a worker process)."""
    loaded = load_and_score(request)
    samples, energy, judged = time_runs(loaded, request)
    return finish(loaded, samples, energy, judged=judged)
