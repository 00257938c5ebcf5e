"""The Server scenario's result: the highest QPS whose run meets the p99 latency bound.

A bisection on the offered QPS, bounded in time: runs at the starting QPS, doubles it while runs
stay valid (halves it while they do not), then bisects between the best valid and the lowest
invalid QPS until they are within ``precision`` of each other or ``budget_s`` would be exceeded.
Every run is kept in ``search/qps_<QPS>/``; the best valid one is the session's result.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from request_dse.targets.loadgen.harness import Run
from request_dse.targets.loadgen.settings import RunSettings

#: Stop bisecting when the lowest invalid QPS is within this fraction of the highest valid one.
PRECISION = 0.05
#: Give up below this QPS (no load the candidate can serve within the bound).
MIN_QPS = 1.0


def search(run: Callable[[RunSettings, Path], Run], settings: RunSettings, folder: Path,
           budget_s: float, precision: float = PRECISION) -> tuple[Run | None, list[dict[str, float]]]:
    """(the best valid run or None, every run's QPS, validity and wall time)."""
    started = time.perf_counter()
    best: Run | None = None
    low_invalid: float | None = None
    qps = settings.target_qps
    tried: list[dict[str, float]] = []
    longest = 0.0
    while qps >= MIN_QPS:
        elapsed = time.perf_counter() - started
        if tried and elapsed + longest > budget_s:
            break
        result = run(settings.at(target_qps=qps), folder / f"qps_{qps:.6g}")
        longest = max(longest, result.wall_s)
        tried.append({"qps": qps, "valid": float(result.valid), "wall_s": round(result.wall_s, 3),
                      "completed_qps": result.figures.get("server_qps", 0.0)})
        if result.valid:
            best = result if best is None or qps > best.settings.target_qps else best
        else:
            low_invalid = qps if low_invalid is None else min(low_invalid, qps)
        if best is not None and low_invalid is not None:
            if low_invalid / best.settings.target_qps - 1 <= precision:
                break
            qps = (best.settings.target_qps + low_invalid) / 2
        elif best is not None:
            qps *= 2
        else:
            qps /= 2
    return best, tried
