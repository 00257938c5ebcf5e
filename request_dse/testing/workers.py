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
