"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: The zero-cost and fault-injection backends are plug-ins of request_dse.testing; the benchmarks
#: (and the `request-dse` processes they start) use them.
os.environ.setdefault("REQUEST_DSE_PLUGINS", "request_dse.testing.faults,request_dse.testing.noop")


def machine() -> str:
    from request_dse import sysinfo

    return f"{sysinfo.cpu_model()}, {len(sysinfo.usable_cores())} cores, Python {platform.python_version()}"


def union_length(intervals: list[tuple[float, float]]) -> float:
    """Total length covered by possibly overlapping intervals."""
    total, end = 0.0, float("-inf")
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def fresh_env(tmp: Path) -> dict[str, str]:
    """An environment with an empty cache, so nothing is served from earlier runs."""
    env = dict(os.environ)
    env["REQUEST_DSE_CACHE"] = str(tmp / "cache")
    return env


def request_dse(*args: str, env: dict[str, str], cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("request-dse")
    return subprocess.run([str(exe), *args], env=env, cwd=cwd, capture_output=True, text=True)


def tempdir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="request-dse-bench-")


def write_section(path: Path, lines: list[str]) -> str:
    """Write a results section (benchmarks/results/<topic>.md) and print it; returns its text."""
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
    return text
