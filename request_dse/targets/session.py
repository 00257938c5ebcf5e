"""One measurement session on a device of this host, in a fresh worker process.

:func:`run_session`: load the built artifact; if asked, run the check inputs and the held-out
split (for the reference check and accuracy); then ``warmup_runs`` untimed runs, then timed
runs of one batch until both ``min_runs`` and ``min_time_s`` are reached (or ``max_runs`` /
``max_time_s``). A candidate is measured in ``repeats`` sessions, each in its own process,
because a process can land in a slow mode that no number of runs inside it reveals.
"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np

from request_dse.backends import get_backend
from request_dse.sysinfo.energy import counter as energy_counter
from request_dse.targets._base import SessionRequest, SessionResult


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def _batches(x: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, int]]:
    """Fixed-size batches (the last one padded with zeros) and how many rows of each are real."""
    out = []
    for i in range(0, len(x), batch_size):
        chunk = x[i:i + batch_size]
        real = len(chunk)
        if real < batch_size:
            chunk = np.concatenate([chunk, np.zeros((batch_size - real, *x.shape[1:]), x.dtype)])
        out.append((np.ascontiguousarray(chunk), real))
    return out


def infer(session: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [session.fetch(session.run(session.place(b)))[:real] for b, real in _batches(x, batch_size)]
    return np.concatenate(parts)


def run_session(request: SessionRequest) -> SessionResult:
    """One measurement session (runs in a worker process)."""
    started = time.perf_counter()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    session = get_backend(request.backend).load(request.artifact_dir, request.threads, request.device)
    load_time = time.perf_counter() - t0
    with np.load(request.prepared.data_path) as data:
        x_eval, x_check = data["x_eval"], data["x_check"]
    check_outputs = top5 = None
    if request.score:
        check_outputs = infer(session, x_check, request.batch_size)
        logits = infer(session, x_eval, request.batch_size)
        k = min(5, logits.shape[1]) if logits.ndim == 2 else 1
        top5 = np.argsort(-logits.reshape(len(logits), -1), axis=1, kind="stable")[:, :k]
    placed = session.place(_batches(x_eval, request.batch_size)[0][0])
    protocol = request.protocol
    for _ in range(protocol.warmup_runs):
        session.run(placed)
    samples: list[int] = []
    read_energy = energy_counter(request.device) or (lambda: None)
    energy_start = read_energy()
    loop_start = time.perf_counter_ns()
    min_ns, max_ns = protocol.min_time_s * 1e9, protocol.max_time_s * 1e9
    clock, run = time.perf_counter_ns, session.run
    while True:
        t = clock()
        run(placed)
        end = clock()
        samples.append(end - t)
        elapsed = end - loop_start
        n = len(samples)
        if (n >= protocol.min_runs and elapsed >= min_ns) or n >= protocol.max_runs or elapsed >= max_ns:
            break
    energy_end = read_energy()
    energy = None
    if energy_start is not None and energy_end is not None and energy_end >= energy_start:
        energy = (energy_end - energy_start) / len(samples)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    session.close()
    return SessionResult(np.asarray(samples, dtype=np.int64), load_time, max(0.0, peak - rss_before),
                         time.perf_counter() - started, check_outputs, top5, energy)
