"""Small functions to run in worker processes when testing the process runner."""

from __future__ import annotations

import os
import sys
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


def sandbox_view(args: tuple[int, tuple[str, ...], tuple[str, ...]]) -> dict[str, Any]:
    """What a worker can do: reach ``port`` on the host's loopback, write to ``paths``, read
    ``secrets``; its limits, capabilities and private temp dir."""
    import resource
    import socket

    port, paths, secrets = args
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        network = True
    except OSError:
        network = False
    writable = []
    for path in paths:
        try:
            with open(os.path.join(path, "written-by-worker"), "w") as f:
                f.write("x")
            writable.append(path)
        except OSError:
            pass
    readable = [p for p in secrets if os.path.exists(p)]
    with open("/proc/self/status") as f:
        caps = next(line.split()[1] for line in f if line.startswith("CapEff:"))
    tmp = os.environ.get("TMPDIR", "/tmp")
    return {"network": network, "writable": writable, "readable": readable, "caps": caps,
            "data_limit": resource.getrlimit(resource.RLIMIT_DATA)[1], "core_limit": resource.getrlimit(resource.RLIMIT_CORE)[1],
            "tmp": sorted(os.listdir(tmp)), "cores": sorted(os.sched_getaffinity(0))}


def allocate(megabytes: int) -> int:
    """Hold ``megabytes`` of memory (touched), then return its size."""
    block = bytearray(megabytes << 20)
    return len(block)


class Forged:
    """A value no caller asked for."""


def forge(_: Any) -> Any:
    return Forged()


def first_look_imports(judge: Any) -> list[str]:
    """Ask ``judge`` once with 64 runs of 50 us and 16 scored rows, as a judging session's first look
    does in a fresh worker, once it has read its held-out split (as every session does); the modules
    that imported (a cost every judging session pays)."""
    import numpy as np

    with np.load(judge.prepared.data_path) as data:
        data["x_eval"]
    before = set(sys.modules)
    labels = np.arange(16) % 10
    judge(np.full(64, 50_000, dtype=np.int64), np.tile(labels[:, None], (1, 5)), np.arange(16),
          probes_ns=np.full(64, 5_000, dtype=np.int64))
    return sorted(set(sys.modules) - before)


_JOBS = 0


def jobs_run(_: Any) -> int:
    """How many jobs this process has run, this one included: 1 in a worker of its own."""
    global _JOBS
    _JOBS += 1
    return _JOBS
