"""Small functions to run in worker processes when testing the process runner."""

from __future__ import annotations

import os
import time
from typing import Any


def environment(names: tuple[str, ...]) -> dict[str, Any]:
    """The worker's view of itself: chosen environment variables, cores, process group."""
    return {"env": {n: os.environ.get(n) for n in names}, "cores": sorted(os.sched_getaffinity(0)),
            "pgid_is_pid": os.getpgid(0) == os.getpid(), "pid": os.getpid()}


def busy(seconds: float) -> float:
    """Spin on the CPU for ``seconds`` of wall time; returns the CPU time used."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass
    return time.process_time()


def unpicklable(_: Any) -> Any:
    return lambda: None


def chatty(lines: int) -> int:
    for i in range(lines):
        print(f"line {i}", flush=True)
    raise ValueError("after printing")
