"""The measurement protocol, and the statistics of what it measured.

One *session* (:func:`run_session`, in a fresh worker process): load the built artifact; if
asked, run the check inputs and the held-out split (for the reference check and accuracy);
then ``warmup_runs`` untimed runs, then timed runs of one batch until both ``min_runs`` and
``min_time_s`` are reached (or ``max_runs`` / ``max_time_s``). A candidate is measured in
``repeats`` sessions, each in its own process, because a process can land in a slow mode that
no number of runs inside it reveals.

:func:`latency_stats` pools the sessions: p50/p90/p99, mean, standard deviation, coefficient
of variation, throughput, and a distribution-free 95% confidence interval of the median
(order statistics), widened to cover the spread of the per-session medians.
"""

from __future__ import annotations

import math
import resource
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from request_dse.energy import counter as energy_counter
from request_dse.records import SessionRequest, SessionResult


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


def _infer(session, x: np.ndarray, batch_size: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    parts = [session.fetch(session.run(session.place(b)))[:real] for b, real in _batches(x, batch_size)]
    return np.concatenate(parts)


def run_session(request: SessionRequest) -> SessionResult:
    """One measurement session (runs in a worker process)."""
    from request_dse.backends import get_backend

    started = time.perf_counter()
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    session = get_backend(request.backend).load(request.artifact_dir, request.threads, request.device)
    load_time = time.perf_counter() - t0
    with np.load(request.prepared.data_path) as data:
        x_eval, x_check = data["x_eval"], data["x_check"]
    check_outputs = top5 = None
    if request.score:
        check_outputs = _infer(session, x_check, request.batch_size)
        logits = _infer(session, x_eval, request.batch_size)
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


def median_ci(sorted_ms: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Distribution-free confidence interval of the median from order statistics."""
    from scipy.stats import binom

    n = len(sorted_ms)
    if n < 6:
        return float(sorted_ms[0]), float(sorted_ms[-1])
    alpha = (1 - level) / 2
    lo = int(binom.ppf(alpha, n, 0.5))
    hi = int(binom.ppf(1 - alpha, n, 0.5))
    return float(sorted_ms[max(lo - 1, 0)]), float(sorted_ms[min(hi, n - 1)])


def nearest_rank(sorted_ms: np.ndarray, p: float) -> float:
    """The smallest sample at or above fraction ``p`` of all samples (nearest-rank percentile)."""
    n = len(sorted_ms)
    return float(sorted_ms[min(n - 1, max(0, math.ceil(p * n) - 1))])


def latency_stats(sessions: Sequence[SessionResult], batch_size: int) -> dict[str, float]:
    """Latency metrics of one candidate over all its sessions (milliseconds per batch).

    p90 and p99 are nearest-rank percentiles (a sample that was actually observed); p50 is
    the interpolated median."""
    per_session = [s.samples_ns / 1e6 for s in sessions]
    ms = np.sort(np.concatenate(per_session))
    mean = float(ms.mean())
    std = float(ms.std(ddof=1)) if len(ms) > 1 else 0.0
    lo, hi = median_ci(ms)
    medians = [float(np.median(s)) for s in per_session]
    p50 = float(np.percentile(ms, 50))
    return {
        "latency_p50_ms": p50,
        "latency_p90_ms": nearest_rank(ms, 0.90),
        "latency_p99_ms": nearest_rank(ms, 0.99),
        "latency_mean_ms": mean,
        "latency_std_ms": std,
        "latency_cv": std / mean if mean > 0 else 0.0,
        "latency_p50_ci_low_ms": min(lo, *medians),
        "latency_p50_ci_high_ms": max(hi, *medians),
        "latency_per_sample_ms": p50 / batch_size,
        "throughput_ips": batch_size / (mean / 1e3) if mean > 0 else 0.0,
        "samples": float(len(ms)),
    }


def session_spread(sessions: Sequence[SessionResult]) -> float | None:
    """How far apart a candidate's sessions landed: the slowest session's p90 over the fastest's,
    minus one (0.3: 30% apart); None with fewer than two sessions."""
    p90s = [nearest_rank(np.sort(s.samples_ns), 0.90) for s in sessions if len(s.samples_ns)]
    if len(p90s) < 2 or min(p90s) <= 0:
        return None
    return float(max(p90s) / min(p90s) - 1.0)


def save_samples(path: Path, sessions: Sequence[SessionResult]) -> Path:
    """Raw samples (ns), one array per session: ``session_0``, ``session_1``, ..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **{f"session_{i}": s.samples_ns for i, s in enumerate(sessions)})
    return path


def load_samples(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
